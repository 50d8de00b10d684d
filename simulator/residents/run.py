"""The residents' loop: register, confirm, then answer footage requests with generated clips."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np

log = logging.getLogger(__name__)
_CONFIRM = re.compile(r"#confirm=(dfrl_[\w-]+)")
_UPLOAD = re.compile(r"#request=(\d+)&token=(dfrl_[\w-]+)")
METRES_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True, slots=True)
class ResidentsConfig:
    """How many residents, where, and how often they answer."""

    base_url: str
    tester_token: str
    count: int = 30
    center_lat: float = 38.85
    center_lon: float = -104.75
    radius_m: float = 3000.0
    #: The share of footage requests a resident answers with a clip.
    answer_rate: float = 0.5
    poll_s: float = 2.0
    seed: int = 1


@dataclass(slots=True)
class Resident:
    """One simulated resident and what they have done."""

    name: str
    email: str
    lat: float
    lon: float
    facing_deg: float | None
    registration_id: int | None = None
    confirmed: bool = False
    answered: set[int] = field(default_factory=set)


def generated_clip(path: Path, *, frames: int = 10, fps: int = 10, size: int = 64) -> Path:
    """A short generated MP4 (MPEG-4 Part 2), as a doorbell camera's export would be."""
    noise = np.random.default_rng(len(path.name))
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(frames):
            image = noise.integers(0, 255, (size, size, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class Residents:
    """Registers the residents, then answers requests until stopped."""

    def __init__(self, config: ResidentsConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self._http = client
        rng = random.Random(config.seed)
        self.residents: list[Resident] = []
        for i in range(config.count):
            distance = config.radius_m * math.sqrt(rng.random())
            bearing = rng.uniform(0.0, 2.0 * math.pi)
            lat = config.center_lat + distance * math.cos(bearing) / METRES_PER_DEG_LAT
            lon = config.center_lon + distance * math.sin(bearing) / (
                METRES_PER_DEG_LAT * math.cos(math.radians(config.center_lat))
            )
            facing = None if rng.random() < 0.4 else round(rng.uniform(0.0, 359.0), 1)
            self.residents.append(
                Resident(f"Resident {i + 1}", f"resident{i + 1}@example.org", lat, lon, facing)
            )
        self._by_email = {r.email: r for r in self.residents}
        self._rng = rng
        self._seen_mail: set[int] = set()
        self.uploads = 0

    async def register_all(self) -> None:
        """Register every resident's camera (a refused one is logged and skipped)."""
        for r in self.residents:
            body = {
                "owner_name": r.name,
                "email": r.email,
                "lat": round(r.lat, 6),
                "lon": round(r.lon, 6),
                "facing_deg": r.facing_deg,
                "fov_deg": None if r.facing_deg is None else 100.0,
                "street_facing": True,
                "records": ["street", "sidewalk"],
            }
            response = await self._http.post("/api/v1/public/camera-registrations", json=body)
            if response.status_code == 202:
                r.registration_id = int(response.json()["id"])
            else:
                log.warning("%s not registered: %s", r.email, response.text)

    async def _mail(self) -> list[dict[str, object]]:
        response = await self._http.get(
            "/api/v1/demo/mail",
            headers={"Authorization": f"Bearer {self.config.tester_token}"},
        )
        response.raise_for_status()
        return list(response.json()["data"])

    async def read_mail_once(self) -> None:
        """Confirm registrations and answer footage requests found in new email."""
        for mail in reversed(await self._mail()):
            mail_id = int(str(mail["id"]))
            if mail_id in self._seen_mail:
                continue
            self._seen_mail.add(mail_id)
            recipients = mail["to"] if isinstance(mail["to"], list) else []
            resident = next((self._by_email[t] for t in recipients if t in self._by_email), None)
            body = str(mail["body"])
            if resident is None:
                continue
            confirm = _CONFIRM.search(body)
            if confirm and not resident.confirmed:
                response = await self._http.post(
                    "/api/v1/public/camera-registration/confirm",
                    headers={"X-Link-Token": confirm.group(1)},
                )
                resident.confirmed = response.status_code == 200
                log.info("%s confirmed: %s", resident.email, resident.confirmed)
            upload = _UPLOAD.search(body)
            if upload and self._rng.random() < self.config.answer_rate:
                await self._answer(resident, int(upload.group(1)), upload.group(2))

    async def _answer(self, resident: Resident, request_id: int, token: str) -> None:
        if request_id in resident.answered:
            return
        resident.answered.add(request_id)
        with tempfile.TemporaryDirectory() as tmp:
            name = f"camera-{resident.registration_id}-request-{request_id}.mp4"
            clip = await asyncio.to_thread(generated_clip, Path(tmp) / name)
            data = clip.read_bytes()
        headers = {"X-Link-Token": token}
        started = await self._http.post(
            "/api/v1/public/footage/uploads",
            headers=headers,
            json={"request_id": request_id, "file_name": name, "size_bytes": len(data)},
        )
        if started.status_code != 201:
            log.warning("%s could not upload: %s", resident.email, started.text)
            return
        upload = started.json()
        for offset in range(0, len(data), int(upload["chunk_bytes"])):
            chunk = data[offset : offset + int(upload["chunk_bytes"])]
            put = await self._http.put(
                f"/api/v1/public/footage/uploads/{upload['upload_id']}/chunks",
                params={"offset": offset},
                headers=headers,
                files={"chunk": ("chunk", chunk, "application/octet-stream")},
            )
            put.raise_for_status()
        done = await self._http.post(
            f"/api/v1/public/footage/uploads/{upload['upload_id']}/complete", headers=headers
        )
        if done.status_code == 201:
            self.uploads += 1
            log.info("%s uploaded %s for request %s", resident.email, name, request_id)
        else:
            log.warning("%s upload refused: %s", resident.email, done.text)

    async def run(self) -> None:
        """Register, then read mail every poll until cancelled."""
        await self.register_all()
        while True:
            try:
                await self.read_mail_once()
            except httpx.HTTPError as exc:
                log.warning("residents: %s", exc)
            await asyncio.sleep(self.config.poll_s)
