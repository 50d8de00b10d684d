"""What one simulated drone is told at boot: identity, home, ports, video and seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class DroneConfig:
    """Identity, home and ports of drone `index` (PX4 SITL instance i)."""

    index: int
    home_lat_deg: float
    home_lon_deg: float
    home_alt_amsl_m: float
    api_port: int
    client_port: int
    gcs_port: int | None = None
    gcs_remote_port: int = 14550
    video_port: int = 5600
    #: What VIDEO_STREAM_INFORMATION announces; the fleet sets it to what its camera really sends.
    video_fps: float = 30.0
    video_width_px: int = 640
    video_height_px: int = 360
    video_bitrate_kbps: int = 2048
    seed: int = 0
    params: dict[str, float] = field(default_factory=dict)
    max_stream_hz: float | None = None
    host: str = "127.0.0.1"
    #: Simulated seconds to charge an empty battery on the dock after a flight; 0 = full at
    #: disarm, as PX4 SITL's battery simulator resets to full whenever it is disarmed.
    dock_charge_s: float = 0.0
    #: MAVLink signing key the vehicle starts with (as if set earlier by SETUP_SIGNING); None: none.
    signing_key: bytes | None = field(default=None, repr=False)
    #: Where the vehicle keeps its signing key across restarts (PX4's secret file); None: memory only.
    signing_key_file: Path | None = None

    @property
    def system_id(self) -> int:
        """MAV_SYS_ID = instance + 1."""
        return self.index + 1
