"""Real H.264 for the video tests, produced by the simulated camera's encoder and packetiser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiortc import RTCPeerConnection

from simulator.vehicle.camera import CameraConfig, H264Encoder, RtpH264Packetizer, SimCamera
from simulator.vehicle.camera_render import CameraPose, CameraRenderer
from telemetry.video import RtpEndpoint, RtpIngest, WhepSessions

WIDTH_PX, HEIGHT_PX = 320, 180


def rtp_frames(
    count: int, *, keyint: int = 10, stamp0_ms: int = 1_700_000_000_000
) -> list[list[bytes]]:
    """RTP packets of `count` consecutive frames, one list per frame."""
    renderer = CameraRenderer(WIDTH_PX, HEIGHT_PX)
    encoder = H264Encoder(WIDTH_PX, HEIGHT_PX, 30, 800, keyint)
    packetizer = RtpH264Packetizer(max_payload_bytes=500)
    frames = []
    for i in range(count):
        picture = renderer.render(CameraPose(52.5, 13.4 + i * 2e-5, 40.0, i * 3.0), stamp0_ms + i)
        packets: list[bytes] = []
        for unit in encoder.encode(picture, i * 3000):
            packets += packetizer.packetize(unit, i * 3000)
        frames.append(packets)
    return frames


@pytest.fixture
async def ingest() -> AsyncIterator[RtpIngest]:
    """An ingest on a free port fed by a running simulated camera."""
    async with RtpIngest("drone-1", RtpEndpoint("127.0.0.1", 0), stall_after_s=1.0) as ingest:
        camera = SimCamera(
            CameraConfig(
                port=ingest.port, width_px=WIDTH_PX, height_px=HEIGHT_PX, keyint_frames=15
            ),
            lambda: CameraPose(52.5, 13.4, 40.0, 10.0),
        )
        task = asyncio.create_task(camera.run())
        try:
            yield ingest
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def wait_for(predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Poll `predicate` until true (TimeoutError after `timeout_s`)."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - the condition lives outside asyncio
            await asyncio.sleep(0.02)


@pytest.fixture
async def whep() -> AsyncIterator[Callable[..., WhepSessions]]:
    """Makes WhepSessions (with any options) that are closed after the test."""
    made: list[WhepSessions] = []

    def make(**options: Any) -> WhepSessions:
        made.append(WhepSessions(**options))
        return made[-1]

    yield make
    for sessions in made:
        await sessions.aclose()


@pytest.fixture
async def viewers() -> AsyncIterator[Callable[[], RTCPeerConnection]]:
    """Makes viewer-side peer connections that are closed after the test."""
    made: list[RTCPeerConnection] = []

    def make() -> RTCPeerConnection:
        made.append(RTCPeerConnection())
        return made[-1]

    yield make
    for pc in made:
        await pc.close()
