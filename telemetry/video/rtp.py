"""RTP parsing and RFC 6184 H.264 depacketisation into Annex-B access units (no decoding).

Handles single NAL unit packets, STAP-A and FU-A (packetization-mode 1, what PX4's `rtph264pay`
and most cameras send). A lost packet inside an access unit drops that access unit and everything
up to the next IDR, because a forwarded broken frame would smear until the next keyframe anyway.
A new SSRC, or a sequence/timestamp jump no reordering explains, counts as a stream restart.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from telemetry.video.errors import RtpParseError

START_CODE = b"\x00\x00\x00\x01"
NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
_STAP_A = 24
_FU_A = 28
_RESTART_SEQ_GAP = 3000  # packets: bigger jumps are a new stream, not loss
_RESTART_TS_GAP = 90_000 * 10  # 10 s of 90 kHz clock


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """The fields of an RTP packet we use."""

    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(datagram: bytes) -> RtpPacket:
    """Parse an RTP packet (RFC 3550), skipping CSRCs, header extension and padding."""
    if len(datagram) < 12:
        raise RtpParseError("shorter than an RTP header")
    first, second, sequence, timestamp, ssrc = struct.unpack_from("!BBHII", datagram)
    if first >> 6 != 2:
        raise RtpParseError("RTP version is not 2")
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if len(datagram) < offset + 4:
            raise RtpParseError("truncated header extension")
        (words,) = struct.unpack_from("!H", datagram, offset + 2)
        offset += 4 + 4 * words
    end = len(datagram)
    if first & 0x20:
        end -= datagram[-1]
    if offset >= end:
        raise RtpParseError("no payload")
    return RtpPacket(
        payload_type=second & 0x7F,
        marker=bool(second & 0x80),
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        payload=datagram[offset:end],
    )


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One coded picture as Annex-B bytes, with its unwrapped 90 kHz timestamp."""

    data: bytes
    timestamp_90khz: int
    keyframe: bool
    received_at_s: float
    generation: int  # bumps on every stream restart


@dataclass(slots=True)
class DepacketizerCounters:
    """What the depacketiser saw."""

    packets: int = 0
    malformed: int = 0
    lost: int = 0
    dropped_access_units: int = 0
    restarts: int = 0


class H264Depacketizer:
    """Turns RTP packets of one H.264 stream into access units; see the module docstring."""

    def __init__(self, payload_type: int | None = None) -> None:
        self._payload_type = payload_type
        self.counters = DepacketizerCounters()
        self.generation = 0
        self._ssrc: int | None = None
        self._last_seq: int | None = None
        self._last_ts: int | None = None
        self._ts_unwrapped = 0
        self._nals: list[bytes] = []
        self._fu: bytearray | None = None
        self._au_ts: int | None = None
        self._au_broken = False
        self._need_keyframe = True

    def push(self, datagram: bytes, received_at_s: float) -> list[AccessUnit]:
        """Feed one datagram; returns the access units it completed (usually zero or one)."""
        try:
            packet = parse_rtp(datagram)
        except RtpParseError:
            self.counters.malformed += 1
            return []
        if self._payload_type is not None and packet.payload_type != self._payload_type:
            self.counters.malformed += 1
            return []
        self.counters.packets += 1
        out: list[AccessUnit] = []
        if not self._track_sequence(packet):
            return out
        timestamp = self._unwrap(packet.timestamp)
        if self._au_ts is not None and timestamp != self._au_ts:
            # The previous access unit lost its marker packet: close it as it is.
            out += self._finish(received_at_s)
        self._au_ts = timestamp
        if not self._take_payload(packet.payload):
            self.counters.malformed += 1
            self._au_broken = True
        if packet.marker:
            out += self._finish(received_at_s)
        return out

    def _track_sequence(self, packet: RtpPacket) -> bool:
        """Account for loss and restarts; False for a duplicate or late packet (dropped)."""
        if self._ssrc != packet.ssrc and self._ssrc is not None:
            self._restart()
        elif self._last_seq is not None:
            gap = (packet.sequence - self._last_seq) & 0xFFFF
            if gap == 0 or gap > 0x8000:
                return False
            if gap > _RESTART_SEQ_GAP:
                self._restart()
            elif gap > 1:
                self.counters.lost += gap - 1
                self._au_broken = True
                self._fu = None
        self._ssrc = packet.ssrc
        self._last_seq = packet.sequence
        return True

    def _restart(self) -> None:
        self.counters.restarts += 1
        self.generation += 1
        self._last_seq = None
        self._last_ts = None
        self._nals = []
        self._fu = None
        self._au_ts = None
        self._au_broken = False
        self._need_keyframe = True

    def _unwrap(self, timestamp: int) -> int:
        if self._last_ts is None:
            self._ts_unwrapped = 0
        else:
            delta = (timestamp - self._last_ts) & 0xFFFFFFFF
            if delta >= 0x80000000:
                delta -= 1 << 32
            if abs(delta) > _RESTART_TS_GAP:
                self._restart()
                self._ts_unwrapped = 0
            else:
                self._ts_unwrapped += delta
        self._last_ts = timestamp
        return self._ts_unwrapped

    def _take_payload(self, payload: bytes) -> bool:
        nal_type = payload[0] & 0x1F
        if payload[0] & 0x80:
            return False  # forbidden_zero_bit
        if 1 <= nal_type <= 23:
            self._nals.append(payload)
            return True
        if nal_type == _STAP_A:
            offset = 1
            while offset + 2 <= len(payload):
                (size,) = struct.unpack_from("!H", payload, offset)
                offset += 2
                if size == 0 or offset + size > len(payload):
                    return False
                self._nals.append(payload[offset : offset + size])
                offset += size
            return offset == len(payload)
        if nal_type == _FU_A:
            if len(payload) < 3:
                return False
            header = payload[1]
            if header & 0x80:
                self._fu = bytearray(bytes(((payload[0] & 0xE0) | (header & 0x1F),)))
            elif self._fu is None:
                return False  # continuation without its start (lost earlier)
            self._fu += payload[2:]
            if header & 0x40:
                self._nals.append(bytes(self._fu))
                self._fu = None
            return True
        return False

    def _finish(self, received_at_s: float) -> list[AccessUnit]:
        nals, self._nals = self._nals, []
        broken = self._au_broken or self._fu is not None
        self._au_broken = False
        self._fu = None
        timestamp = self._au_ts
        self._au_ts = None
        if broken:
            self.counters.dropped_access_units += 1
            self._need_keyframe = True
            return []
        if not nals or timestamp is None:
            return []
        keyframe = any((nal[0] & 0x1F) == NAL_IDR for nal in nals)
        if self._need_keyframe and not keyframe:
            self.counters.dropped_access_units += 1
            return []
        self._need_keyframe = False
        data = b"".join(START_CODE + nal for nal in nals)
        return [AccessUnit(data, timestamp, keyframe, received_at_s, self.generation)]
