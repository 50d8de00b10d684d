from __future__ import annotations

import struct

import pytest

from telemetry.video import H264Depacketizer, parse_rtp
from telemetry.video.rtp import NAL_IDR, RtpParseError

from .conftest import rtp_frames


def _feed(depacketizer: H264Depacketizer, frames: list[list[bytes]]) -> list[bool]:
    out = []
    for packets in frames:
        for packet in packets:
            out += [unit.keyframe for unit in depacketizer.push(packet, 0.0)]
    return out


def test_depacketizer_rebuilds_one_access_unit_per_frame_starting_at_keyframe() -> None:
    frames = rtp_frames(20, keyint=10)
    assert max(len(p) for p in frames) > 1  # FU-A fragmentation is exercised
    keyflags = _feed(H264Depacketizer(96), frames)
    assert keyflags == [i % 10 == 0 for i in range(20)]


def test_depacketized_units_decode_to_pictures() -> None:
    import av

    decoder = av.CodecContext.create("h264", "r")
    depacketizer = H264Depacketizer(96)
    decoded = 0
    for packets in rtp_frames(12):
        for packet in packets:
            for unit in depacketizer.push(packet, 0.0):
                decoded += len(decoder.decode(av.Packet(unit.data)))
    decoded += len(decoder.decode(None))
    assert decoded == 12


def test_lost_fragment_drops_frames_until_next_keyframe() -> None:
    frames = rtp_frames(20, keyint=10)
    big = next(i for i in range(1, 10) if len(frames[i]) > 1)
    del frames[big][0]
    depacketizer = H264Depacketizer(96)
    keyflags = _feed(depacketizer, frames)
    assert keyflags == [True] + [False] * (big - 1) + [True] + [False] * 9
    assert depacketizer.counters.lost == 1
    assert depacketizer.counters.dropped_access_units >= 1


def test_new_ssrc_counts_restart_and_waits_for_keyframe() -> None:
    depacketizer = H264Depacketizer(96)
    first = rtp_frames(5, keyint=10)
    second = rtp_frames(5, keyint=10)  # a new packetiser: new SSRC, sequence and timestamps
    _feed(depacketizer, first)
    keyflags = _feed(depacketizer, second)
    assert depacketizer.counters.restarts == 1
    assert keyflags == [True, False, False, False, False]


def test_garbage_datagrams_are_counted_and_change_nothing() -> None:
    depacketizer = H264Depacketizer(96)
    for junk in (
        b"",
        b"\x00" * 5,
        b"\xff" * 40,
        struct.pack("!BBHII", 0x80, 97, 1, 2, 3) + b"\x65",
    ):
        assert depacketizer.push(junk, 0.0) == []
    assert depacketizer.counters.malformed == 4
    assert _feed(depacketizer, rtp_frames(3))[0] is True


def test_parse_rtp_skips_csrcs_extension_and_padding() -> None:
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 1, 0x80 | 96, 7, 9000, 42)
    csrc = struct.pack("!I", 5)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x00" * 4
    payload = bytes([NAL_IDR | 0x60, 1, 2])
    packet = parse_rtp(header + csrc + extension + payload + b"\x00\x00\x03")
    assert (packet.marker, packet.sequence, packet.timestamp, packet.ssrc) == (True, 7, 9000, 42)
    assert packet.payload == payload


def test_parse_rtp_refuses_wrong_version() -> None:
    with pytest.raises(RtpParseError):
        parse_rtp(struct.pack("!BBHII", 0x40, 96, 1, 2, 3) + b"\x65")
