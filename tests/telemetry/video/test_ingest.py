from __future__ import annotations

import asyncio
import socket

import pytest

from telemetry.video import (
    RtpEndpoint,
    RtpIngest,
    StreamState,
    StreamUriError,
    VideoError,
    parse_stream_uri,
)

from .conftest import rtp_frames, wait_for


@pytest.mark.parametrize(
    ("uri", "port"),
    [
        ("5600", 5600),
        ("udp://0.0.0.0:5601", 5601),
        ("udp://@:5602", 5602),
        ("rtp://127.0.0.1:5603", 5603),
    ],
)
def test_parse_stream_uri_accepts_px4_forms(uri: str, port: int) -> None:
    assert parse_stream_uri(uri) == RtpEndpoint("127.0.0.1", port)


@pytest.mark.parametrize("uri", ["rtsp://cam/live", "udp://host:99999", "", "http://x:80"])
def test_parse_stream_uri_refuses_what_it_cannot_receive(uri: str) -> None:
    with pytest.raises(StreamUriError):
        parse_stream_uri(uri)


@pytest.mark.integration
async def test_ingest_goes_live_then_stalls_then_resumes(
    ingest: RtpIngest,
) -> None:
    await ingest.wait_state(StreamState.LIVE, 20)
    assert ingest.status().frames > 0


@pytest.mark.integration
async def test_ingest_reports_stall_and_recovery_and_restart() -> None:
    async with RtpIngest("d", RtpEndpoint("127.0.0.1", 0), stall_after_s=0.5) as ingest:
        assert ingest.state is StreamState.WAITING
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            target = ("127.0.0.1", ingest.port)
            for packets in rtp_frames(5):
                for packet in packets:
                    sock.sendto(packet, target)
            await ingest.wait_state(StreamState.LIVE, 20)
            await ingest.wait_state(StreamState.STALLED, 20)
            for packets in rtp_frames(5):  # a rebooted camera: new SSRC
                for packet in packets:
                    sock.sendto(packet, target)
            await ingest.wait_state(StreamState.LIVE, 20)
            await wait_for(lambda: ingest.status().frames == 10)
        status = ingest.status()
        assert (status.stalls, status.restarts, status.keyframes) == (1, 1, 2)


@pytest.mark.integration
async def test_garbage_on_the_port_is_counted_and_stream_stays_waiting() -> None:
    async with RtpIngest("d", RtpEndpoint("127.0.0.1", 0)) as ingest:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(10):
                sock.sendto(b"\x13\x37" * 30, ("127.0.0.1", ingest.port))
        await wait_for(lambda: ingest.status().malformed_packets == 10)
        assert ingest.state is StreamState.WAITING


async def test_ingest_refuses_a_port_in_use() -> None:
    async with RtpIngest("a", RtpEndpoint("127.0.0.1", 0)) as first:
        with pytest.raises(VideoError, match="cannot listen"):
            async with RtpIngest("b", RtpEndpoint("127.0.0.1", first.port)):
                pass


@pytest.mark.integration
async def test_slow_subscriber_is_cut_back_to_a_keyframe_without_blocking_others(
    ingest: RtpIngest,
) -> None:
    slow = ingest.subscribe(max_queue=3)
    fast = ingest.subscribe(max_queue=100)
    received = 0
    async with asyncio.timeout(30):
        while received < 40:
            await fast.get()
            received += 1
    assert slow.dropped > 0
    first = await asyncio.wait_for(slow.get(), 10)
    assert first.keyframe
    slow.close()
    fast.close()
    assert ingest.status().viewers == 0
