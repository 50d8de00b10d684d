"""Which messages a drone streams on each link, and when each is next due (PX4's per-instance rates)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from pymavlink.dialects.v20 import common as M  # noqa: N812


@dataclass(slots=True)
class Stream:
    """A periodic message on one link."""

    msg_id: int
    default_hz: float
    interval_s: float
    next_due_s: float = 0.0


# (message id, onboard-link Hz, normal/GCS-link Hz) from PX4's configure_streams_to_default.
STREAM_TABLE: tuple[tuple[int, float, float], ...] = (
    (M.MAVLINK_MSG_ID_HEARTBEAT, 1.0, 1.0),
    (M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, 50.0, 5.0),
    (M.MAVLINK_MSG_ID_ATTITUDE, 100.0, 15.0),
    (M.MAVLINK_MSG_ID_SYS_STATUS, 5.0, 1.0),
    (M.MAVLINK_MSG_ID_BATTERY_STATUS, 0.5, 0.5),
    (M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE, 5.0, 1.0),
    (M.MAVLINK_MSG_ID_HOME_POSITION, 0.5, 0.5),
    (M.MAVLINK_MSG_ID_GPS_RAW_INT, 10.0, 5.0),
    (M.MAVLINK_MSG_ID_VFR_HUD, 10.0, 4.0),
    (M.MAVLINK_MSG_ID_ALTITUDE, 10.0, 1.0),
    (M.MAVLINK_MSG_ID_MISSION_CURRENT, 1.0, 1.0),
    (M.MAVLINK_MSG_ID_ORBIT_EXECUTION_STATUS, 2.0, 2.0),
    (M.MAVLINK_MSG_ID_GIMBAL_DEVICE_ATTITUDE_STATUS, 1.0, 1.0),
    (M.MAVLINK_MSG_ID_GIMBAL_MANAGER_STATUS, 0.5, 0.5),
)


class Streams:
    """Stream tables of every link, rates capped at `max_hz` (None: PX4's rates)."""

    def __init__(self, max_hz: float | None) -> None:
        self._max_hz = max_hz
        self.by_link: dict[str, dict[int, Stream]] = {}

    def interval_s(self, hz: float) -> float:
        """Seconds between two messages at `hz`, capped; never for 0 Hz."""
        if self._max_hz is not None:
            hz = min(hz, self._max_hz)
        return 1.0 / hz if hz > 0 else math.inf

    def add_link(self, name: str, onboard: bool, now_s: float) -> None:
        """PX4's default streams of an onboard (API) or normal (GCS) link, all due now."""
        table: dict[int, Stream] = {}
        for msg_id, onboard_hz, normal_hz in STREAM_TABLE:
            hz = onboard_hz if onboard else normal_hz
            table[msg_id] = Stream(msg_id, hz, self.interval_s(hz), now_s)
        self.by_link[name] = table

    def due(self, link_name: str, now_s: float) -> Iterator[int]:
        """Message ids due on the link now; each is rescheduled as it is yielded."""
        for st in self.by_link[link_name].values():
            if now_s < st.next_due_s:
                continue
            st.next_due_s = max(st.next_due_s + st.interval_s, now_s - st.interval_s)
            yield st.msg_id

    def set_interval(self, link_name: str, msg_id: int, interval_us: float, now_s: float) -> bool:
        """SET_MESSAGE_INTERVAL: <0 stops, 0 restores the default; False for what cannot be set."""
        st = self.by_link[link_name].get(msg_id)
        if st is None or msg_id == M.MAVLINK_MSG_ID_HEARTBEAT or not math.isfinite(interval_us):
            return False
        if interval_us < 0:
            st.interval_s = math.inf
        elif interval_us == 0:
            st.interval_s = self.interval_s(st.default_hz)
        else:
            hz = 1e6 / interval_us
            st.interval_s = self.interval_s(hz)
        st.next_due_s = now_s
        return True

    def get(self, link_name: str, msg_id: int) -> Stream:
        """One stream of one link."""
        return self.by_link[link_name][msg_id]
