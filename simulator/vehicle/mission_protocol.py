"""The MAVLink mission microservice as PX4's MavlinkMissionManager runs it (upload, download, clear, set current)."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any, Protocol

from pymavlink.dialects.v20 import common as M  # noqa: N812

from .link import Link
from .mission import MAX_ITEMS, Item, MissionResult, MissionType, Plans, validate_item
from .view import SEVERITY_CRITICAL

RETRY_TIMEOUT_S = 0.5  # MAVLINK_MISSION_RETRY_TIMEOUT_DEFAULT
PROTOCOL_TIMEOUT_S = 5.0  # MAVLINK_MISSION_PROTOCOL_TIMEOUT_DEFAULT
_PLANNER_COMPONENT = 190


class _State(Enum):
    IDLE = 0
    GETLIST = 1
    SENDLIST = 2


class MissionHost(Protocol):
    """The drone as its mission manager sees it: plan storage and what a change of plan triggers."""

    sysid: int
    plans: Plans

    def announce(self, severity: int, text: str) -> None:
        """STATUSTEXT on every link."""
        ...

    def plan_uploaded(self, mission_type: MissionType, now_s: float) -> None:
        """A stored plan changed (upload or clear)."""
        ...

    def mission_set_current(self, seq: int) -> None:
        """Continue the mission from item `seq`."""
        ...


class MissionProtocol:
    """One transfer at a time per vehicle; timing from the simulation clock."""

    def __init__(self, drone: MissionHost) -> None:
        self._d = drone
        self._state = _State.IDLE
        self._link: Link | None = None
        self._partner: tuple[int, int] = (0, 0)
        self._type = MissionType.MISSION
        self._count = 0
        self._seq = 0
        self._items: list[Item] = []
        self._last_recv_s = 0.0
        self._last_send_s = 0.0
        self._last_done_count = -1
        self._last_done_type = MissionType.MISSION

    def _targets_me(self, msg: Any) -> bool:
        comp = getattr(msg, "target_component", 0)
        return bool(msg.target_system == self._d.sysid and comp in (1, _PLANNER_COMPONENT, 0))

    def _ack(self, link: Link, partner: tuple[int, int], result: int, mission_type: int) -> None:
        link.send(M.MAVLink_mission_ack_message(partner[0], partner[1], result, mission_type))

    def _idle(self) -> None:
        self._state = _State.IDLE
        self._link = None

    def handle(self, link: Link, msg: Any, now: float) -> None:
        """Handle one MISSION_* message."""
        mtype = msg.get_type()
        if mtype in ("MISSION_CURRENT", "MISSION_ITEM_REACHED"):
            return
        if not self._targets_me(msg):
            return
        partner = (msg.get_srcSystem(), msg.get_srcComponent())
        mission_type = _mission_type(getattr(msg, "mission_type", 0))
        if mtype == "MISSION_COUNT":
            self._on_count(link, partner, msg.count, mission_type, now)
        elif mtype in ("MISSION_ITEM_INT", "MISSION_ITEM"):
            if mtype == "MISSION_ITEM_INT":
                link.int_mode = True
            self._on_item(link, partner, msg, mtype == "MISSION_ITEM_INT", mission_type, now)
        elif mtype in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            if mtype == "MISSION_REQUEST_INT":
                link.int_mode = True
            self._on_request(
                link, partner, msg.seq, mtype == "MISSION_REQUEST_INT", mission_type, now
            )
        elif mtype == "MISSION_REQUEST_LIST":
            self._on_request_list(link, partner, mission_type, now)
        elif mtype == "MISSION_ACK":
            self._on_ack(link, msg, now)
        elif mtype == "MISSION_CLEAR_ALL":
            self._on_clear(link, partner, getattr(msg, "mission_type", 0), now)
        elif mtype == "MISSION_SET_CURRENT":
            self._on_set_current(link, msg.seq, now)

    # --- upload -------------------------------------------------------------------------------
    def _request(self, seq: int, now: float) -> None:
        link = self._link
        if link is None:
            return
        ts, tc = self._partner
        if link.int_mode:
            link.send(M.MAVLink_mission_request_int_message(ts, tc, seq, int(self._type)))
        else:
            link.send(M.MAVLink_mission_request_message(ts, tc, seq, int(self._type)))
        self._last_send_s = now

    def _on_count(
        self,
        link: Link,
        partner: tuple[int, int],
        count: int,
        mtype: MissionType | None,
        now: float,
    ) -> None:
        if mtype is None or mtype is MissionType.ALL:
            self._ack(link, partner, MissionResult.UNSUPPORTED, 0)
            return
        if self._state is _State.GETLIST and link is self._link and partner == self._partner:
            if self._seq == 0 and count == self._count:
                self._request(0, now)  # our first request was probably lost
                return
        if self._state is not _State.IDLE:
            self._d.announce(SEVERITY_CRITICAL, "WPM: IGN MISSION_COUNT: Busy")
            self._ack(link, partner, MissionResult.ERROR, int(mtype))
            return
        if count > MAX_ITEMS[mtype]:
            self._d.announce(SEVERITY_CRITICAL, "Mission upload: too many items")
            self._ack(link, partner, MissionResult.NO_SPACE, int(mtype))
            return
        if count == 0:
            self._d.plans.put(mtype, [])
            self._d.plan_uploaded(mtype, now)
            self._ack(link, partner, MissionResult.ACCEPTED, int(mtype))
            return
        self._state = _State.GETLIST
        self._link, self._partner, self._type = link, partner, mtype
        self._count, self._seq, self._items = count, 0, []
        self._last_recv_s = now
        self._request(0, now)

    def _on_item(
        self,
        link: Link,
        partner: tuple[int, int],
        msg: Any,
        is_int: bool,
        mtype: MissionType | None,
        now: float,
    ) -> None:
        if self._state is _State.IDLE:
            if (
                self._last_done_count > 0
                and msg.seq == self._last_done_count - 1
                and mtype is self._last_done_type
            ):
                self._ack(
                    link, partner, MissionResult.ACCEPTED, int(self._last_done_type)
                )  # duplicate last item
            else:
                self._d.announce(SEVERITY_CRITICAL, "IGN MISSION_ITEM: No transfer")
                self._ack(link, partner, MissionResult.ERROR, getattr(msg, "mission_type", 0))
            return
        if self._state is not _State.GETLIST or link is not self._link:
            self._d.announce(SEVERITY_CRITICAL, "IGN MISSION_ITEM: Busy")
            self._ack(link, partner, MissionResult.ERROR, getattr(msg, "mission_type", 0))
            return
        self._last_recv_s = now
        if mtype is not self._type:
            self._ack(link, partner, MissionResult.ERROR, int(self._type))
            self._idle()
            return
        if msg.seq != self._seq:
            return  # PX4 ignores it; the retry timer re-requests the expected item
        if is_int:
            x, y = int(msg.x), int(msg.y)
        else:
            x = int(round(msg.x * 1e7)) if math.isfinite(msg.x) else 0x7FFFFFFF
            y = int(round(msg.y * 1e7)) if math.isfinite(msg.y) else 0x7FFFFFFF
        item = Item(
            seq=msg.seq,
            frame=msg.frame,
            command=msg.command,
            autocontinue=msg.autocontinue,
            param1=msg.param1,
            param2=msg.param2,
            param3=msg.param3,
            param4=msg.param4,
            x=x,
            y=y,
            z=msg.z,
            mission_type=int(self._type),
        )
        result = validate_item(item, self._type)
        if result is not MissionResult.ACCEPTED:
            self._d.announce(SEVERITY_CRITICAL, f"Mission item {msg.seq} rejected ({result.name})")
            self._ack(link, partner, result, int(self._type))
            self._idle()
            return
        self._items.append(item)
        self._seq += 1
        if self._seq < self._count:
            self._request(self._seq, now)
            return
        self._d.plans.put(self._type, self._items)
        self._last_done_count, self._last_done_type = self._count, self._type
        self._idle()
        self._ack(link, partner, MissionResult.ACCEPTED, int(self._type))
        self._d.plan_uploaded(self._type, now)

    # --- download -----------------------------------------------------------------------------
    def _on_request_list(
        self, link: Link, partner: tuple[int, int], mtype: MissionType | None, now: float
    ) -> None:
        if mtype is None or mtype is MissionType.ALL:
            self._ack(link, partner, MissionResult.UNSUPPORTED, 0)
            return
        if self._state is _State.GETLIST:
            self._d.announce(SEVERITY_CRITICAL, "Mission download: busy")
            self._ack(link, partner, MissionResult.ERROR, int(mtype))
            return
        items = self._d.plans.get(mtype)
        link.send(M.MAVLink_mission_count_message(partner[0], partner[1], len(items), int(mtype)))
        if items:
            self._state = _State.SENDLIST
            self._link, self._partner, self._type = link, partner, mtype
            self._last_recv_s = now

    def _on_request(
        self,
        link: Link,
        partner: tuple[int, int],
        seq: int,
        is_int: bool,
        mtype: MissionType | None,
        now: float,
    ) -> None:
        if mtype is None or mtype is MissionType.ALL:
            return
        items = self._d.plans.get(mtype)
        if self._state is _State.GETLIST:
            self._ack(link, partner, MissionResult.ERROR, int(mtype))
            return
        if seq >= len(items):
            self._ack(link, partner, MissionResult.INVALID_SEQUENCE, int(mtype))
            self._idle()
            return
        self._last_recv_s = now
        it = items[seq]
        current = 1 if mtype is MissionType.MISSION and seq == self._d.plans.current_seq else 0
        head = (partner[0], partner[1], seq, it.frame, it.command, current, it.autocontinue)
        params = (it.param1, it.param2, it.param3, it.param4)
        if is_int:
            msg = M.MAVLink_mission_item_int_message(*head, *params, it.x, it.y, it.z, int(mtype))
        else:
            msg = M.MAVLink_mission_item_message(
                *head, *params, it.x / 1e7, it.y / 1e7, it.z, int(mtype)
            )
        link.send(msg)

    def _on_ack(self, link: Link, msg: Any, now: float) -> None:
        if (
            self._state is _State.GETLIST
            and link is self._link
            and msg.type == MissionResult.UNSUPPORTED
        ):
            # MAVSDK answers a non-INT MISSION_REQUEST this way: switch to INT and re-request.
            link.int_mode = True
            self._last_recv_s = now
            self._request(self._seq, now)
            return
        if self._state is _State.SENDLIST and link is self._link:
            self._idle()
            return
        if (
            self._state is _State.GETLIST
            and link is self._link
            and msg.type != MissionResult.ACCEPTED
        ):
            self._d.announce(SEVERITY_CRITICAL, "Mission upload cancelled")
            self._idle()

    def _on_clear(self, link: Link, partner: tuple[int, int], raw_type: int, now: float) -> None:
        if self._state is not _State.IDLE:
            self._ack(link, partner, MissionResult.ERROR, raw_type)
            return
        if raw_type == MissionType.ALL:
            for t in (MissionType.MISSION, MissionType.FENCE, MissionType.RALLY):
                self._d.plans.put(t, [])
            self._d.plan_uploaded(MissionType.ALL, now)
        else:
            mtype = _mission_type(raw_type)
            if mtype is None:
                self._ack(link, partner, MissionResult.UNSUPPORTED, raw_type)
                return
            self._d.plans.put(mtype, [])
            self._d.plan_uploaded(mtype, now)
        self._last_done_count = -1
        self._ack(link, partner, MissionResult.ACCEPTED, raw_type)

    def _on_set_current(self, link: Link, seq: int, now: float) -> None:
        items = self._d.plans.mission
        if seq >= len(items):
            self._d.announce(SEVERITY_CRITICAL, "WPM: MISSION_SET_CURRENT seq out of bounds")
            return
        self._d.mission_set_current(seq)

    # --- timers -------------------------------------------------------------------------------
    def poll(self, now: float) -> None:
        """Retry lost requests every 0.5 s and give up after 5 s without traffic (PX4's timers)."""
        if self._state is _State.IDLE:
            return
        if now - self._last_recv_s > PROTOCOL_TIMEOUT_S:
            if self._state is _State.GETLIST:
                self._d.announce(SEVERITY_CRITICAL, "Operation timeout")
            self._idle()
            return
        if self._state is _State.GETLIST and now - self._last_send_s > RETRY_TIMEOUT_S:
            self._request(self._seq, now)


def _mission_type(raw: int) -> MissionType | None:
    try:
        return MissionType(raw)
    except ValueError:
        return None
