"""Leases with fencing tokens, the keeper that shares drone links out, and the recovery of calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from cad_bridge import CadCall
from dfr.cad_ingest import store_calls
from dfr.cluster.keeper import DroneLinks, HeldLeases, LinkKeeper
from dfr.cluster.leases import OUTBOX_RESOURCE, LeaseStore, drone_resource
from dfr.cluster.recovery import claim_orphaned_calls
from dfr.models import Lease
from flight import Fence, NotLinkHolderError
from geofence import GeoPoint

pytestmark = pytest.mark.databases

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TTL_S = 3.0


def test_a_lease_is_held_by_one_instance_and_taken_over_only_after_it_expires(
    engine: Engine,
) -> None:
    a, b = LeaseStore(engine, "a", TTL_S), LeaseStore(engine, "b", TTL_S)
    resource = drone_resource("D1")
    assert a.acquire(resource, T0) == 1
    assert b.acquire(resource, T0 + timedelta(seconds=1)) is None
    assert a.renew({resource: 1}, T0 + timedelta(seconds=2)) == {resource: 1}
    assert b.acquire(resource, T0 + timedelta(seconds=4)) is None  # renewed until T0 + 5 s

    later = T0 + timedelta(seconds=5.5)
    assert b.acquire(resource, later) == 2
    assert b.holder_of(resource, later) == "b"
    [row] = b.leases(resource)
    assert (row.holder, row.token, row.takeovers) == ("b", 2, 1)
    # The old holder, paused past its expiry, is fenced: its token no longer matches.
    assert not a.holds(resource, 1, later)
    assert a.renew({resource: 1}, later) == {}
    assert b.holds(resource, 2, later)


def test_a_restarted_instance_lets_its_previous_runs_leases_go_and_bumps_the_token(
    engine: Engine,
) -> None:
    first = LeaseStore(engine, "a", TTL_S)
    assert first.acquire(OUTBOX_RESOURCE, T0) == 1
    again = LeaseStore(engine, "a", TTL_S)
    again.started(T0 + timedelta(seconds=1), "nats")
    assert again.acquire(OUTBOX_RESOURCE, T0 + timedelta(seconds=1)) == 2
    assert not first.holds(OUTBOX_RESOURCE, 1, T0 + timedelta(seconds=1))


def test_a_clean_stop_releases_every_lease_and_marks_the_instance_stopped(
    engine: Engine,
) -> None:
    a, b = LeaseStore(engine, "a", TTL_S), LeaseStore(engine, "b", TTL_S)
    a.heartbeat(T0, "nats")
    a.acquire(drone_resource("D1"), T0)
    a.stopped(T0 + timedelta(seconds=1))
    assert a.live_instances(T0 + timedelta(seconds=1)) == []
    assert b.acquire(drone_resource("D1"), T0 + timedelta(seconds=1)) == 2


class _Links:
    """Records what a keeper opens and closes."""

    def __init__(self, drone_ids: list[str]) -> None:
        self.drone_ids = drone_ids
        self.open: dict[str, Fence] = {}

    def links(self) -> DroneLinks:
        async def open_link(drone_id: str, fence: Fence) -> None:
            self.open[drone_id] = fence

        async def close_link(drone_id: str) -> None:
            self.open.pop(drone_id, None)

        return DroneLinks(
            drone_ids=lambda: self.drone_ids,
            busy=lambda _: False,
            open_link=open_link,
            close_link=close_link,
        )


def _keeper(engine: Engine, name: str, links: _Links, ttl_s: float) -> LinkKeeper:
    return LinkKeeper(
        store=LeaseStore(engine, name, ttl_s),
        held=HeldLeases(),
        links=links.links(),
        renew_interval_s=ttl_s / 3,
        bus_kind="nats",
    )


async def test_keepers_share_the_drones_and_a_silent_ones_drones_are_taken_and_fenced(
    engine: Engine,
) -> None:
    drones = ["D1", "D2", "D3", "D4"]
    links_a, links_b = _Links(drones), _Links(drones)
    ttl_s = 1.0
    a, b = _keeper(engine, "a", links_a, ttl_s), _keeper(engine, "b", links_b, ttl_s)
    await a.pass_once()
    assert sorted(links_a.open) == drones  # alone: every drone
    await b.pass_once()  # b is alive now: a's share is two
    await a.pass_once()  # a gives two back
    await b.pass_once()  # b takes them
    assert len(links_a.open) == 2 and len(links_b.open) == 2
    assert set(links_a.open).isdisjoint(links_b.open)
    await links_a.open[a.held_drones()[0]]("arm")  # a holds it: the fence lets the command go

    # a stops renewing (paused); after the lease time b takes a's drones, a's fences refuse.
    await asyncio.sleep(ttl_s + 0.2)
    await b.pass_once()
    assert sorted(links_b.open) == drones
    assert b.takeovers == 4  # two drones, the outbox and the recovery
    for fence in list(links_a.open.values()):
        with pytest.raises(NotLinkHolderError):
            await fence("start mission")
    await a.pass_once()  # a wakes up: it finds its leases gone and closes those links
    assert links_a.open == {}


def test_an_undecided_call_of_a_dead_instance_is_claimed_once(engine: Engine) -> None:
    call = CadCall(
        agency="cspd",
        cad_incident_id="ORPHAN-1",
        call_type="BURGLARY",
        priority=2,
        location=GeoPoint(38.84, -104.82),
        received_at=T0,
    )
    [result] = store_calls(engine, [call], received_by="dead")
    assert not isinstance(result, Exception)
    now = datetime.now(UTC)
    assert claim_orphaned_calls(engine, "b", ["dead", "b"], now) == []  # still alive
    assert claim_orphaned_calls(engine, "b", ["b"], now) == [result.call_id]
    assert claim_orphaned_calls(engine, "c", ["b", "c"], now) == []  # b is alive, has it

    # b restarts under the same id: what its earlier run stored and left undecided is orphaned.
    LeaseStore(engine, "b", TTL_S).started(datetime.now(UTC) + timedelta(seconds=1), "nats")
    assert claim_orphaned_calls(engine, "c", ["b", "c"], now) == [result.call_id]


def test_lease_rows_cannot_be_taken_by_two_instances_racing(engine: Engine) -> None:
    stores = [LeaseStore(engine, f"i{n}", TTL_S) for n in range(4)]
    with engine.begin() as conn:
        conn.execute(update(Lease.__table__).values(holder=None))  # type: ignore[attr-defined]
    won = [s.acquire("recovery", T0) for s in stores]
    assert [w for w in won if w is not None] == [1]


def test_the_sole_instance_takes_a_killed_predecessors_leases_without_waiting(
    engine: Engine,
) -> None:
    killed = LeaseStore(engine, "host-100", TTL_S)
    assert killed.acquire(drone_resource("D1"), T0) == 1
    restarted = LeaseStore(engine, "host-200", TTL_S)
    restarted.started(T0 + timedelta(seconds=1), "in-process", sole=True)
    assert restarted.acquire(drone_resource("D1"), T0 + timedelta(seconds=1)) == 2
