"""Two instances as one service (issue 13 acceptance): PostgreSQL, NATS, kill -9 of a link holder.

Real processes on loopback: `dfr-sim fleet` (the demo fleet, x20), `dfr-sim cad serve`, a private
PostgreSQL and nats-server, and two `dfr serve` instances sharing them. Every drone's link is held
by one instance through a lease; killing the holder of a flying drone hands the drone, its flight
and the call to the survivor, and CAD hears everything once, in order.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest

from simulator.scenarios.process import free_port
from tests.dfr.video_stack import demo_fleet_file, drone_ports
from tests.e2e.cluster_tools import StreamWatcher, create_tokens
from tests.e2e.conftest import (
    DRONE_IDS,
    Child,
    Stack,
    start_simulators,
    wait_for,
)
from tests.e2e.geo import destination
from tests.postgres import DatabaseFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SAND_CREEK = (38.8339, -104.7470)
#: A burglary 2.5 km north of the Sand Creek dock, clear of every zone: en route long enough to kill.
BURGLARY = destination(*SAND_CREEK, 0.0, 2500.0)
INSTANCES = ("alpha", "bravo")
FAILOVER_LIMIT_S = 5.0


@dataclass
class Cluster:
    """The shared parts and one Stack (client view) per instance."""

    stacks: dict[str, Stack]
    database_url: str
    children: list[Child] = field(default_factory=list)

    def admin(self, name: str) -> httpx.Client:
        return self.stacks[name].api("admin")

    def cluster_view(self, name: str) -> dict[str, Any]:
        response = self.admin(name).get("/cluster")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def holders(self, via: str) -> dict[str, str]:
        """drone id -> instance holding its link, as `via` sees the leases."""
        out = {}
        for instance in self.cluster_view(via)["instances"]:
            if instance["alive"]:
                for drone in instance["drones"]:
                    out[drone] = instance["id"]
        return out


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: DatabaseFactory,
    nats_url: str,
) -> Iterator[Cluster]:
    """Fleet, CAD, PostgreSQL, NATS and two instances, every drone linked by one of them."""
    work = tmp_path_factory.mktemp("cluster")
    used: set[int] = set()
    # Each drone's MAVLink and camera ports; the fleet file is the demo's with those ports.
    fleet_file = demo_fleet_file(work, [drone_ports(used) for _ in DRONE_IDS])
    url = postgres_databases.create()
    cad_port, control_port = free_port(avoid=used), free_port(avoid=used)
    used |= {cad_port, control_port}
    tokens = create_tokens(url, "e2e")
    cad_secret = secrets.token_urlsafe(16)
    key_encryption_key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    tokens["_cad_secret"] = cad_secret
    stacks: dict[str, Stack] = {}
    for name in INSTANCES:
        port = free_port(avoid=used)
        used.add(port)
        data_dir = work / f"data-{name}"
        data_dir.mkdir()
        stacks[name] = Stack(
            work_dir=work / name,
            fleet_file=fleet_file,
            data_dir=data_dir,
            service_port=port,
            cad_port=cad_port,
            control_port=control_port,
            tokens=dict(tokens),
            service_env={
                "DFR_INSTANCE_ID": name,
                "DFR_DATABASE__URL": url,
                "DFR_BUS__URL": nats_url,
                "DFR_FLIGHT__DLL_TIMEOUT_S": "300",
                # Instances sharing a database share the key that seals the drones' signing keys.
                "DFR_SIGNING__KEY_ENCRYPTION_KEY": key_encryption_key,
            },
        )
        (work / name).mkdir()
    c = Cluster(stacks=stacks, database_url=url)
    try:
        c.children += start_simulators(
            work,
            fleet_file,
            cad_port=cad_port,
            control_port=control_port,
            cad_secret=cad_secret,
            fleet_options=["--camera", "--camera-size", "320x180", "--camera-fps", "10"],
        )
        for stack in stacks.values():
            stack.start_service()
        # Balanced: each instance holds two of the four drones, and each sees all four linked.
        wait_for(
            lambda: sorted(c.holders("alpha").values()) == ["alpha", "alpha", "bravo", "bravo"],
            30,
            "the four drones shared two and two",
            0.5,
            lambda: str(c.holders("alpha")),
        )
        for stack in stacks.values():
            stack.wait_links_up()
        yield c
    finally:
        for stack in stacks.values():
            stack.close()
        for child in reversed(c.children):
            child.stop()


def _flight_of_call(stack: Stack, call_id: int) -> dict[str, Any] | None:
    rows = stack.api("dispatcher").get("/flights", params={"limit": 500}).json()["data"]
    flights = [f for f in rows if f["call_id"] == call_id]
    assert len(flights) <= 1, flights
    return flights[0] if flights else None


def _parse(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def test_killing_the_link_holder_hands_the_flight_to_the_survivor_within_5_s(
    cluster: Cluster,
) -> None:
    alpha = cluster.stacks["alpha"]
    call_id = alpha.post_call("E2E-CLUSTER-1", *BURGLARY, call_type="BURGLARY", priority=1)
    decision = alpha.decision(call_id)
    assert decision["auto_launch"], decision["summary"]
    flight = wait_for(lambda: _flight_of_call(alpha, call_id), 60, "the auto-launched flight")
    drone = flight["drone_id"]
    holder = cluster.holders("alpha")[drone]
    survivor_name = next(n for n in INSTANCES if n != holder)
    survivor = cluster.stacks[survivor_name]
    stream = (
        f"ws://127.0.0.1:{survivor.service_port}/api/v1/stream?token={survivor.tokens['tester']}"
    )

    with StreamWatcher(stream, drone) as watcher:
        survivor.wait_flight_state(flight["id"], "en_route", 60)
        time.sleep(2.0)  # the survivor's client sees the drone (linked by the other) move
        lease = next(
            row
            for row in cluster.cluster_view(survivor_name)["leases"]
            if row["resource"] == f"drone:{drone}"
        )
        last_renewal = _parse(lease["renewed_at"])
        killed_at = time.time()
        cluster.stacks[holder].kill_service()

        def taken() -> dict[str, Any] | None:
            view = cluster.cluster_view(survivor_name)
            row = next(r for r in view["leases"] if r["resource"] == f"drone:{drone}")
            return row if row["holder"] == survivor_name and not row["expired"] else None

        row = wait_for(taken, 15, f"{survivor_name} holding {drone}", 0.1)
        took_s = _parse(row["acquired_at"]) - last_renewal
        assert took_s <= FAILOVER_LIMIT_S, f"lease taken {took_s:.2f} s after the last renewal"

        # The flight goes on under the survivor: tracked to the scene, then cancelled through it.
        survivor.wait_flight_state(flight["id"], "on_scene", 120)
        response = survivor.api("dispatcher").post(
            f"/calls/{call_id}/cancel", json={"reason": "No emergency found on scene."}
        )
        assert response.status_code == 202, response.text
        done = survivor.wait_flight_state(flight["id"], {"completed", "aborted"}, 180)
        after = time.time()
    assert done["state"] == "completed", done["state_reason"]
    assert any(e["reason"].startswith("adopted after") for e in done["events"]), done["events"]
    truth = survivor.truth(drone)
    assert truth["landed"] and not truth["armed"], truth
    assert watcher.moved_between(killed_at - 2.0, killed_at), "no movement seen before the kill"
    assert watcher.moved_between(killed_at, after), "no movement seen after the kill"

    # Exactly one drone for the call; CAD heard each status once, in order.
    rows = survivor.api("dispatcher").get("/flights", params={"limit": 500}).json()["data"]
    assert [f["id"] for f in rows if f["call_id"] == call_id] == [flight["id"]]

    def cad_done() -> list[dict[str, Any]] | None:
        events = survivor.cad_events("E2E-CLUSTER-1")
        return events if any(e["body"].get("kind") == "cancel" for e in events) else None

    events = wait_for(cad_done, 30, "CAD told of the cancellation")
    keys = [e["idempotency_key"] for e in events]
    assert len(keys) == len(set(keys)), keys
    statuses = [e["body"]["unit"]["status"] for e in events if e["body"].get("unit")]
    assert statuses == sorted(set(statuses), key=statuses.index), statuses  # no repeats
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    # The killed instance comes back and takes its share again.
    cluster.stacks[holder].start_service()
    wait_for(
        lambda: sorted(cluster.holders(survivor_name).values()).count(holder) == 2,
        30,
        f"{holder} holding two drones again",
        0.5,
    )


def test_operations_reaching_an_instance_not_holding_the_drone_are_run_by_its_holder(
    cluster: Cluster,
) -> None:
    holders = cluster.holders("alpha")
    # D4: D3's dock lies inside the stadium's game-night TFR, which would refuse the flight then.
    drone = "D4"
    other = next(n for n in INSTANCES if n != holders[drone])
    via = cluster.stacks[other]
    target = destination(38.8957, -104.7178, 90.0, 1200.0)  # 1.2 km east of D4's dock
    flight_id = via.start_pilot_flight(drone, *target)
    via.wait_flight_state(flight_id, "en_route", 60)
    flight = via.flight(flight_id)
    assert flight["drone_id"] == drone and flight["created_by"] == "e2e-pilot"
    response = via.command(flight_id, "hold")
    assert response.status_code == 200, response.text
    response = via.command(flight_id, "goto", lat=target[0], lon=target[1], alt_agl_m=150.0)
    assert response.status_code == 422, response.text  # above the ceiling: refused, nothing sent
    response = via.command(flight_id, "rtl")
    assert response.status_code == 200, response.text
    done = via.wait_flight_state(flight_id, {"completed", "aborted"}, 180)
    assert done["state"] == "completed", done["state_reason"]
    assert cluster.holders(other)[drone] == holders[drone]  # it never moved


async def _watch_then_end(url: str, token: str, frames: int) -> tuple[str, int, int]:
    """A WHEP viewer decodes `frames` frames, then ends its session twice: Location and statuses."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    viewer = RTCPeerConnection()
    tracks: asyncio.Queue[Any] = asyncio.Queue()
    viewer.on("track", tracks.put_nowait)
    viewer.addTransceiver("video", direction="recvonly")
    await viewer.setLocalDescription(await viewer.createOffer())
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(timeout=30.0) as client:
            response = await client.post(
                url,
                content=viewer.localDescription.sdp,
                headers={**headers, "Content-Type": "application/sdp"},
            )
            assert response.status_code == 201, response.text
            await viewer.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
            track = await asyncio.wait_for(tracks.get(), 30)
            async with asyncio.timeout(60):
                for _ in range(frames):
                    await track.recv()
            location = response.headers["location"]
            session_url = url.split("/api/v1/")[0] + location
            ended = await client.delete(session_url, headers=headers)
            again = await client.delete(session_url, headers=headers)
            return location, ended.status_code, again.status_code
    finally:
        await viewer.close()


def test_video_of_a_drone_linked_elsewhere_is_watched_through_any_instance(
    cluster: Cluster,
) -> None:
    holders = cluster.holders("alpha")
    drone = "D4"
    other = next(n for n in INSTANCES if n != holders[drone])
    via = cluster.stacks[other]
    url = f"{via.base_url}/api/v1/drones/{drone}/video/whep"
    location, ended, again = asyncio.run(_watch_then_end(url, via.tokens["pilot"], 5))
    assert location.startswith(f"/api/v1/drones/{drone}/video/whep/")
    assert ended == 200  # the session ended on the holder, through the other instance
    assert again == 404  # and is unknown everywhere now


CALLS = 1000


def _call_document(n: int) -> dict[str, Any]:
    lat, lon = destination(*SAND_CREEK, (n * 37) % 360, 500.0 + (n % 7) * 200.0)
    return {
        "cad_incident_id": f"E2E-RR-{n:04d}",
        "agency": "cspd",
        "call_type": "SUSPICIOUS",
        "call_type_text": "suspicious person",
        "priority": 4,
        "location": {"lat": lat, "lon": lon, "address": "test address"},
        "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "status": "Active",
        "notes": [],
        "flags": {"in_progress": False, "weapons": False, "outdoor": True},
    }


def test_calls_posted_round_robin_across_a_kill_and_restart_are_stored_and_decided_once(
    cluster: Cluster,
) -> None:
    from sqlalchemy import create_engine, text

    names = list(INSTANCES)
    clients = {
        n: httpx.Client(
            base_url=f"{cluster.stacks[n].base_url}/api/v1",
            headers={"Authorization": f"Bearer {cluster.stacks[n].tokens['cad']}"},
            timeout=10.0,
        )
        for n in names
    }
    answered: dict[str, int] = {}  # incident -> call id, for every 202
    restarter: threading.Thread | None = None
    try:
        for n in range(CALLS):
            if n == CALLS // 3:
                cluster.stacks["alpha"].kill_service()
            if n == CALLS // 2:
                restarter = threading.Thread(target=cluster.stacks["alpha"].start_service)
                restarter.start()
            document = _call_document(n)
            for name in (names[n % 2], names[(n + 1) % 2]):  # a balancer retries the other one
                try:
                    response = clients[name].post("/cad/incidents", json=document)
                except httpx.TransportError:
                    continue
                if response.status_code == 202:
                    answered[document["cad_incident_id"]] = int(response.json()["id"])
                    break
    finally:
        if restarter is not None:
            restarter.join(timeout=180)
        for client in clients.values():
            client.close()
    assert len(answered) == CALLS  # the other instance answered whenever one was down

    engine = create_engine(cluster.database_url)
    try:

        def decisions() -> dict[str, int] | None:
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT c.cad_incident_id, c.id, count(d.id) FROM calls c "
                        "LEFT JOIN decisions d ON d.call_id = c.id "
                        "WHERE c.cad_incident_id LIKE 'E2E-RR-%' GROUP BY c.cad_incident_id, c.id"
                    )
                ).all()
            counts = {r[0]: int(r[2]) for r in rows}
            assert {r[0]: int(r[1]) for r in rows} == answered  # each stored once, same id
            return counts if all(v >= 1 for v in counts.values()) else None

        counts = wait_for(decisions, 120, "every call decided", 1.0)
    finally:
        engine.dispose()
    twice = {k: v for k, v in counts.items() if v != 1}
    assert twice == {}, f"decided more than once: {twice}"
    events = httpx.get(f"http://127.0.0.1:{cluster.stacks['bravo'].cad_port}/events", timeout=10)
    keys = [e["idempotency_key"] for e in events.json()["data"]]
    assert len(keys) == len(set(keys))
