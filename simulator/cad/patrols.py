"""Patrol units driving around the demo city, reported to DFR as CAD's AVL feed would."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from simulator.cad.incidents import DOCKS

_M_PER_DEG_LAT = 111_320.0
_STATUSES = ("available", "available", "available", "busy", "enroute")


@dataclass
class _Unit:
    unit_id: str
    centre: tuple[float, float]
    radius_m: float
    angle_deg: float
    speed_mps: float
    status: str


class Patrols:
    """Seeded patrol units circling beats around the docks; `reports` moves them `dt_s` on."""

    def __init__(self, count: int, seed: int = 1) -> None:
        self._rng = random.Random(seed)
        self._units = [
            _Unit(
                unit_id=f"{2 + i // 3}A{10 + i}",
                centre=DOCKS[i % len(DOCKS)][1:],
                radius_m=self._rng.uniform(600.0, 2_000.0),
                angle_deg=self._rng.uniform(0.0, 360.0),
                speed_mps=self._rng.uniform(8.0, 15.0),
                status=self._rng.choice(_STATUSES),
            )
            for i in range(count)
        ]

    def reports(self, dt_s: float, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every unit's AVL report after driving `dt_s` seconds along its beat."""
        at = (now or datetime.now(UTC)).isoformat()
        out = []
        for unit in self._units:
            unit.angle_deg = (
                unit.angle_deg + math.degrees(unit.speed_mps * dt_s / unit.radius_m)
            ) % 360
            if self._rng.random() < 0.05:
                unit.status = self._rng.choice(_STATUSES)
            a = math.radians(unit.angle_deg)
            lat = unit.centre[0] + unit.radius_m * math.cos(a) / _M_PER_DEG_LAT
            lon = unit.centre[1] + unit.radius_m * math.sin(a) / (
                _M_PER_DEG_LAT * math.cos(math.radians(unit.centre[0]))
            )
            out.append(
                {
                    "unit_id": unit.unit_id,
                    "status": unit.status,
                    "lat": round(lat, 6),
                    "lon": round(lon, 6),
                    # Driving counter-clockwise on the map: the heading is the circle's tangent.
                    "heading_deg": round((unit.angle_deg + 90.0) % 360, 1),
                    "speed_mps": round(unit.speed_mps, 1),
                    "reported_at": at,
                }
            )
        return out


async def post_patrols(
    client: httpx.AsyncClient, dfr_url: str, token: str, reports: list[dict[str, Any]]
) -> httpx.Response:
    """Post one AVL batch to DFR's `POST /api/v1/cad/units`."""
    return await client.post(
        dfr_url.rstrip("/") + "/api/v1/cad/units",
        json=reports,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )
