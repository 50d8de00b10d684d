from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from simulator.vehicle.camera_render import read_stamp
from telemetry.video import (
    BadOfferError,
    RtpIngest,
    SessionLimitError,
    SessionUnknownError,
    WhepSessions,
    check_offer,
)

from .conftest import wait_for


@pytest.mark.parametrize(
    ("sdp", "reason"),
    [
        ("", "v=0"),
        ("hello", "v=0"),
        ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "no video"),
        ("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n", "H.264"),
        ("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n", "ICE"),
        ("v=0\r\n" + "a=x\r\n" * 20000, "larger"),
    ],
)
def test_check_offer_refuses_unusable_offers(sdp: str, reason: str) -> None:
    with pytest.raises(BadOfferError, match=reason):
        check_offer(sdp)


async def _client_offer(pc: RTCPeerConnection) -> str:
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return str(pc.localDescription.sdp)


@pytest.mark.integration
async def test_whep_session_forwards_h264_that_an_aiortc_viewer_decodes(
    ingest: RtpIngest,
    whep: Callable[..., WhepSessions],
    viewers: Callable[[], RTCPeerConnection],
) -> None:
    ended: list[str] = []
    sessions = whep(on_end=lambda info, reason: ended.append(info.session_id))
    viewer = viewers()
    tracks: asyncio.Queue[object] = asyncio.Queue()
    viewer.on("track", tracks.put_nowait)
    answer = await sessions.answer(ingest, await _client_offer(viewer), viewer="alice")
    assert "H264/90000" in answer.sdp and "VP8" not in answer.sdp
    await viewer.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
    track = await asyncio.wait_for(tracks.get(), 20)
    stamps = []
    async with asyncio.timeout(60):
        while len(stamps) < 10:
            frame = await track.recv()  # type: ignore[attr-defined]
            stamp = read_stamp(frame.to_ndarray(format="gray"))
            if stamp is not None:
                stamps.append(stamp)
    assert stamps == sorted(stamps) and len(set(stamps)) == 10
    assert sessions.get(answer.session_id).viewer == "alice"
    await wait_for(lambda: sessions.get(answer.session_id).connected)
    await sessions.end(answer.session_id)
    assert ended == [answer.session_id]
    assert ingest.status().viewers == 0
    with pytest.raises(SessionUnknownError):
        await sessions.end(answer.session_id)


@pytest.mark.integration
async def test_viewer_that_never_connects_is_expired(
    ingest: RtpIngest,
    whep: Callable[..., WhepSessions],
    viewers: Callable[[], RTCPeerConnection],
) -> None:
    ended: list[str] = []
    sessions = whep(connect_timeout_s=0.5, on_end=lambda info, reason: ended.append(reason))
    viewer = viewers()
    answer = await sessions.answer(ingest, await _client_offer(viewer))
    await viewer.close()  # leaves mid-negotiation: never applies the answer
    await wait_for(lambda: bool(ended))
    assert ended == ["viewer never connected"]
    assert sessions.sessions() == [] and ingest.status().viewers == 0
    with pytest.raises(SessionUnknownError):
        sessions.get(answer.session_id)


@pytest.mark.integration
async def test_session_limit_per_stream_is_enforced(
    ingest: RtpIngest,
    whep: Callable[..., WhepSessions],
    viewers: Callable[[], RTCPeerConnection],
) -> None:
    sessions = whep(max_per_stream=1)
    await sessions.answer(ingest, await _client_offer(viewers()))
    with pytest.raises(SessionLimitError):
        await sessions.answer(ingest, await _client_offer(viewers()))
    assert len(sessions.sessions()) == 1
