"""`dfr demo`: the service, a simulated fleet and a simulated CAD, each its own process on real sockets.

The simulated fleet and CAD are started as `dfr-sim` child processes (this package never imports the
simulator); they stop with the service on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from sqlmodel import Session, select

from dfr.camera_views import Actor, IntegratedCameraIn
from dfr.db import make_engine, session_scope, upgrade_schema
from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import Companion
from dfr.models import ApiToken, IntegratedCamera, Role
from dfr.server import serve_app
from dfr.service import Service
from dfr.settings import Settings, load_settings
from dfr.tokens import create_token

log = logging.getLogger(__name__)

#: The demo's simulated fleet control API (faults, true state); away from PX4's ports.
SIM_CONTROL_PORT = 24799
#: Where the demo's simulated cameras send (the demo fleet file's video_url ports, away from 5600).
SIM_VIDEO_BASE_PORT = 25600
#: The demo's business camera (integrated, live during serious calls near it) sends here.
DEMO_BUSINESS_CAMERA_PORT = 25590
DEMO_BUSINESS_CAMERA_AT = (38.8400, -104.7560)
DEMO_BUSINESS_CAMERA_NAME = "Corner shop (demo)"


def _demo_token(url: str, name: str, role: Role) -> str:
    upgrade_schema(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            for old in session.exec(select(ApiToken).where(ApiToken.name == name)).all():
                session.delete(old)
            session.flush()
            _, secret = create_token(session, name, role)
            return secret
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dfr_sim() -> list[str]:
    sibling = Path(sys.executable).parent / "dfr-sim"
    found = str(sibling) if sibling.exists() else shutil.which("dfr-sim")
    if found is None:
        raise SystemExit("dfr demo: the dfr-sim command is not installed")
    return [found]


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


def demo_children(
    settings: Settings,
    *,
    cad_port: int,
    cad_token: str,
    cad_secret: str,
    calls: int,
    interval_s: float,
    residents_token: str | None = None,
) -> Companion:
    """A companion that runs the simulated fleet and CAD beside the service."""

    @asynccontextmanager
    async def component(_service: Service) -> AsyncIterator[None]:
        log_dir = settings.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        fleet_log = (log_dir / "sim-fleet.log").open("ab")
        cad_log = (log_dir / "sim-cad.log").open("ab")
        residents_log = (log_dir / "sim-residents.log").open("ab")
        fleet = await asyncio.create_subprocess_exec(
            *_dfr_sim(),
            "fleet",
            "--fleet",
            str(DEMO_FLEET_FILE),
            "--speedup",
            str(settings.speedup),
            "--gcs-base-port",
            "0",
            "--control-port",
            str(SIM_CONTROL_PORT),
            "--camera",
            "--video-base-port",
            str(SIM_VIDEO_BASE_PORT),
            # The drones keep the signing keys the service gave them across demo restarts, as
            # PX4 keeps its key on its storage.
            "--signing-dir",
            str(settings.data_dir / "sim-signing"),
            stdout=fleet_log,
            stderr=fleet_log,
        )
        procs = [fleet]

        async def start_cad() -> None:
            base = f"http://{settings.host}:{settings.port}"
            async with httpx.AsyncClient() as client:
                for _ in range(600):
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get(f"{base}/api/v1/health")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
            procs.append(
                await asyncio.create_subprocess_exec(
                    *_dfr_sim(),
                    "cad",
                    "serve",
                    "--port",
                    str(cad_port),
                    "--dfr-url",
                    base,
                    "--token",
                    cad_token,
                    "--cad-token",
                    cad_secret,
                    "--count",
                    str(calls),
                    "--interval-s",
                    str(interval_s),
                    "--patrols",
                    "6",
                    stdout=cad_log,
                    stderr=cad_log,
                )
            )
            if residents_token:
                # Residents with cameras around the demo city, answering some footage requests.
                procs.append(
                    await asyncio.create_subprocess_exec(
                        *_dfr_sim(),
                        "residents",
                        "--url",
                        base,
                        "--tester-token",
                        residents_token,
                        "--count",
                        "30",
                        "--business-camera-port",
                        str(DEMO_BUSINESS_CAMERA_PORT),
                        "--business-camera-at",
                        ",".join(str(v) for v in DEMO_BUSINESS_CAMERA_AT),
                        stdout=residents_log,
                        stderr=residents_log,
                    )
                )

            try:
                await _integrate_business_camera(_service, base)
            except Exception:
                log.exception("demo: the shop camera could not be integrated; the demo goes on")

        starter = asyncio.create_task(start_cad())
        try:
            yield
        finally:
            starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starter
            for proc in reversed(procs):
                await _stop(proc)
            fleet_log.close()
            cad_log.close()
            residents_log.close()

    return component


async def _integrate_business_camera(service: Service, base_url: str) -> None:
    """The demo's shop camera, integrated once (its owner's unplug link lands in the demo mailbox)."""

    def integrated() -> bool:
        with Session(service.engine) as session:
            found = session.exec(
                select(IntegratedCamera).where(IntegratedCamera.name == DEMO_BUSINESS_CAMERA_NAME)
            ).first()
            return found is not None

    if await asyncio.to_thread(integrated):
        return
    lat, lon = DEMO_BUSINESS_CAMERA_AT
    await service.integrated_cameras.add_integrated(
        IntegratedCameraIn(
            name=DEMO_BUSINESS_CAMERA_NAME,
            owner_email="owner@cornershop.example",
            lat=lat,
            lon=lon,
            stream_url=f"udp://127.0.0.1:{DEMO_BUSINESS_CAMERA_PORT}",
            feed="front door",
            live_allowed=True,
            max_priority=2,
            radius_m=3000.0,
        ),
        actor=Actor(name="demo", role="admin", address="127.0.0.1"),
        base_url=base_url,
    )


def run_demo(
    port: int, data_dir: Path, *, speedup: float = 5.0, calls: int = 40, interval_s: float = 45.0
) -> None:
    """Start the demo and print how to reach it."""
    cad_port = _free_port()
    cad_secret = os.environ.get("DFR_DEMO_CAD_SECRET") or secrets.token_urlsafe(16)
    settings = load_settings(
        None,
        mode="demo",
        port=port,
        data_dir=data_dir,
        fleet_file=DEMO_FLEET_FILE,
        speedup=speedup,
        cad={"base_url": f"http://127.0.0.1:{cad_port}", "token": cad_secret, "format": "plain"},
        weather={"static_wind_mps": 3.0, "static_gust_mps": 5.0},
        # At x5 a stalled simulator (a browser starting) is seconds of vehicle time: a link is
        # lost only after the same silence in wall time too, as on a real vehicle.
        flight={"heartbeat_timeout_wall_s": 3.5},
        # Owners' emails land in a local SMTP sink, shown at /demo/mail.
        smtp={"sink": True},
        # The simulated residents all register from this host.
        cameras={"registrations_per_hour": 200},
    )
    if settings.map.basemap is None:
        # Offline: a synthetic street grid built here, unless the user set a basemap.
        from dfr.basemap.demo_area import demo_basemap

        basemap = demo_basemap(settings.data_dir)
        if basemap is not None:
            map_settings = settings.map.model_copy(update={"basemap": str(basemap)})
            settings = settings.model_copy(update={"map": map_settings})
    dispatcher = _demo_token(settings.database_url, "demo-dispatcher", Role.DISPATCHER)
    pilot = _demo_token(settings.database_url, "demo-pilot", Role.PILOT)
    admin = _demo_token(settings.database_url, "demo-admin", Role.ADMIN)
    analyst = _demo_token(settings.database_url, "demo-analyst", Role.ANALYST)
    tester = _demo_token(settings.database_url, "demo-tester", Role.TESTER)
    cad_token = _demo_token(settings.database_url, "demo-cad", Role.CAD)

    @asynccontextmanager
    async def announce(_service: Service) -> AsyncIterator[None]:
        base = f"http://{settings.host}:{settings.port}"
        sys.stderr.write(
            f"\nDFR demo is running (simulated fleet and CAD, time x{settings.speedup:g}).\n"
            f"  console:          {base}/\n"
            f"  API docs:         {base}/docs\n"
            f"  dispatcher token: {dispatcher}\n"
            f"  pilot token:      {pilot}\n"
            f"  admin token:      {admin}\n"
            f"  analyst token:    {analyst} (cameras near a call, footage requests)\n"
            f"  register camera:  {base}/console/register.html\n"
            f"  demo mailbox:     {base}/demo/mail (admin token)\n"
            f"  simulated CAD:    http://127.0.0.1:{cad_port}/events (what DFR wrote back)\n"
            "Press Ctrl-C to stop.\n\n"
        )
        yield

    children = demo_children(
        settings,
        cad_port=cad_port,
        cad_token=cad_token,
        cad_secret=cad_secret,
        calls=calls,
        interval_s=interval_s,
        residents_token=tester,
    )
    serve_app(settings, companions=[children, announce])
