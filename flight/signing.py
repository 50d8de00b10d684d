"""MAVLink 2 message signing on the service's side of a vehicle link.

The signing spec (mavlink.io "Message Signing"): a signed frame carries incompat flag 0x01 and a
13-byte block after the CRC: link id (1), timestamp (6, little-endian, 10 µs units since
2015-01-01 UTC) and the first 6 bytes of SHA-256(secret key + every frame byte before the
signature). Each (link id, sysid, compid) stream's timestamps must grow; a stream not seen before
is accepted only if its timestamp is at most one minute behind ours. Unlike pymavlink's check, the
signature is verified before a timestamp is recorded, so a forged frame cannot poison a stream.

PX4 (src/modules/mavlink/mavlink_sign_control.cpp) keeps one key per vehicle, set by SETUP_SIGNING
and stored with its timestamp; with a key it accepts only signed frames except RADIO_STATUS,
ADSB_VEHICLE and COLLISION, and without one it accepts everything (so the first SETUP_SIGNING
arrives unsigned over a trusted link).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

KEY_LENGTH_BYTES = 32
SIGNATURE_BLOCK_BYTES = 13
IFLAG_SIGNED = 0x01
SETUP_SIGNING = 256
#: Seconds from the Unix epoch to the MAVLink signing epoch (2015-01-01T00:00:00Z).
SIGNING_EPOCH_UNIX_S = 1_420_070_400
#: A new stream's first timestamp may lag ours by at most this (one minute in 10 µs units).
NEW_STREAM_MAX_LAG_TICKS = 6_000_000


def signing_timestamp(unix_s: float) -> int:
    """`unix_s` as a MAVLink signing timestamp (10 µs units since 2015-01-01 UTC)."""
    return max(0, int((unix_s - SIGNING_EPOCH_UNIX_S) * 100_000))


class FrameRejection(StrEnum):
    """Why a frame from the vehicle's system id was dropped before anything read it."""

    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    REPLAY = "replay"  # a timestamp not above the stream's last one
    STALE = "stale"  # a new stream more than a minute behind our time
    ADDRESS = "address"  # from another UDP address than the one the link is bound to


@dataclass(frozen=True, slots=True)
class SigningSetup:
    """How a link signs: its key (32 bytes), whether unsigned frames are refused, a key to provision.

    `pending_key` is a key not yet confirmed by the vehicle: the link sends it with SETUP_SIGNING
    (signed under `key` if there is one) until a frame signed with it arrives, then signs with it.
    """

    key: bytes | None = None
    required: bool = True
    pending_key: bytes | None = None
    link_id: int = 0

    def __post_init__(self) -> None:
        for k in (self.key, self.pending_key):
            if k is not None and len(k) != KEY_LENGTH_BYTES:
                raise ValueError(f"a MAVLink signing key is {KEY_LENGTH_BYTES} bytes")
        if not 0 <= self.link_id <= 255:
            raise ValueError("link_id is one byte")

    def __repr__(self) -> str:
        # Keys never reach a log line or a traceback.
        return (
            f"SigningSetup(key={'set' if self.key else None}, required={self.required}, "
            f"pending_key={'set' if self.pending_key else None}, link_id={self.link_id})"
        )


def signature(key: bytes, signed_part: bytes | memoryview) -> bytes:
    """The 6-byte signature of a frame's bytes up to and including its timestamp."""
    return hashlib.sha256(bytes(key) + bytes(signed_part)).digest()[:6]


class LinkSigning:
    """One link's signing state: keys, our outgoing timestamp, and each incoming stream's last one."""

    def __init__(
        self,
        setup: SigningSetup,
        *,
        wall_clock: Callable[[], float] = time.time,
        on_confirmed: Callable[[], None] | None = None,
    ) -> None:
        self._on_confirmed = on_confirmed
        self._key = setup.key
        self._pending = setup.pending_key
        self.required = setup.required
        self.link_id = setup.link_id
        self._wall_clock = wall_clock
        self._streams: dict[tuple[int, int, int], int] = {}
        self._timestamp = signing_timestamp(wall_clock())
        self.confirmed_key_at: float | None = None

    @property
    def key(self) -> bytes | None:
        """The key outgoing frames are signed with (None: they go unsigned)."""
        return self._key

    @property
    def pending_key(self) -> bytes | None:
        """A key sent with SETUP_SIGNING and not yet confirmed by the vehicle."""
        return self._pending

    def propose(self, key: bytes) -> None:
        """Start provisioning `key`: accepted from the vehicle alongside the current one until it is confirmed."""
        if len(key) != KEY_LENGTH_BYTES:
            raise ValueError(f"a MAVLink signing key is {KEY_LENGTH_BYTES} bytes")
        self._pending = key

    def next_timestamp(self) -> int:
        """Timestamp for the next outgoing frame: our wall clock, and always above the last one."""
        self._timestamp = max(self._timestamp + 1, signing_timestamp(self._wall_clock()))
        return self._timestamp

    def accepts_unsigned(self) -> bool:
        """Unsigned frames pass when signing is optional, or while no key has been confirmed yet."""
        return not self.required or self._key is None

    def check(self, frame: bytes | memoryview, sysid: int, compid: int) -> FrameRejection | None:
        """Why the MAVLink 2 `frame` (one whole frame) must be dropped, or None to accept it."""
        if frame[0] != 0xFD or not frame[2] & IFLAG_SIGNED:
            return None if self.accepts_unsigned() else FrameRejection.UNSIGNED
        if len(frame) < 12 + SIGNATURE_BLOCK_BYTES:
            return FrameRejection.BAD_SIGNATURE
        keys = [k for k in (self._key, self._pending) if k is not None]
        if not keys:
            # We have no key to check it with: without signing required, a signed vehicle is
            # accepted as an unsigned one would be.
            return None if not self.required else FrameRejection.BAD_SIGNATURE
        signed_part = frame[:-6]
        sig = bytes(frame[-6:])
        matched = next(
            (k for k in keys if hmac.compare_digest(signature(k, signed_part), sig)), None
        )
        if matched is None:
            return FrameRejection.BAD_SIGNATURE
        link_id = frame[-13]
        ts = int.from_bytes(bytes(frame[-12:-6]), "little")
        stream = (link_id, sysid, compid)
        last = self._streams.get(stream)
        if last is not None:
            if ts <= last:
                return FrameRejection.REPLAY
        else:
            local = max(self._timestamp, signing_timestamp(self._wall_clock()))
            if ts + NEW_STREAM_MAX_LAG_TICKS < local:
                return FrameRejection.STALE
        self._streams[stream] = ts
        self._timestamp = max(self._timestamp, ts)
        if matched is self._pending:
            self._confirm(matched)
        return None

    def _confirm(self, key: bytes) -> None:
        # The vehicle signs with the new key: from now on we do too, and the old one is void
        # (stream timestamps stay: the vehicle's clock does not go back with a new key).
        self._key = key
        self._pending = None
        self.confirmed_key_at = self._wall_clock()
        if self._on_confirmed is not None:
            self._on_confirmed()
