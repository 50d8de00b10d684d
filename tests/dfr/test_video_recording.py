"""A simulated flight (sped up) is recorded as evidence: listed, verified, and a changed byte is caught."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from tests.dfr.video_stack import DFR, SAND_CREEK, VideoStack

pytestmark = [pytest.mark.integration, pytest.mark.sim, pytest.mark.timeout(600)]


async def _flight_state(client: httpx.AsyncClient, flight_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/flights/{flight_id}")
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


async def _wait_state(
    client: httpx.AsyncClient, flight_id: int, states: set[str], timeout_s: float
) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            flight = await _flight_state(client, flight_id)
            if flight["state"] in states:
                return flight
            await asyncio.sleep(0.25)


async def _wait_linked(client: httpx.AsyncClient, drone_id: str, timeout_s: float) -> None:
    """Until the service has a live MAVLink link to the drone (a launch needs one)."""
    async with asyncio.timeout(timeout_s):
        while True:
            drone = (await client.get(f"/api/v1/drones/{drone_id}")).json()
            if (drone.get("live") or {}).get("link") == "connected":
                return
            await asyncio.sleep(0.25)


async def _recording(analyst: httpx.AsyncClient, flight_id: int) -> dict[str, Any]:
    listing = (await analyst.get(f"/api/v1/flights/{flight_id}/recordings")).json()
    return dict(listing["data"][0]) if listing["count"] else {}


async def _wait_recording(
    analyst: httpx.AsyncClient, flight_id: int, states: set[str | None], timeout_s: float
) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            recording = await _recording(analyst, flight_id)
            if recording and recording.get("state") in states:
                return recording
            await asyncio.sleep(0.25)


class _OnScene(NamedTuple):
    stack: VideoStack
    pilot: httpx.AsyncClient
    analyst: httpx.AsyncClient
    flight_id: int


@asynccontextmanager
async def _on_scene(tmp_path: Path) -> AsyncIterator[_OnScene]:
    """The stack (sped up) with D1 sent by a pilot to a spot near its dock, once it is on scene."""
    async with VideoStack(tmp_path, speedup=5.0) as stack:
        async with stack.client("pilot") as pilot, stack.client("analyst") as analyst:
            lat, lon = SAND_CREEK
            await _wait_linked(pilot, "D1", 60)
            created = await pilot.post(
                "/api/v1/flights",
                json={"drone_id": "D1", "target": {"lat": lat + 0.003, "lon": lon}},
            )
            assert created.status_code == 201, created.text
            flight_id = int(created.json()["id"])
            await _wait_state(pilot, flight_id, {"on_scene"}, 300)
            yield _OnScene(stack, pilot, analyst, flight_id)


def _verified_recording(stack: VideoStack, flight_id: int) -> Path:
    """The flight's recording directory, after `dfr recordings verify` passed on it."""
    directory = stack.data_dir / "recordings" / f"flight-{flight_id}"
    ok = _verify(directory)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    return directory


def _verify(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DFR, "recordings", "verify", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_flight_is_recorded_and_verification_catches_one_changed_byte(
    tmp_path: Path,
) -> None:
    async with _on_scene(tmp_path) as (stack, pilot, analyst, flight_id):
        # Recording runs while the drone flies: segments close on the way.
        rtl = await pilot.post(f"/api/v1/flights/{flight_id}/commands", json={"command": "rtl"})
        assert rtl.status_code == 200, rtl.text
        final = await _wait_state(pilot, flight_id, {"completed", "aborted"}, 300)
        assert final["state"] == "completed", final

        # The stop is applied just after the transition is stored.
        recording = await _wait_recording(analyst, flight_id, {None, "stopped"}, 60)
        assert recording["stream_key"] == "D1"
        assert recording["segments"] >= 1 and recording["bytes"] > 0
        assert recording["verification"]["ok"], recording
        denied = await pilot.get(f"/api/v1/flights/{flight_id}/recordings")
        assert denied.status_code == 403

    directory = _verified_recording(stack, flight_id)

    tampered = tmp_path / "tampered"
    shutil.copytree(directory, tampered)
    segment = sorted(tampered.glob("seg_*.mp4"))[-1]
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x01
    segment.write_bytes(bytes(data))
    bad = _verify(tampered)
    assert bad.returncode != 0
    assert '"ok": false' in bad.stdout


async def test_a_recording_continues_in_the_same_chain_after_the_service_is_killed_mid_flight(
    tmp_path: Path,
) -> None:
    async with _on_scene(tmp_path) as (stack, pilot, analyst, flight_id):
        await _wait_recording(analyst, flight_id, {"recording"}, 60)

        await stack.kill_and_restart_service()

        await _wait_recording(analyst, flight_id, {"recording"}, 120)
        async with asyncio.timeout(120):
            while True:  # the pilot commands the flight again once it is adopted
                rtl = await pilot.post(
                    f"/api/v1/flights/{flight_id}/commands", json={"command": "rtl"}
                )
                if rtl.status_code == 200:
                    break
                assert rtl.status_code == 409, rtl.text
                await asyncio.sleep(0.5)
        final = await _wait_state(pilot, flight_id, {"completed", "aborted"}, 300)
        assert final["state"] == "completed", final
        recording = await _wait_recording(analyst, flight_id, {None, "stopped"}, 60)
        assert recording["segments"] >= 1 and recording["verification"]["ok"], recording

    directory = _verified_recording(stack, flight_id)
    # The segment open at the kill is kept beside the chain, not overwritten.
    assert list(directory.glob("*.partial.interrupted")), list(directory.iterdir())
