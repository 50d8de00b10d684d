"""The instances of this deployment, the drone links each holds, and the bus and database health."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from dfr.auth import require_roles
from dfr.cluster.leases import DRONE_RESOURCE_PREFIX, LeaseStore
from dfr.deps import ServiceDep
from dfr.models import Role
from dfr.tokens import Principal

router = APIRouter(tags=["cluster"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


class LeasePublic(BaseModel):
    """One lease: what it is on, who holds it, since when and how fresh."""

    resource: str
    holder: str | None
    token: int
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime
    age_s: float | None
    expired: bool
    takeovers: int


class InstancePublic(BaseModel):
    """One instance: its heartbeat and the drones whose links it holds."""

    id: str
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_s: float
    alive: bool
    stopped_at: datetime | None
    bus: str
    drones: list[str]


class ClusterPublic(BaseModel):
    """The deployment as the answering instance sees it."""

    instance_id: str
    bus: str
    bus_connected: bool
    database: str
    instances: list[InstancePublic]
    leases: list[LeasePublic]


def _read(store: LeaseStore) -> tuple[list[InstancePublic], list[LeasePublic]]:
    now = datetime.now(UTC)
    live = set(store.live_instances(now))
    leases = store.leases()
    held: dict[str, list[str]] = {}
    out_leases = []
    for row in leases:
        expired = row.holder is None or row.expires_at <= now
        if (
            row.holder is not None
            and not expired
            and row.resource.startswith(DRONE_RESOURCE_PREFIX)
        ):
            held.setdefault(row.holder, []).append(row.resource[len(DRONE_RESOURCE_PREFIX) :])
        age = None if row.acquired_at is None else (now - row.acquired_at).total_seconds()
        out_leases.append(
            LeasePublic(
                resource=row.resource,
                holder=row.holder,
                token=row.token,
                acquired_at=row.acquired_at,
                renewed_at=row.renewed_at,
                expires_at=row.expires_at,
                age_s=age,
                expired=expired,
                takeovers=row.takeovers,
            )
        )
    instances = [
        InstancePublic(
            id=i.id,
            started_at=i.started_at,
            heartbeat_at=i.heartbeat_at,
            heartbeat_age_s=(now - i.heartbeat_at).total_seconds(),
            alive=i.id in live,
            stopped_at=i.stopped_at,
            bus=i.bus,
            drones=sorted(held.get(i.id, [])),
        )
        for i in store.instances()
    ]
    return instances, out_leases


@router.get("/cluster", response_model=ClusterPublic)
async def cluster(service: ServiceDep, _: Admin) -> ClusterPublic:
    """Admin: every instance with its heartbeat and held drones, every lease, bus and database."""
    try:
        instances, leases = await asyncio.to_thread(_read, service.leases)
        database = "ok"
    except Exception:
        instances, leases, database = [], [], "unavailable"
    return ClusterPublic(
        instance_id=service.settings.instance_id,
        bus=service.bus.kind,
        bus_connected=service.bus.connected,
        database=database,
        instances=instances,
        leases=leases,
    )
