"""Leases in the service database: which instance may act on a resource now, with a fencing token.

A lease is one row per resource (`drone:<id>` for a drone's MAVLink link, `outbox`, `recovery`).
Taking one is a single compare-and-set UPDATE (free, expired, or a previous run of this same
instance id) that adds one to the token; renewing is an UPDATE that matches holder and token. Under
PostgreSQL's READ COMMITTED the second of two concurrent takers re-reads the row after the first
commits and matches nothing, so at most one instance holds a resource at a time. A holder that was
paused past its expiry finds its token gone at the next renewal or fencing check.

Times are the instances' UTC wall clocks (keep them NTP-synchronised); each method blocks (run it
in a worker thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, case, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from dfr.models import Lease, ServiceInstance

_LEASES: Table = Lease.__table__  # type: ignore[attr-defined]
_INSTANCES: Table = ServiceInstance.__table__  # type: ignore[attr-defined]

DRONE_RESOURCE_PREFIX = "drone:"
OUTBOX_RESOURCE = "outbox"
RECOVERY_RESOURCE = "recovery"


def drone_resource(drone_id: str) -> str:
    """The lease name of a drone's MAVLink link."""
    return f"{DRONE_RESOURCE_PREFIX}{drone_id}"


@dataclass(frozen=True, slots=True)
class LeaseRow:
    """One lease as stored."""

    resource: str
    holder: str | None
    token: int
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime
    takeovers: int


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """One instance as stored."""

    id: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    bus: str


class LeaseStore:
    """The leases and instance heartbeats of one instance (`instance_id`)."""

    def __init__(self, engine: Engine, instance_id: str, ttl_s: float) -> None:
        self._engine = engine
        self.instance_id = instance_id
        self.ttl = timedelta(seconds=ttl_s)

    # ------------------------------------------------------------------ instances

    def heartbeat(self, now: datetime, bus: str) -> None:
        """Record that this instance is alive now (inserts its row the first time)."""
        i = _INSTANCES.c
        with self._engine.begin() as conn:
            updated = conn.execute(
                update(_INSTANCES)
                .where(i.id == self.instance_id)
                .values(heartbeat_at=now, stopped_at=None, bus=bus)
            ).rowcount
        if updated:
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    _INSTANCES.insert().values(
                        id=self.instance_id, started_at=now, heartbeat_at=now, bus=bus
                    )
                )
        except IntegrityError:  # inserted meanwhile by a previous run of this id: fine
            pass

    def started(self, now: datetime, bus: str, *, sole: bool = False) -> None:
        """This instance (re)starts: its row says so, and a previous run's leases are let go.

        `sole`: this is the only instance there is (no bus between instances), so every lease
        left by a previous process, under whatever id, is let go at once instead of expiring.
        """
        self.heartbeat(now, bus)
        i, lease = _INSTANCES.c, _LEASES.c
        with self._engine.begin() as conn:
            conn.execute(update(_INSTANCES).where(i.id == self.instance_id).values(started_at=now))
            # The token stays: whoever takes the resource next adds one, fencing a zombie of the
            # previous run that might still be sending.
            mine = lease.holder.is_not(None) if sole else lease.holder == self.instance_id
            conn.execute(update(_LEASES).where(mine).values(expires_at=now))

    def stopped(self, now: datetime) -> None:
        """A clean stop: every lease of this instance is released and its row marked stopped."""
        i, lease = _INSTANCES.c, _LEASES.c
        with self._engine.begin() as conn:
            conn.execute(
                update(_LEASES)
                .where(lease.holder == self.instance_id)
                .values(holder=None, expires_at=now)
            )
            conn.execute(update(_INSTANCES).where(i.id == self.instance_id).values(stopped_at=now))

    def instances(self) -> list[InstanceRow]:
        """Every instance ever registered, newest heartbeat first."""
        i = _INSTANCES.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(_INSTANCES).order_by(i.heartbeat_at.desc())).all()
        return [InstanceRow(r.id, r.started_at, r.heartbeat_at, r.stopped_at, r.bus) for r in rows]

    def live_instances(self, now: datetime) -> list[str]:
        """Ids of the instances whose heartbeat is younger than the lease time, not stopped."""
        i = _INSTANCES.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(i.id).where(i.heartbeat_at > now - self.ttl, i.stopped_at.is_(None))
            ).all()
        return sorted(r.id for r in rows)

    # ------------------------------------------------------------------ leases

    def acquire(self, resource: str, now: datetime) -> int | None:
        """Take `resource` if it is free, expired or a previous run's of this id: its new token."""
        lease = _LEASES.c
        me = self.instance_id
        with self._engine.begin() as conn:
            token = conn.execute(
                update(_LEASES)
                .where(
                    lease.resource == resource,
                    or_(lease.holder.is_(None), lease.expires_at <= now, lease.holder == me),
                )
                .values(
                    holder=me,
                    token=lease.token + 1,
                    acquired_at=now,
                    renewed_at=now,
                    expires_at=now + self.ttl,
                    takeovers=case(
                        (and_(lease.holder.is_not(None), lease.holder != me), lease.takeovers + 1),
                        else_=lease.takeovers,
                    ),
                )
                .returning(lease.token)
            ).scalar_one_or_none()
            if token is not None:
                return int(token)
            exists = conn.execute(select(lease.resource).where(lease.resource == resource)).first()
        if exists is not None:
            return None
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    _LEASES.insert().values(
                        resource=resource,
                        holder=me,
                        token=1,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=now + self.ttl,
                        takeovers=0,
                    )
                )
        except IntegrityError:  # another instance created it first
            return None
        return 1

    def renew(self, held: dict[str, int], now: datetime) -> dict[str, int]:
        """Extend the leases in `held` (resource -> token); returns those still ours."""
        if not held:
            return {}
        lease = _LEASES.c
        with self._engine.begin() as conn:
            rows = conn.execute(
                update(_LEASES)
                .where(lease.holder == self.instance_id, lease.resource.in_(list(held)))
                .values(renewed_at=now, expires_at=now + self.ttl)
                .returning(lease.resource, lease.token)
            ).all()
        # A row whose token moved on was taken and given back meanwhile: not ours any more.
        return {r.resource: int(r.token) for r in rows if held.get(r.resource) == int(r.token)}

    def release(self, resource: str, token: int, now: datetime) -> None:
        """Give `resource` up (only if still held with `token`)."""
        lease = _LEASES.c
        with self._engine.begin() as conn:
            conn.execute(
                update(_LEASES)
                .where(
                    lease.resource == resource,
                    lease.holder == self.instance_id,
                    lease.token == token,
                )
                .values(holder=None, expires_at=now)
            )

    def holds(self, resource: str, token: int, now: datetime) -> bool:
        """The fencing check: this instance holds `resource` with `token`, unexpired, now."""
        lease = _LEASES.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(lease.resource).where(
                    lease.resource == resource,
                    lease.holder == self.instance_id,
                    lease.token == token,
                    lease.expires_at > now,
                )
            ).first()
        return row is not None

    def leases(self, prefix: str = "") -> list[LeaseRow]:
        """Every lease whose resource starts with `prefix`."""
        lease = _LEASES.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_LEASES).where(lease.resource.startswith(prefix)).order_by(lease.resource)
            ).all()
        return [
            LeaseRow(
                r.resource,
                r.holder,
                int(r.token),
                r.acquired_at,
                r.renewed_at,
                r.expires_at,
                int(r.takeovers),
            )
            for r in rows
        ]

    def holder_of(self, resource: str, now: datetime) -> str | None:
        """The instance holding `resource` now (None when free or expired)."""
        lease = _LEASES.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(lease.holder).where(
                    lease.resource == resource, lease.expires_at > now, lease.holder.is_not(None)
                )
            ).first()
        return None if row is None else str(row.holder)
