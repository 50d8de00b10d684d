"""A drone's MAVLink signing key: its state, and rotation (the key itself never leaves the service)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from dfr.auth import Principal, require_roles
from dfr.deps import ServiceDep
from dfr.models import Role
from dfr.signing_keys import SigningStatus

router = APIRouter(tags=["fleet"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
DroneId = Annotated[str, Path(min_length=1, max_length=64)]


class SigningKeyPublic(BaseModel):
    """Where a drone's MAVLink signing stands (never the key)."""

    drone_id: str
    required: bool = Field(description="unsigned frames are refused once the drone holds its key")
    key_version: int | None = Field(description="grows at each rotation; null: no key yet")
    provisioned_at: datetime | None = Field(
        description="when the vehicle first signed with the current key; null: not yet"
    )
    rotation_pending: bool = Field(description="a new key was sent and is not confirmed yet")
    frames_rejected: dict[str, int] = Field(
        description="frames with the drone's system id dropped on this instance, by reason"
    )


def _public(status: SigningStatus) -> SigningKeyPublic:
    return SigningKeyPublic(**dataclasses.asdict(status))


@router.get("/drones/{drone_id}/signing-key", response_model=SigningKeyPublic)
async def get_signing_key(drone_id: DroneId, service: ServiceDep, _: Admin) -> SigningKeyPublic:
    """Whether the drone's link is signed, with which key version, and what it refused."""
    return _public(await asyncio.to_thread(service.signing_keys.status, drone_id, service.fleet))


@router.post("/drones/{drone_id}/signing-key", response_model=SigningKeyPublic)
async def rotate_signing_key(drone_id: DroneId, service: ServiceDep, _: Admin) -> SigningKeyPublic:
    """Give the drone a new key (SETUP_SIGNING signed under the old) and wait until it signs with it.

    409 when this instance does not hold the drone's link; 504 when the vehicle has not signed
    with the new key in time (it is kept and resent while the link runs).
    """
    await asyncio.to_thread(service.signing_keys.status, drone_id, service.fleet)  # 404 first
    return _public(await service.signing_keys.rotate(drone_id, service.fleet))
