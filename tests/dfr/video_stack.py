"""`dfr serve` and `dfr-sim fleet --camera` as real processes on free loopback ports (video tests).

The fleet is the demo's first `drones` drones (D1 by default: one camera keeps the CPU low), with
their MAVLink and video ports replaced by free ones; the service listens for each drone's video at
the fleet file's `video_url`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Self

import httpx

from dfr.fleet import DEMO_FLEET_FILE
from simulator.scenarios.ports import free_port, free_udp_pair
from tests.conftest import free_tcp_port

DFR = [sys.executable, "-m", "dfr"]
SAND_CREEK = (38.8339, -104.7470)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DFR_")}


def _dfr_sim() -> str:
    sibling = Path(sys.executable).parent / "dfr-sim"
    return str(sibling) if sibling.exists() else shutil.which("dfr-sim") or "dfr-sim"


def drone_ports(used: set[int]) -> tuple[int, int]:
    """Free UDP ports for one drone, (MAVLink, video), added to `used`; MAVLink + 40 is free too."""
    mavlink_port = free_udp_pair(used)
    return mavlink_port, free_port(socket.SOCK_DGRAM, avoid=used)


def one_drone_fleet_file(directory: Path, mavlink_port: int, video_port: int) -> Path:
    """The demo fleet file reduced to D1, on the given ports."""
    return demo_fleet_file(directory, [(mavlink_port, video_port)])


def demo_fleet_file(directory: Path, ports: list[tuple[int, int]]) -> Path:
    """The demo fleet file reduced to D1..Dn, drone i on ports[i] (MAVLink, video)."""
    text = DEMO_FLEET_FILE.read_text(encoding="utf-8")
    last = f'id = "D{len(ports)}"'
    end = text.find("[[drones]]", text.index(last))
    text = text if end < 0 else text[:end]
    mavlink = iter(ports)
    text = re.sub(
        r"udpin://127\.0\.0\.1:\d+", lambda _: f"udpin://127.0.0.1:{next(mavlink)[0]}", text
    )
    video = iter(ports)
    text = re.sub(r"udp://127\.0\.0\.1:\d+", lambda _: f"udp://127.0.0.1:{next(video)[1]}", text)
    # Zone documents named `package:...` resolve wherever the file is.
    path = directory / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class VideoStack:
    """The running service and simulated drone with camera."""

    work_dir: Path
    speedup: float = 5.0
    camera_size: str = "320x180"
    camera_fps: int = 15
    drones: int = 1
    #: Privacy in transit (on in production); the evidence tests record whole flights without it.
    privacy_transit: bool = False
    base_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    data_dir: Path = field(init=False)
    fleet_file: Path = field(init=False)
    control_port: int = field(init=False)
    video_port: int = field(init=False)
    video_ports: list[int] = field(init=False)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        used: set[int] = set()
        ports = [drone_ports(used) for _ in range(self.drones)]
        self.video_ports = [video for _, video in ports]
        self.video_port = self.video_ports[0]
        self.control_port = free_tcp_port()
        self.data_dir = self.work_dir / "data"
        self.fleet_file = demo_fleet_file(self.work_dir, ports)

    def token(self, role: str) -> str:
        """A token of `role` (made once per role)."""
        if role not in self.tokens:
            out = subprocess.run(
                [*DFR, "token", "create", "--role", role, "--name", f"video-{role}"]
                + ["--data-dir", str(self.data_dir)],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
                env=_clean_env(),
            )
            self.tokens[role] = out.stdout.strip()
        return self.tokens[role]

    def client(self, role: str) -> httpx.AsyncClient:
        """An HTTP client of the service with a `role` token."""
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token(role)}"},
            timeout=30,
        )

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = (self.work_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        self._procs.append(subprocess.Popen(argv, stdout=log, stderr=log, env=env))

    async def __aenter__(self) -> Self:
        for role in ("pilot", "analyst"):
            self.token(role)
        dfr_sim = _dfr_sim()
        self._spawn(
            "fleet",
            [dfr_sim, "fleet", "--fleet", str(self.fleet_file), "--speedup", f"{self.speedup:g}"]
            + ["--gcs-base-port", "0", "--control-port", str(self.control_port), "--camera"]
            + ["--camera-size", self.camera_size, "--camera-fps", str(self.camera_fps)],
            _clean_env(),
        )
        port = free_tcp_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self._spawn_service()
        try:
            await self._wait_up(f"{self.base_url}/api/v1/health")
            await self._wait_up(f"http://127.0.0.1:{self.control_port}/drones")
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn_service(self) -> None:
        env = _clean_env()
        env.update(
            DFR_MODE="test",
            DFR_SPEEDUP=f"{self.speedup:g}",
            DFR_WEATHER__STATIC_WIND_MPS="3",
            DFR_PRIVACY__TRANSIT_MODE=str(self.privacy_transit).lower(),
        )
        port = self.base_url.rsplit(":", 1)[1]
        self._spawn(
            "service",
            [*DFR, "serve", "--port", port, "--data-dir", str(self.data_dir)]
            + ["--fleet", str(self.fleet_file)],
            env,
        )

    async def kill_and_restart_service(self) -> None:
        """SIGKILL the service (no clean shutdown) and start it again on the same port and data."""
        service = next(p for p in self._procs if p.args[: len(DFR)] == DFR)  # type: ignore[index]
        service.kill()
        await asyncio.to_thread(service.wait, 30)
        self._procs.remove(service)
        self._spawn_service()
        await self._wait_up(f"{self.base_url}/api/v1/health")

    async def _wait_up(self, url: str) -> None:
        async with httpx.AsyncClient() as client, asyncio.timeout(120):
            while True:
                for proc in self._procs:
                    if proc.poll() is not None:
                        raise RuntimeError(f"{proc.args!r} exited; see logs in {self.work_dir}")
                try:
                    if (await client.get(url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM the service, SIGINT the fleet; kill what does not stop."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                service = isinstance(proc.args, list) and proc.args[0] == DFR[0]
                proc.send_signal(signal.SIGTERM if service else signal.SIGINT)
        for proc in self._procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        for log in self._logs:
            log.close()
        self._procs.clear()
        self._logs.clear()

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)
