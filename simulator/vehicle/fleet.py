"""Many simulated drones in one asyncio process, ticked by one loop on a shared sped-up clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from .camera_fleet import FleetCameraOptions, FleetCameras
from .clock import SimClock
from .config import DroneConfig
from .drone import SimDrone
from .errors import SimConfigError, UnknownDroneError
from .signing import KEY_BYTES, VehicleSigning

log = logging.getLogger(__name__)

PX4_API_BASE_PORT = 14580
PX4_CLIENT_BASE_PORT = 14540
PX4_GCS_BASE_PORT = 18570
PX4_GCS_REMOTE_PORT = 14550
VIDEO_BASE_PORT = 5600
API_PORT_OFFSET = 40  # PX4 SITL pairs 14580+i (vehicle) with 14540+i (client)
TICK_S = 0.02  # one physics step at 1x
MIN_TICK_WALL_S = 0.004


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Everything needed to start a fleet; `drones` entries are per-drone configs."""

    drones: tuple[DroneConfig, ...]
    speedup: float = 1.0
    camera: FleetCameraOptions | None = None  # None: no video is sent (only announced)


def with_cameras(config: FleetConfig, options: FleetCameraOptions) -> FleetConfig:
    """`config` with a camera on every drone; VIDEO_STREAM_INFORMATION announces what it sends."""
    drones = tuple(
        replace(
            d,
            video_fps=float(options.fps),
            video_width_px=options.width_px,
            video_height_px=options.height_px,
            video_bitrate_kbps=options.bitrate_kbps,
        )
        for d in config.drones
    )
    return replace(config, drones=drones, camera=options)


def build_fleet_config(
    count: int,
    homes: list[tuple[float, float, float]],
    *,
    speedup: float = 1.0,
    api_base_port: int = PX4_API_BASE_PORT,
    client_base_port: int = PX4_CLIENT_BASE_PORT,
    gcs_base_port: int | None = PX4_GCS_BASE_PORT,
    gcs_remote_port: int = PX4_GCS_REMOTE_PORT,
    video_base_port: int = VIDEO_BASE_PORT,
    seed: int = 0,
    params: dict[str, float] | None = None,
    max_stream_hz: float | None = None,
    dock_charge_s: float = 0.0,
) -> FleetConfig:
    """N drones like PX4 SITL instances 0..N-1; homes cycle through `homes` (lat, lon, alt AMSL)."""
    if count < 1:
        raise SimConfigError("a fleet needs at least one drone")
    if not homes:
        raise SimConfigError("at least one home position is required")
    for lat, lon, _ in homes:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise SimConfigError(f"impossible home position {lat},{lon}")
    top = max(api_base_port, client_base_port, gcs_base_port or 0, video_base_port) + count - 1
    if top > 65535 or min(api_base_port, client_base_port, video_base_port) < 1:
        raise SimConfigError("ports out of range")
    drones = [
        replace(
            _drone_config(
                i,
                homes[i % len(homes)],
                api_base_port + i,
                client_base_port + i,
                gcs_base_port,
                video_base_port + i,
                seed,
                dock_charge_s,
            ),
            gcs_remote_port=gcs_remote_port,
            params=dict(params or {}),
            max_stream_hz=max_stream_hz,
        )
        for i in range(count)
    ]
    return FleetConfig(tuple(drones), speedup)


def _drone_config(
    index: int,
    home: tuple[float, float, float],
    api_port: int,
    client_port: int,
    gcs_base_port: int | None,
    video_port: int,
    seed: int,
    dock_charge_s: float,
) -> DroneConfig:
    """Drone `index` at `home` (lat, lon, alt AMSL); its GCS link port is `gcs_base_port + index`."""
    lat, lon, alt = home
    return DroneConfig(
        index=index,
        home_lat_deg=lat,
        home_lon_deg=lon,
        home_alt_amsl_m=alt,
        api_port=api_port,
        client_port=client_port,
        gcs_port=None if gcs_base_port is None else gcs_base_port + index,
        video_port=video_port,
        seed=seed,
        dock_charge_s=dock_charge_s,
    )


def load_fleet_file(
    path: Path,
    *,
    speedup: float = 1.0,
    gcs_base_port: int | None = PX4_GCS_BASE_PORT,
    video_base_port: int = VIDEO_BASE_PORT,
    seed: int = 0,
    dock_charge_s: float = 0.0,
) -> FleetConfig:
    """Drones of the service's TOML fleet file: home at their dock, client port from `mavlink_url`, api = client + 40."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SimConfigError(f"cannot read fleet file {path}: {exc}") from exc
    docks = {}
    for dock in data.get("docks", []):
        try:
            docks[str(dock["id"])] = (
                float(dock["lat"]),
                float(dock["lon"]),
                float(dock.get("alt_amsl_m", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SimConfigError(f"bad dock entry {dock!r}") from exc
    drones = []
    for i, entry in enumerate(data.get("drones", [])):
        dock_id = str(entry.get("dock", ""))
        if dock_id not in docks:
            raise SimConfigError(f"drone {entry.get('id')!r} names unknown dock {dock_id!r}")
        url = urlparse(str(entry.get("mavlink_url", "")))
        if url.port is None:
            raise SimConfigError(f"drone {entry.get('id')!r} has no port in mavlink_url")
        client_port = url.port
        api_port = int(entry.get("sim_api_port", client_port + API_PORT_OFFSET))
        video_port = _video_port(entry, video_base_port + i)
        config = _drone_config(
            i,
            docks[dock_id],
            api_port,
            client_port,
            gcs_base_port,
            video_port,
            seed,
            dock_charge_s,
        )
        drones.append(replace(config, signing_key=_signing_key(entry)))
    if not drones:
        raise SimConfigError(f"fleet file {path} lists no drones")
    return FleetConfig(tuple(drones), speedup)


def _signing_key(entry: dict[str, object]) -> bytes | None:
    """The drone's `signing_key` (64 hex digits) from the fleet file, preloaded as PX4 would hold it."""
    raw = entry.get("signing_key")
    if raw is None:
        return None
    try:
        key = bytes.fromhex(str(raw))
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise SimConfigError(
            f"drone {entry.get('id')!r}: signing_key must be {KEY_BYTES * 2} hex digits"
        )
    return key


def with_signing_dir(config: FleetConfig, signing_dir: Path) -> FleetConfig:
    """`config` with each drone keeping its signing key in `signing_dir` (one file per drone)."""
    drones = tuple(
        replace(d, signing_key_file=signing_dir / f"sysid{d.system_id}.key")
        if d.signing_key_file is None
        else d
        for d in config.drones
    )
    return replace(config, drones=drones)


def _video_port(entry: dict[str, object], default: int) -> int:
    """The port of the drone's `video_url` (where the service listens), else `default`."""
    raw = entry.get("video_url")
    if raw is None:
        port = default
    else:
        try:
            port = urlparse(str(raw)).port or 0
        except ValueError:
            port = 0
        if not port:
            raise SimConfigError(
                f"drone {entry.get('id')!r} has no usable port in video_url {raw!r}"
            )
    if not 0 < port < 65536:
        raise SimConfigError(f"drone {entry.get('id')!r}: video port {port} out of range")
    return port


@dataclass(slots=True)
class _Runner:
    task: asyncio.Task[None] | None = None
    ticks: int = 0
    overruns: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)


class SimFleet:
    """Async context manager running the fleet: `async with SimFleet(cfg) as fleet: fleet.drone(0)`."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.clock = SimClock(config.speedup)
        self.drones: list[SimDrone] = [SimDrone(dc, self.clock) for dc in config.drones]
        self.cameras: FleetCameras | None = (
            None if config.camera is None else FleetCameras(self.drones, config.camera)
        )
        self._runner = _Runner()

    def drone(self, index: int) -> SimDrone:
        """Drone `index` (0-based, system id index+1)."""
        if not 0 <= index < len(self.drones):
            raise UnknownDroneError(f"no drone {index} (fleet has {len(self.drones)})")
        return self.drones[index]

    async def start(self) -> None:
        """Bind every drone's sockets and start ticking."""
        try:
            for d in self.drones:
                await d.start()
                signing = VehicleSigning(
                    d.sysid,
                    key_file=d.cfg.signing_key_file,
                    preload_key=d.cfg.signing_key,
                )
                for link_id, link in enumerate(d.links):
                    link.signing = signing
                    link.link_id = link_id
        except OSError as exc:
            self.close()
            raise SimConfigError(f"cannot bind simulator ports: {exc}") from exc
        self._runner.task = asyncio.create_task(self._run(), name="sim-fleet")
        if self.cameras is not None:
            self.cameras.start()

    async def _run(self) -> None:
        wall_tick = max(TICK_S / self.clock.speedup, MIN_TICK_WALL_S)
        loop = asyncio.get_running_loop()
        next_wall = loop.time()
        while not self._runner.stop.is_set():
            now = self.clock.now_s()
            for d in self.drones:
                try:
                    d.tick(now)
                except Exception:
                    log.exception("drone %d tick failed", d.index)
            self._runner.ticks += 1
            next_wall += wall_tick
            delay = next_wall - loop.time()
            if delay < 0:
                self._runner.overruns += 1
                next_wall = loop.time()
                delay = 0
            await asyncio.sleep(delay)

    @property
    def ticks(self) -> int:
        """Fleet loop iterations so far."""
        return self._runner.ticks

    async def stop(self) -> None:
        """Stop ticking and close sockets."""
        if self.cameras is not None:
            await self.cameras.stop()
        self._runner.stop.set()
        task = self._runner.task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.close()

    def close(self) -> None:
        """Close every socket."""
        for d in self.drones:
            d.close()

    async def __aenter__(self) -> SimFleet:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
