"""MAVLink 2 signing as PX4 does it (src/modules/mavlink/mavlink_sign_control.cpp), for one vehicle.

One key per vehicle, shared by all its MAVLink instances and kept on its storage with the last
timestamp (32 key bytes + 8 timestamp bytes, little-endian, as PX4's secret file). Without a key
every frame is accepted, so the first SETUP_SIGNING can arrive unsigned; with one, only frames
signed under it pass, except RADIO_STATUS, ADSB_VEHICLE and COLLISION. SETUP_SIGNING itself must
therefore be signed under the current key to replace it, and a blank key (all zero, timestamp 0)
disables signing only when signed. Outgoing frames are signed whenever a key is set.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

KEY_BYTES = 32
_EPOCH_2015_S = 1_420_070_400
_ONE_MINUTE_TICKS = 6_000_000
_UNSIGNED_OK = frozenset({109, 246, 247})  # RADIO_STATUS, ADSB_VEHICLE, COLLISION
_SETUP_SIGNING = 256


def _ticks(unix_s: float) -> int:
    return max(0, int((unix_s - _EPOCH_2015_S) * 100_000))


class VehicleSigning:
    """The signing key, timestamp and incoming streams of one simulated vehicle."""

    def __init__(
        self,
        sysid: int,
        *,
        key_file: Path | None = None,
        preload_key: bytes | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.sysid = sysid
        self._key_file = key_file
        self._wall_clock = wall_clock
        self._key: bytes | None = None
        self.timestamp = 0
        self._streams: dict[tuple[int, int, int], int] = {}
        self.rejected = 0
        if key_file is not None and key_file.is_file():
            raw = key_file.read_bytes()
            if len(raw) == KEY_BYTES + 8:
                self._apply(raw[:KEY_BYTES], int.from_bytes(raw[KEY_BYTES:], "little"))
        if preload_key is not None:
            if len(preload_key) != KEY_BYTES:
                raise ValueError(f"a signing key is {KEY_BYTES} bytes")
            if preload_key != self._key:
                self._apply(preload_key, _ticks(wall_clock()))
                self._store()

    @property
    def enabled(self) -> bool:
        """True when the vehicle has a key (signs everything, accepts only signed frames)."""
        return self._key is not None

    @property
    def key(self) -> bytes | None:
        """The vehicle's key (None: no signing)."""
        return self._key

    def next_timestamp(self) -> int:
        """The timestamp of the next outgoing frame."""
        self.timestamp = max(self.timestamp + 1, _ticks(self._wall_clock()))
        return self.timestamp

    def accepts(self, msg: Any) -> bool:
        """Whether a decoded incoming message passes PX4's signature gate."""
        if self._key is None:
            return True
        buf = bytes(msg.get_msgbuf())
        if buf[0] != 0xFD or not buf[2] & 0x01:
            ok = msg.get_msgId() in _UNSIGNED_OK
        else:
            ok = self._signed_ok(buf, msg.get_srcSystem(), msg.get_srcComponent())
        if not ok:
            self.rejected += 1
        return ok

    def _signed_ok(self, buf: bytes, sysid: int, compid: int) -> bool:
        assert self._key is not None
        if len(buf) < 25:
            return False
        expected = hashlib.sha256(self._key + buf[:-6]).digest()[:6]
        if not hmac.compare_digest(expected, buf[-6:]):
            return False
        ts = int.from_bytes(buf[-12:-6], "little")
        stream = (buf[-13], sysid, compid)
        last = self._streams.get(stream)
        if last is not None and ts <= last:
            return False
        if last is None and ts + _ONE_MINUTE_TICKS < max(
            self.timestamp, _ticks(self._wall_clock())
        ):
            return False
        self._streams[stream] = ts
        self.timestamp = max(self.timestamp, ts)
        return True

    def handle_setup(self, msg: Any) -> bool:
        """Take a SETUP_SIGNING that passed the gate; True if it was one (consumed)."""
        if msg.get_msgId() != _SETUP_SIGNING:
            return False
        if msg.target_system not in (0, self.sysid):
            return True
        key = bytes(msg.secret_key)
        initial = int(msg.initial_timestamp)
        if initial == 0 and not any(key):
            buf = bytes(msg.get_msgbuf())
            if self._key is not None and buf[2] & 0x01:
                self._key = None
                self.timestamp = 0
                self._store()
                log.info("vehicle %d: signing disabled by SETUP_SIGNING", self.sysid)
            return True
        ts = max(initial, _ticks(self._wall_clock()))
        if key == self._key:
            ts = max(ts, self.timestamp)
        self._apply(key, ts)
        self._store()
        log.info("vehicle %d: signing key set by SETUP_SIGNING", self.sysid)
        return True

    def sign_with(self, mav: Any, link_id: int) -> None:
        """Make `mav` (a pymavlink MAVLink) sign its next packed frame, or not sign it."""
        if self._key is None:
            mav.signing.sign_outgoing = False
            return
        mav.signing.secret_key = self._key
        mav.signing.link_id = link_id
        mav.signing.timestamp = self.next_timestamp()
        mav.signing.sign_outgoing = True

    def _apply(self, key: bytes, timestamp: int) -> None:
        self._key = key if any(key) or timestamp else None
        self.timestamp = timestamp
        self._streams.clear()

    def _store(self) -> None:
        path = self._key_file
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        data = (self._key or bytes(KEY_BYTES)) + self.timestamp.to_bytes(8, "little")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
