"""A small scripted PX4-like MAVLink peer for protocol tests of the link.

It reproduces the PX4 behaviours the link must cope with (PX4_WIRE.md §1): the first mission request
of a link is a non-INT MISSION_REQUEST, int mode after MISSION_ACK UNSUPPORTED, MISSION_ACK on the last
item, bytewise INT32 params answered by PARAM_VALUE, COMMAND_ACK with STATUSTEXT on refusal, custom
modes in the heartbeat. Tests script edge cases through its attributes (drop an item request, refuse a
command, reject a fence, stop the heartbeat).
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import common as mavlink

PX4_MODES = {"HOLD": (4, 3), "MISSION": (4, 4), "RTL": (4, 5), "LAND": (4, 6), "ORBIT": (3, 1)}


@dataclass
class StoredItem:
    frame: int
    command: int
    p: tuple[float, float, float, float]
    x: int
    y: int
    z: float
    autocontinue: int


@dataclass
class Px4Peer:
    """Stands in for PX4 on a UDP socket; `sent_to` is the link's udpin address."""

    sysid: int = 1
    compid: int = 1
    heartbeat: bool = True
    answer_commands: bool = True
    command_results: dict[int, int] = field(default_factory=dict)  # command -> MAV_RESULT
    command_texts: dict[int, str] = field(default_factory=dict)  # STATUSTEXT sent with a refusal
    deny_mission_start_times: int = 0  # DO_SET_MODE MISSION refused this many times (fresh upload)
    refuse_arm_times: int = (
        0  # ARM refused TEMPORARILY_REJECTED this many times (a pre-arm check clearing)
    )
    reject_mission_type: dict[int, int] = field(default_factory=dict)  # mission_type -> MISSION_ACK
    drop_first_request_of: set[int] = field(default_factory=set)  # seqs whose 1st item is "lost"
    param_overrides: dict[str, float] = field(default_factory=dict)  # values PX4 refuses to take
    answer_params: bool = True
    mangle_download: bool = False
    custom_main: int = 4
    custom_sub: int = 3
    armed: bool = False
    landed_state: int = 1
    lat_e7: int = 473977420
    lon_e7: int = 85455940
    alt_mm: int = 488000
    rel_alt_mm: int = 0
    received: list[Any] = field(default_factory=list)
    storage: dict[int, list[StoredItem]] = field(default_factory=dict)
    params: dict[str, tuple[float, int]] = field(default_factory=dict)
    on_message: Callable[[Any], None] | None = None

    def __post_init__(self) -> None:
        self.mav = mavlink.MAVLink(None, self.sysid, self.compid)
        self.rx = mavlink.MAVLink(None, 0, 0)
        self.rx.robust_parsing = True
        self.transport: asyncio.DatagramTransport | None = None
        self.dest: tuple[str, int] | None = None
        self._int_mode = False
        self._upload: dict[str, Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dropped: set[int] = set()
        self.gcs_heartbeats = 0
        for name in ("NAV_DLL_ACT", "COM_DL_LOSS_T", "GF_ACTION", "COM_LOW_BAT_ACT"):
            self.params[name] = (_i2f(0), 6)
        self.params["RTL_RETURN_ALT"] = (60.0, 9)

    async def start(self, dest: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        peer = self

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                peer.dest = addr
                for msg in peer.rx.parse_buffer(data) or []:
                    peer._handle(msg)

        transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=("127.0.0.1", 0))
        self.transport = transport
        self.dest = dest
        self._tasks.append(asyncio.create_task(self._telemetry()))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.transport is not None:
            self.transport.close()

    def send(self, msg: Any) -> None:
        if self.transport is not None and self.dest is not None:
            self.transport.sendto(msg.pack(self.mav), self.dest)
            self.mav.seq = (self.mav.seq + 1) % 256

    def send_raw(self, data: bytes) -> None:
        if self.transport is not None and self.dest is not None:
            self.transport.sendto(data, self.dest)

    def statustext(self, text: str, severity: int = 2) -> None:
        self.send(self.mav.statustext_encode(severity, (text + "\t").encode()))

    @property
    def custom_mode(self) -> int:
        return (self.custom_main << 16) | (self.custom_sub << 24)

    def send_heartbeat(self) -> None:
        base = 1 | 16 | 8 | 4 | (128 if self.armed else 0)
        self.send(
            self.mav.heartbeat_encode(2, 12, base, self.custom_mode, 4 if self.armed else 3, 3)
        )

    async def _telemetry(self) -> None:
        n = 0
        while True:
            if self.heartbeat and n % 10 == 0:
                self.send_heartbeat()
                self.send(self.mav.extended_sys_state_encode(0, self.landed_state))
                self.send(self.mav.sys_status_encode(0, 0, 0, 500, 16200, -1, 87, 0, 0, 0, 0, 0, 0))
                self.send(
                    self.mav.gps_raw_int_encode(
                        0, 3, self.lat_e7, self.lon_e7, self.alt_mm, 80, 120, 0, 0, 12
                    )
                )
            if self.heartbeat:
                self.send(
                    self.mav.global_position_int_encode(
                        n * 100,
                        self.lat_e7,
                        self.lon_e7,
                        self.alt_mm,
                        self.rel_alt_mm,
                        300,
                        400,
                        0,
                        9000,
                    )
                )
            n += 1
            await asyncio.sleep(0.02)

    # ---------------------------------------------------------------- handlers

    def _handle(self, msg: Any) -> None:
        self.received.append(msg)
        if self.on_message is not None:
            self.on_message(msg)
        t = msg.get_type()
        if t == "HEARTBEAT":
            self.gcs_heartbeats += 1
        elif t in ("COMMAND_LONG", "COMMAND_INT"):
            self._command(msg)
        elif t == "PARAM_SET" and self.answer_params:
            name = msg.param_id
            value = self.param_overrides.get(name, msg.param_value)
            if name in self.param_overrides and msg.param_type == 6:
                value = _i2f(int(self.param_overrides[name]))
            self.params[name] = (value, msg.param_type)
            self._param_value(name)
        elif t == "PARAM_REQUEST_READ" and self.answer_params:
            if msg.param_id in self.params:
                self._param_value(msg.param_id)
        elif t == "MISSION_COUNT":
            self._mission_count(msg)
        elif t == "MISSION_ITEM_INT":
            self._mission_item(msg)
        elif t == "MISSION_ACK" and self._upload is not None:
            if msg.type == 3:  # UNSUPPORTED: switch to int mode, re-request
                self._int_mode = True
                self._request(self._upload["next"])
        elif t == "MISSION_REQUEST_LIST":
            items = self.storage.get(msg.mission_type, [])
            self.send(self.mav.mission_count_encode(255, 0, len(items), msg.mission_type))
        elif t == "MISSION_REQUEST_INT":
            items = self.storage.get(msg.mission_type, [])
            if msg.seq < len(items):
                it = items[msg.seq]
                x = it.x + (1 if self.mangle_download else 0)
                self.send(
                    self.mav.mission_item_int_encode(
                        255,
                        0,
                        msg.seq,
                        it.frame,
                        it.command,
                        0,
                        it.autocontinue,
                        *it.p,
                        x,
                        it.y,
                        it.z,
                        msg.mission_type,
                    )
                )
        elif t == "MISSION_CLEAR_ALL":
            self.storage.pop(msg.mission_type, None)
            self.send(self.mav.mission_ack_encode(255, 0, 0, msg.mission_type))

    def _param_value(self, name: str) -> None:
        value, ptype = self.params[name]
        self.send(self.mav.param_value_encode(name.encode(), value, ptype, len(self.params), 0))

    def _command(self, msg: Any) -> None:
        if not self.answer_commands:
            return
        cmd = msg.command
        result = self.command_results.get(cmd, 0)
        if cmd == 176 and result == 0:
            main, sub = int(msg.param2), int(msg.param3)
            if (main, sub) == (4, 4) and self.deny_mission_start_times > 0:
                self.deny_mission_start_times -= 1
                result = 1
                self.command_texts[176] = "Mission start denied! No valid mission"
            else:
                self.custom_main, self.custom_sub = main, sub
        elif cmd == 400 and result == 0 and msg.param1 == 1 and self.refuse_arm_times > 0:
            self.refuse_arm_times -= 1
            result = 1
            self.command_texts[400] = "Preflight Fail: No connection to the GCS"
        elif cmd == 400 and result == 0:
            self.armed = msg.param1 == 1
        if result != 0 and cmd in self.command_texts:
            self.statustext(self.command_texts[cmd])
        self.send(self.mav.command_ack_encode(cmd, result, 0, 0, 255, 0))
        if cmd == 176 and result == 0:
            self.send_heartbeat()

    def _request(self, seq: int) -> None:
        assert self._upload is not None
        mtype = self._upload["type"]
        if self._int_mode:
            self.send(self.mav.mission_request_int_encode(255, 0, seq, mtype))
        else:
            self.send(self.mav.mission_request_encode(255, 0, seq, mtype))

    def _mission_count(self, msg: Any) -> None:
        if msg.mission_type in self.reject_mission_type:
            self.send(
                self.mav.mission_ack_encode(
                    255, 0, self.reject_mission_type[msg.mission_type], msg.mission_type
                )
            )
            return
        if msg.count == 0:
            self.storage[msg.mission_type] = []
            self.send(self.mav.mission_ack_encode(255, 0, 0, msg.mission_type))
            return
        self._upload = {"type": msg.mission_type, "count": msg.count, "next": 0, "items": []}
        self._request(0)

    def _mission_item(self, msg: Any) -> None:
        up = self._upload
        if up is None or msg.mission_type != up["type"]:
            return
        self._int_mode = True
        if msg.seq != up["next"]:
            return
        if msg.seq in self.drop_first_request_of and msg.seq not in self._dropped:
            # The item is "lost": PX4 re-requests it on its retry timer.
            self._dropped.add(msg.seq)
            asyncio.get_running_loop().call_later(0.05, self._request, msg.seq)
            return
        if up["type"] == 1 and msg.command in (5001, 5002) and msg.param1 < 3:
            self.send(self.mav.mission_ack_encode(255, 0, 1, 1))
            self._upload = None
            return
        up["items"].append(
            StoredItem(
                msg.frame,
                msg.command,
                (msg.param1, msg.param2, msg.param3, msg.param4),
                msg.x,
                msg.y,
                msg.z,
                msg.autocontinue,
            )
        )
        up["next"] += 1
        if up["next"] == up["count"]:
            self.storage[up["type"]] = up["items"]
            self._upload = None
            self.send(self.mav.mission_ack_encode(255, 0, 0, up["type"]))
        else:
            self._request(up["next"])


def _i2f(v: int) -> float:
    return float(struct.unpack("<f", struct.pack("<i", v))[0])


def nan() -> float:
    return math.nan
