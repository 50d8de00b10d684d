"""One simulated camera per drone of a fleet, posed from each drone's true state.

Each camera sends RTP/H.264 to 127.0.0.1 on its drone's `video_port` (the port its
VIDEO_STREAM_INFORMATION announces). Frames are paced in wall time whatever the simulation speed-up:
the picture is what a real camera would show now, and its stamp is the wall-clock capture time.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .camera import CameraConfig, SimCamera
from .camera_render import CameraPose
from .drone import SimDrone
from .errors import SimConfigError

log = logging.getLogger(__name__)

MAX_SIDE_PX = 1920
MIN_SIDE_PX = 64


@dataclass(frozen=True, slots=True)
class FleetCameraOptions:
    """Picture size, rate and view of every drone's camera (modest defaults: many drones share a CPU)."""

    width_px: int = 640
    height_px: int = 360
    fps: int = 10
    bitrate_kbps: int = 1000
    gimbal_pitch_deg: float = -90.0  # straight down

    def __post_init__(self) -> None:
        for name, side in (("width", self.width_px), ("height", self.height_px)):
            if not MIN_SIDE_PX <= side <= MAX_SIDE_PX or side % 2:
                raise SimConfigError(
                    f"camera {name} {side} px must be even and within {MIN_SIDE_PX}..{MAX_SIDE_PX}"
                )
        if not 1 <= self.fps <= 60:
            raise SimConfigError(f"camera rate {self.fps} fps must be within 1..60")
        if not 100 <= self.bitrate_kbps <= 20_000:
            raise SimConfigError(f"camera bitrate {self.bitrate_kbps} kbit/s out of 100..20000")
        if not -90.0 <= self.gimbal_pitch_deg <= 0.0:
            raise SimConfigError("gimbal pitch must be within -90 (down) .. 0 (horizon) degrees")


def parse_camera_size(text: str) -> tuple[int, int]:
    """Width and height from "WxH" (e.g. "640x360")."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.strip().isdigit() or not height.strip().isdigit():
        raise SimConfigError(f"camera size must be WIDTHxHEIGHT, got {text!r}")
    return int(width), int(height)


def drone_pose(drone: SimDrone) -> CameraPose:
    """The camera pose of a drone now: its true position, height above home, heading and gimbal."""
    snap = drone.snapshot()
    gimbal = drone.gimbal
    return CameraPose(
        lat_deg=snap.lat_deg,
        lon_deg=snap.lon_deg,
        alt_agl_m=max(0.0, snap.alt_rel_home_m),
        yaw_deg=(math.degrees(snap.yaw_rad) + gimbal.yaw_deg) % 360.0,
        gimbal_pitch_deg=gimbal.pitch_deg,
    )


class FleetCameras:
    """Cameras of a set of drones: `start()` streams them all, `stop()` ends them."""

    def __init__(self, drones: Sequence[SimDrone], options: FleetCameraOptions) -> None:
        self.options = options
        self.cameras: list[SimCamera] = []
        for drone in drones:
            cfg = drone.cfg
            self.cameras.append(
                SimCamera(
                    CameraConfig(
                        port=cfg.video_port,
                        host=cfg.host,
                        width_px=options.width_px,
                        height_px=options.height_px,
                        fps=options.fps,
                        bitrate_kbps=options.bitrate_kbps,
                        keyint_frames=options.fps,  # one IDR per second: a new viewer waits <= 1 s
                        label=f"SYS {drone.sysid}",
                    ),
                    self._pose_source(drone),
                )
            )
        self._tasks: list[asyncio.Task[None]] = []

    def _pose_source(self, drone: SimDrone) -> _DronePose:
        # The option is where the gimbal rests until a gimbal manager command moves it.
        drone.gimbal.neutral_pitch_deg = drone.gimbal.pitch_deg = self.options.gimbal_pitch_deg
        return _DronePose(drone)

    def start(self) -> None:
        """Start every camera on the running loop."""
        for index, camera in enumerate(self.cameras):
            task = asyncio.create_task(camera.run(), name=f"sim-camera-{index}")
            task.add_done_callback(_log_end)
            self._tasks.append(task)

    async def stop(self) -> None:
        """Stop every camera."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class _DronePose:
    drone: SimDrone

    def __call__(self) -> CameraPose:
        return drone_pose(self.drone)


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped: %s", task.get_name(), task.exception())
