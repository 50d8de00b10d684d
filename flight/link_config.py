"""`LinkConfig`: timing, identity and safety settings of a vehicle link."""

from __future__ import annotations

from dataclasses import dataclass, field

from flight.models import SafetyConfig
from flight.signing import SigningSetup


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """Timing, identity and safety settings of a vehicle link (times in clock seconds unless noted)."""

    gcs_sysid: int = 245
    gcs_compid: int = 190
    heartbeat_period_s: float = 1.0
    degraded_after_s: float = 2.0  # heartbeat age that marks the link degraded
    lost_after_s: float = 3.5  # heartbeat age that marks it lost
    #: Wall seconds of silence also needed before the link is lost (0: none). Equal to
    #: `lost_after_s` in real time; with time sped up, it keeps a vehicle process stalled for a
    #: moment (seconds of vehicle time) from reading as a lost link.
    lost_after_wall_s: float = 0.0
    degraded_loss_pct: float = 20.0
    # Protocol retry timers are real seconds: they cover network round trips, not vehicle time.
    command_timeout_s: float = 0.5
    command_retries: int = 3
    command_in_progress_timeout_s: float = 3.0
    mission_timeout_s: float = 0.5
    mission_retries: int = 5
    param_timeout_s: float = 0.5
    param_retries: int = 3
    mission_start_window_s: float = 5.0  # clock seconds PX4 may refuse AUTO.MISSION after upload
    #: PX4's commander re-runs its mode checks every 0.1 s: a refused AUTO.MISSION is asked again then.
    mission_start_retry_s: float = 0.1
    #: Clock seconds an arm refused TEMPORARILY_REJECTED is retried (pre-arm checks that clear by themselves).
    arm_retry_window_s: float = 5.0
    arm_retry_s: float = 0.2
    state_rate_hz: float = 10.0
    orbit_radius_min_m: float = 5.0
    orbit_radius_max_m: float = 1000.0
    speed_max_mps: float = 25.0
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    #: Write and confirm the failsafe parameters as soon as the vehicle connects (not at launch).
    prepare_at_connect: bool = True
    verify_uploads: bool = True
    #: MAVLink 2 signing of this link (None: frames go and are taken unsigned, as before signing).
    signing: SigningSetup | None = None
    #: This many rejected frames (forged, unsigned, replayed, wrong address) within the window
    #: raise one warning event; at most one per window.
    rejected_alert_count: int = 20
    rejected_alert_window_s: float = 10.0
    #: Clock seconds to wait for the vehicle to sign with a key sent by SETUP_SIGNING.
    signing_confirm_timeout_s: float = 10.0
