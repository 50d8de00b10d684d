"""A fleet with cameras: each drone streams H.264 to its fleet-file video port and announces it."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import av
import pytest

from simulator.vehicle import (
    FleetCameraOptions,
    SimConfigError,
    SimFleet,
    load_fleet_file,
    with_cameras,
)
from simulator.vehicle.camera_fleet import drone_pose, parse_camera_size
from simulator.vehicle.camera_render import read_stamp
from telemetry.video import RtpEndpoint, RtpIngest, StreamState
from tests.conftest import free_udp_ports

from .conftest import RawClient

MAV_CMD_REQUEST_MESSAGE = 512
VIDEO_STREAM_INFORMATION_ID = 269
CAMERA_COMPONENT = 100


def _fleet_file(
    tmp_path: Path, ports: list[tuple[int, int]], video_ports: list[int | None]
) -> Path:
    """A fleet file; `ports` are (client, vehicle api) per drone."""
    lines = ['[[docks]]\nid = "d"\nlat = 38.8339\nlon = -104.7470\nalt_amsl_m = 1840.0\n']
    for i, ((client, api), video) in enumerate(zip(ports, video_ports, strict=True)):
        lines.append(
            f'[[drones]]\nid = "D{i + 1}"\ndock = "d"\nmavlink_url = "udpin://127.0.0.1:{client}"\n'
            f"sim_api_port = {api}\n"
            + (f'video_url = "udp://127.0.0.1:{video}"\n' if video is not None else "")
        )
    path = tmp_path / "fleet.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_camera_options_refuse_odd_or_absurd_pictures() -> None:
    with pytest.raises(SimConfigError):
        FleetCameraOptions(width_px=641)
    with pytest.raises(SimConfigError):
        FleetCameraOptions(height_px=8)
    with pytest.raises(SimConfigError):
        FleetCameraOptions(fps=0)
    with pytest.raises(SimConfigError):
        FleetCameraOptions(gimbal_pitch_deg=20.0)
    assert parse_camera_size("1280x720") == (1280, 720)
    for bad in ("1280", "x720", "wide x tall", "-640x360"):
        with pytest.raises(SimConfigError):
            parse_camera_size(bad)


def test_fleet_file_video_url_sets_the_port_else_base_plus_index(tmp_path: Path) -> None:
    path = _fleet_file(tmp_path, [(30001, 30002), (30011, 30012)], [30123, None])
    cfg = load_fleet_file(path, gcs_base_port=None, video_base_port=31000)
    assert [d.video_port for d in cfg.drones] == [30123, 31001]
    path.write_text(
        path.read_text().replace('"udp://127.0.0.1:30123"', '"udp://127.0.0.1"'), encoding="utf-8"
    )
    with pytest.raises(SimConfigError, match="video_url"):
        load_fleet_file(path, gcs_base_port=None)


def test_with_cameras_announces_what_the_camera_sends(tmp_path: Path) -> None:
    cfg = load_fleet_file(_fleet_file(tmp_path, [(30001, 30002)], [30123]), gcs_base_port=None)
    cfg = with_cameras(cfg, FleetCameraOptions(width_px=320, height_px=180, fps=12))
    drone = cfg.drones[0]
    assert (drone.video_fps, drone.video_width_px, drone.video_height_px) == (12.0, 320, 180)
    assert cfg.camera is not None and cfg.camera.fps == 12


@pytest.mark.sim
async def test_each_drone_streams_decodable_stamped_h264_to_its_port(tmp_path: Path) -> None:
    free = free_udp_ports(4)
    ports = [(free[0], free[1]), (free[2], free[3])]
    async with (
        RtpIngest("D1", RtpEndpoint("127.0.0.1", 0), stall_after_s=2.0) as ingest1,
        RtpIngest("D2", RtpEndpoint("127.0.0.1", 0), stall_after_s=2.0) as ingest2,
    ):
        path = _fleet_file(tmp_path, ports, [ingest1.port, ingest2.port])
        cfg = with_cameras(
            load_fleet_file(path, speedup=5.0, gcs_base_port=None),
            FleetCameraOptions(width_px=320, height_px=180, fps=10),
        )
        rc = RawClient(*ports[0])
        try:
            async with SimFleet(cfg) as fleet:
                for ingest in (ingest1, ingest2):
                    await ingest.wait_state(StreamState.LIVE, 60)
                with ingest1.subscribe() as sub:
                    async with asyncio.timeout(30):
                        unit = await sub.get()
                assert unit.keyframe
                ctx = av.CodecContext.create("h264", "r")
                frames = [*ctx.decode(av.Packet(unit.data)), *ctx.decode(None)]
                picture = frames[0].to_ndarray(format="gray")
                assert picture.shape == (180, 320)
                assert read_stamp(picture) is not None

                await rc.wait_for("HEARTBEAT")
                await rc.command(
                    MAV_CMD_REQUEST_MESSAGE,
                    VIDEO_STREAM_INFORMATION_ID,
                    target_comp=CAMERA_COMPONENT,
                )
                info = await rc.wait_for("VIDEO_STREAM_INFORMATION")
                assert info.uri == str(ingest1.port)
                assert (info.framerate, info.resolution_h, info.resolution_v) == (10.0, 320, 180)

                snap = fleet.drone(0).snapshot()
                pose = drone_pose(fleet.drone(0))
                assert math.isclose(pose.lat_deg, snap.lat_deg, abs_tol=1e-4)
                assert pose.alt_agl_m >= 0.0
        finally:
            rc.close()
