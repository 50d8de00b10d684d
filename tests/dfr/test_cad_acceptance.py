"""Acceptance over real HTTP both ways: `dfr serve` as a process, the simulated CAD in this process.

CAD down while 200 notes are written: after it returns every note arrives, in order per incident,
exactly once by idempotency key. The same with the service SIGKILLed mid-delivery and restarted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.cad import CallGenerator, DfrPoster, Outage, SimulatedCad
from tests.conftest import free_tcp_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
DFR = [sys.executable, "-m", "dfr"]
NOTES = 200
INCIDENTS = 4


def _token(data_dir: Path, role: str, name: str) -> str:
    out = subprocess.run(
        [*DFR, "token", "create", "--role", role, "--name", name, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("DFR_")},
    )
    return out.stdout.strip()


class Service:
    """`dfr serve` on a free port with a temporary data dir, pointed at the simulated CAD."""

    def __init__(self, data_dir: Path, cad_url: str, wire_format: str) -> None:
        self.data_dir, self.port = data_dir, free_tcp_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DFR_")}
        self.env.update(
            DFR_MODE="test",
            DFR_CAD__BASE_URL=cad_url,
            DFR_CAD__FORMAT=wire_format,
            DFR_CAD__TOKEN="sim-cad-token",
            DFR_CAD__TIMEOUT_S="2",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*DFR, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )

    async def start(self) -> None:
        self.proc = self._spawn()
        async with httpx.AsyncClient() as client, asyncio.timeout(120):
            while True:
                assert self.proc.poll() is None, "dfr serve exited"
                try:
                    if (await client.get(f"{self.base}/api/v1/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)


@pytest.fixture
async def cad() -> AsyncIterator[SimulatedCad]:
    server = SimulatedCad(token="sim-cad-token", strict_incidents=True)
    await server.start()
    yield server
    await server.close()


async def _wait(predicate: Callable[[], bool], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.05)


async def _scenario(tmp_path: Path, cad: SimulatedCad, wire_format: str, kill: bool) -> None:
    data_dir = tmp_path / "data"
    cad_token = _token(data_dir, "cad", "cad-sim")
    desk = {"Authorization": f"Bearer {_token(data_dir, 'dispatcher', 'desk')}"}
    service = Service(data_dir, cad.base_url, wire_format)
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as client:
            poster = DfrPoster(client, service.base, cad_token, wire_format=wire_format)
            generator = CallGenerator(seed=11)
            incidents = [generator.next_incident() for _ in range(INCIDENTS)]
            for incident in incidents:
                cad.add_incident(incident)
                assert (await poster.post(incident)).status_code == 202
            call_ids = [i.dfr_call_id for i in incidents]
            await cad.set_outage(Outage.UNAVAILABLE)
            for n in range(NOTES):
                r = await client.post(
                    f"/api/v1/calls/{call_ids[n % INCIDENTS]}/notes",
                    json={"text": f"note {n:03d}"},
                    headers=desk,
                )
                assert r.status_code == 201, r.text
            assert _ours(cad) == []
            await cad.set_outage(Outage.SLOW if kill else Outage.NONE, slow_s=0.02)
            if kill:
                await _wait(lambda: len(_ours(cad)) >= NOTES // 4, 300)
                service.kill()
                assert len(_ours(cad)) < NOTES
                await service.start()
            await _wait(lambda: len(_ours(cad)) >= NOTES, 300)
            detail: dict[str, list[dict[str, str]]] = {}
            async with asyncio.timeout(120):
                while True:
                    detail = (await client.get(f"/api/v1/calls/{call_ids[0]}", headers=desk)).json()
                    if all(o["state"] == "delivered" for o in detail["outbound"]):
                        break
                    await asyncio.sleep(0.1)
    finally:
        service.kill(signal.SIGTERM)
    keys = [e.idempotency_key for e in cad.state.events]
    assert len(keys) == len(set(keys))
    assert len(_ours(cad)) == NOTES
    for k, incident in enumerate(incidents):
        texts = [
            _text(e.body)
            for e in _ours(cad)
            if incident.incident_id.lower() in e.incident_id.lower()
        ]
        assert texts == [f"note {n:03d}" for n in range(k, NOTES, INCIDENTS)]
    desk_notes = [n for n in detail["notes"] if n["author"] == "desk"]
    assert len(desk_notes) == NOTES // INCIDENTS


def _ours(cad: SimulatedCad) -> list[Any]:
    """The notes this test wrote (the service adds its own, e.g. dispatch recommendations)."""
    return [e for e in cad.state.events if _text(e.body).startswith("note ")]


def _text(body: dict[str, object]) -> str:
    if "eidoVersion" in body:
        notes = body.get("notesComponent")
        if not isinstance(notes, list) or not notes:
            return ""
        return str(notes[0]["notesActionComments"]).removeprefix("<p>").removesuffix("</p>")
    return str(body.get("text") or "")


async def test_notes_written_while_cad_is_down_arrive_in_order_exactly_once(
    tmp_path: Path, cad: SimulatedCad
) -> None:
    await _scenario(tmp_path, cad, "plain", kill=False)


async def test_delivery_survives_sigkill_mid_delivery_without_loss_or_duplicates(
    tmp_path: Path, cad: SimulatedCad
) -> None:
    await _scenario(tmp_path, cad, "plain", kill=True)


async def test_eido_format_end_to_end_with_cad_down(tmp_path: Path, cad: SimulatedCad) -> None:
    await _scenario(tmp_path, cad, "eido", kill=False)
