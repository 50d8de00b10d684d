from __future__ import annotations

import asyncio
import socket
import struct

import av
import numpy as np
import pytest

from simulator.vehicle.camera import (
    CameraConfig,
    H264Encoder,
    RtpH264Packetizer,
    SimCamera,
    default_video_port,
    split_annexb,
)
from simulator.vehicle.camera_render import CameraPose, CameraRenderer, SceneMarker, read_stamp

POSE = CameraPose(lat_deg=52.5, lon_deg=13.4, alt_agl_m=40.0, yaw_deg=30.0)


def test_stamp_survives_h264_encode_and_decode() -> None:
    renderer = CameraRenderer(320, 180)
    encoder = H264Encoder(320, 180, 30, 800, 30)
    decoder = av.CodecContext.create("h264", "r")
    stamps = [1_700_000_000_000 + 33 * i for i in range(5)]
    decoded = []
    for i, stamp in enumerate(stamps):
        for unit in encoder.encode(renderer.render(POSE, stamp), i * 3000):
            decoded += decoder.decode(av.Packet(unit))
    decoded += decoder.decode(None)
    assert [read_stamp(f.to_ndarray(format="gray")) for f in decoded] == stamps


def test_picture_follows_position_and_heading() -> None:
    renderer = CameraRenderer(320, 180)
    still = renderer.render(POSE, 0)
    assert np.array_equal(still, renderer.render(POSE, 0))
    moved = CameraPose(POSE.lat_deg + 1e-4, POSE.lon_deg, POSE.alt_agl_m, POSE.yaw_deg)
    turned = CameraPose(POSE.lat_deg, POSE.lon_deg, POSE.alt_agl_m, POSE.yaw_deg + 45)
    for other in (moved, turned):
        body = slice(40, 180)
        assert np.mean(renderer.render(other, 0)[body] != still[body]) > 0.3


def test_picture_depends_on_the_pose_only_not_on_earlier_frames() -> None:
    renderer = CameraRenderer(320, 180)
    first = renderer.render(POSE, 0)
    for step in range(1, 20):  # turn, climb and move: every cached view map is rebuilt
        renderer.render(
            CameraPose(POSE.lat_deg + step * 1e-6, POSE.lon_deg, 40.0 + step, 30.0 + step), 0
        )
    assert np.array_equal(renderer.render(POSE, 0), first)
    assert np.array_equal(CameraRenderer(320, 180).render(POSE, 0), first)


def test_render_into_reuses_the_callers_buffer() -> None:
    renderer = CameraRenderer(1280, 720)
    frame = np.zeros((1080, 1280), dtype=np.uint8)
    renderer.render_into(frame, POSE, 1_700_000_000_123)
    assert np.array_equal(frame, renderer.render(POSE, 1_700_000_000_123))
    assert read_stamp(frame[:720]) == 1_700_000_000_123
    with pytest.raises(ValueError, match="shape"):
        renderer.render_into(np.zeros((720, 1280), dtype=np.uint8), POSE, 0)


def test_oblique_view_shows_sky_above_the_horizon_and_the_scene_ahead() -> None:
    ahead = SceneMarker(POSE.lat_deg + 40 / 110_574.0, POSE.lon_deg, radius_m=4.0)  # 40 m north
    pose = CameraPose(POSE.lat_deg, POSE.lon_deg, 20.0, yaw_deg=0.0, gimbal_pitch_deg=-10.0)
    frame = CameraRenderer(320, 180, scene=ahead).render(pose, 0)
    luma, v_plane = frame[:180], frame[180 + 45 :].reshape(90, 160)
    assert (luma[20:60] == 200).all(axis=1).any()  # a sky row between the stamp and the ground
    ring_rows, ring_cols = np.nonzero(v_plane == 240)
    assert ring_rows.size > 20 and abs(ring_cols.mean() - 80) < 5  # straight ahead, in the centre


@pytest.mark.parametrize(
    ("north_m", "alt_agl_m", "yaw_deg", "pitch_deg"),
    [(3.0, 40.0, 30.0, -90.0), (2.0, 8.0, 200.0, -90.0), (35.0, 20.0, 5.0, -25.0)],
)
def test_scene_ring_drawn_inside_its_box_equals_the_ring_over_the_whole_picture(
    north_m: float,
    alt_agl_m: float,
    yaw_deg: float,
    pitch_deg: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scene = SceneMarker(POSE.lat_deg + north_m / 110_574.0, POSE.lon_deg + 2e-5, radius_m=5.0)
    pose = CameraPose(POSE.lat_deg, POSE.lon_deg, alt_agl_m, yaw_deg, pitch_deg)
    boxed = CameraRenderer(320, 180, scene=scene).render(pose, 0)
    whole = CameraRenderer(320, 180, scene=scene)
    monkeypatch.setattr(whole, "_scene_box", lambda e, n: (whole._map_c.first_row, 90, 0, 160))
    assert (boxed[180 + 45 :] == 240).sum() > 20
    assert np.array_equal(boxed, whole.render(pose, 0))


@pytest.mark.parametrize("alt_agl_m", [0.0, 7.3, 60.0, 400.0])
def test_straight_down_fixed_point_map_matches_the_general_float_map(alt_agl_m: float) -> None:
    pose = CameraPose(POSE.lat_deg + 3e-4, POSE.lon_deg - 2e-4, alt_agl_m, -123.4)
    affine = CameraRenderer(640, 360).render(pose, 0)
    general = CameraRenderer(640, 360)
    general.render(pose, 0)
    for ground_map in (general._map_y, general._map_c):
        assert ground_map._affine
        ground_map._affine = False
        ground_map._float = np.empty(ground_map._col.shape, np.float32)
    general._view_key = None  # rebuild through the float path
    assert np.mean(general.render(pose, 0) != affine) < 1e-4  # at most rounding at texel edges


def test_scene_marker_is_drawn_in_red_when_in_view() -> None:
    plain = CameraRenderer(320, 180).render(POSE, 0)
    marked = CameraRenderer(320, 180, scene=SceneMarker(POSE.lat_deg, POSE.lon_deg)).render(POSE, 0)
    v_plane = marked[180 + 45 :]
    assert (v_plane == 240).sum() > 50 and not (plain[180 + 45 :] == 240).any()


def test_packetizer_fragments_large_nals_as_fu_a_with_marker_on_last() -> None:
    nal = bytes([0x65]) + bytes(range(256)) * 20
    packets = RtpH264Packetizer(ssrc=1, sequence=65535, max_payload_bytes=1000).packetize(
        b"\x00\x00\x00\x01" + nal, 3000
    )
    headers = [struct.unpack("!BBHII", p[:12]) for p in packets]
    assert [h[1] & 0x7F for h in headers] == [96] * len(packets)
    assert [h[1] >> 7 for h in headers] == [0] * (len(packets) - 1) + [1]
    assert [h[2] for h in headers][:2] == [65535, 0]
    assert all(len(p) - 12 <= 1000 for p in packets)
    assert packets[0][12] & 0x1F == 28 and packets[0][13] & 0x80
    rebuilt = bytes([(packets[0][12] & 0xE0) | (packets[0][13] & 0x1F)]) + b"".join(
        p[14:] for p in packets
    )
    assert rebuilt == nal


def test_split_annexb_handles_3_and_4_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67AB\x00\x00\x01\x68C\x00\x00\x00\x01\x65DEF"
    assert list(split_annexb(data)) == [b"\x67AB", b"\x68C", b"\x65DEF"]
    # Zero bytes after the last NAL unit are trailing_zero_8bits of the byte stream, not the NAL's.
    assert list(split_annexb(data + b"\x00\x00")) == [b"\x67AB", b"\x68C", b"\x65DEF"]
    assert list(split_annexb(b"no start code")) == []


def test_config_refuses_bad_values() -> None:
    with pytest.raises(ValueError):
        CameraConfig(port=0)
    with pytest.raises(ValueError):
        CameraConfig(port=9000, fps=0)
    assert default_video_port(2) == 5602


@pytest.mark.integration
async def test_camera_streams_rtp_h264_to_its_udp_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        camera = SimCamera(
            CameraConfig(port=sock.getsockname()[1], width_px=160, height_px=96), lambda: POSE
        )
        task = asyncio.create_task(camera.run())
        loop = asyncio.get_running_loop()
        try:
            markers = 0
            async with asyncio.timeout(30):
                while markers < 5:
                    packet = await loop.sock_recv(sock, 2048)
                    assert packet[0] >> 6 == 2 and packet[1] & 0x7F == 96
                    markers += packet[1] >> 7
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert camera.stats.frames_sent >= 5


def test_non_finite_pose_is_refused() -> None:
    camera = SimCamera(CameraConfig(port=9), lambda: CameraPose(float("nan"), 0.0, 10.0))
    with pytest.raises(ValueError, match="finite"):
        camera.render_encode()
