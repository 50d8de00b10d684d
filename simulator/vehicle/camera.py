"""Simulated drone camera: renders a synthetic view, encodes H.264, sends RTP/UDP like PX4 SITL's camera.

PX4 SITL's gazebo camera plugins push `x264enc tune=zerolatency ! rtph264pay pt=96 ! udpsink
host=127.0.0.1 port=5600+instance`; this does the same with PyAV's libx264 and an RFC 6184
packetiser (single NAL unit and FU-A packets, payload type 96, 90 kHz clock, marker bit on the last
packet of each access unit), so a receiver written for PX4 also receives this.

Pose hook: the camera reads the drone's pose by calling `pose_source()` once per frame, a plain
callable returning a `CameraPose` (lat/lon in degrees, altitude above ground in metres, yaw in
degrees clockwise from north, gimbal pitch in degrees, -90 = straight down). Anything can provide
it: the simulated vehicle's state, a scripted path, or a constant for tests. Frames are paced with
an injectable `sleep`, stamped with an injectable `now_ms` (epoch milliseconds of capture).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

from simulator.vehicle.camera_render import CameraPose, CameraRenderer, SceneMarker

log = logging.getLogger(__name__)

RTP_PAYLOAD_TYPE_H264 = 96
RTP_CLOCK_HZ = 90_000
DEFAULT_VIDEO_PORT = 5600  # PX4 SITL: 5600 + instance
#: RTP payload limit: keeps datagrams under a 1500-byte MTU with IP/UDP/RTP headers to spare.
MAX_RTP_PAYLOAD_BYTES = 1200
_FU_A = 28

PoseSource = Callable[[], CameraPose]


def default_video_port(instance: int) -> int:
    """The UDP port PX4 SITL uses for vehicle `instance`'s video."""
    return DEFAULT_VIDEO_PORT + instance


def split_annexb(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex-B byte stream (start codes removed)."""
    # bytes.find jumps from start code to start code in C: a 720p keyframe is ~65 kB.
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        following = data.find(b"\x00\x00\x01", begin)
        end = len(data) if following < 0 else following
        while end > begin and data[end - 1] == 0:
            end -= 1  # the leading zero of a 4-byte start code (or trailing zeros)
        if end > begin:
            yield data[begin:end]
        start = following


@dataclass(slots=True)
class RtpH264Packetizer:
    """RFC 6184 packetisation mode 1 (single NAL unit + FU-A) of H.264 access units."""

    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    sequence: int = field(default_factory=lambda: secrets.randbits(16))
    timestamp_offset: int = field(default_factory=lambda: secrets.randbits(32))
    payload_type: int = RTP_PAYLOAD_TYPE_H264
    max_payload_bytes: int = MAX_RTP_PAYLOAD_BYTES

    def packetize(self, access_unit: bytes, pts_90khz: int) -> list[bytes]:
        """RTP packets (header + payload) carrying one Annex-B access unit."""
        payloads: list[bytes] = []
        for nal in split_annexb(access_unit):
            if len(nal) <= self.max_payload_bytes:
                payloads.append(nal)
                continue
            indicator = (nal[0] & 0xE0) | _FU_A
            nal_type = nal[0] & 0x1F
            body = nal[1:]
            chunk = self.max_payload_bytes - 2
            for offset in range(0, len(body), chunk):
                start = 0x80 if offset == 0 else 0
                end = 0x40 if offset + chunk >= len(body) else 0
                payloads.append(
                    bytes((indicator, start | end | nal_type)) + body[offset : offset + chunk]
                )
        timestamp = (pts_90khz + self.timestamp_offset) & 0xFFFFFFFF
        packets = []
        for index, payload in enumerate(payloads):
            marker = 0x80 if index == len(payloads) - 1 else 0
            header = struct.pack(
                "!BBHII", 0x80, marker | self.payload_type, self.sequence, timestamp, self.ssrc
            )
            self.sequence = (self.sequence + 1) & 0xFFFF
            packets.append(header + payload)
        return packets


class H264Encoder:
    """libx264 in low-latency settings: ultrafast, zerolatency, baseline, SPS/PPS on every IDR."""

    def __init__(
        self, width_px: int, height_px: int, fps: int, bitrate_kbps: int, keyint_frames: int
    ) -> None:
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width = width_px
        ctx.height = height_px
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = Fraction(1, RTP_CLOCK_HZ)
        ctx.framerate = Fraction(fps, 1)
        ctx.bit_rate = bitrate_kbps * 1000
        ctx.gop_size = keyint_frames
        ctx.max_b_frames = 0
        # One encoder thread: frame threads would add a frame of latency each, and slice threads
        # saved < 1 ms per 720p frame on a 2-core machine whose other core decodes and relays.
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": f"keyint={keyint_frames}:min-keyint={keyint_frames}:scenecut=0"
            ":repeat-headers=1:sliced-threads=0:threads=1",
        }
        self._ctx = ctx

    def encode(self, yuv420p: np.ndarray, pts_90khz: int) -> list[bytes]:
        """Annex-B access units produced for one input frame (zerolatency: normally exactly one)."""
        frame = av.VideoFrame.from_ndarray(yuv420p, format="yuv420p")
        frame.pts = pts_90khz
        frame.time_base = Fraction(1, RTP_CLOCK_HZ)
        return [bytes(packet) for packet in self._ctx.encode(frame)]

    def close(self) -> None:
        """Release the encoder."""
        self._ctx.close() if hasattr(self._ctx, "close") else None


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """What the camera sends and where."""

    port: int
    host: str = "127.0.0.1"
    width_px: int = 640
    height_px: int = 360
    fps: int = 30
    bitrate_kbps: int = 2048
    keyint_frames: int = 30  # one IDR per second: a new viewer waits at most this long
    hfov_deg: float = 90.0
    label: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} out of range")
        if not 1 <= self.fps <= 120:
            raise ValueError(f"fps {self.fps} out of range 1..120")
        if self.keyint_frames < 1:
            raise ValueError("keyint_frames must be >= 1")


@dataclass(slots=True)
class CameraStats:
    """Counters of one camera, for tests and benchmarks."""

    frames_sent: int = 0
    packets_sent: int = 0
    bytes_sent: int = 0
    send_errors: int = 0
    frames_late: int = 0  # frames more than one period behind schedule (the backlog is dropped)
    render_encode_s: float = 0.0  # wall time spent rendering and encoding, for per-frame cost


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class SimCamera:
    """One drone's camera: `await camera.run()` streams until cancelled."""

    def __init__(
        self,
        config: CameraConfig,
        pose_source: PoseSource,
        *,
        scene: SceneMarker | None = None,
        now_ms: Callable[[], int] = _epoch_ms,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.stats = CameraStats()
        self._pose_source = pose_source
        self._now_ms = now_ms
        self._monotonic = monotonic
        self._sleep = sleep
        self._renderer = CameraRenderer(
            config.width_px,
            config.height_px,
            hfov_deg=config.hfov_deg,
            label=config.label,
            scene=scene,
        )
        # One picture buffer for the camera's life: the encoder copies it, so frames can reuse it.
        self._picture = np.empty((config.height_px * 3 // 2, config.width_px), dtype=np.uint8)
        self._packetizer = RtpH264Packetizer()
        self._encoder: H264Encoder | None = None
        self._frame_index = 0

    @property
    def ssrc(self) -> int:
        """The RTP SSRC of the stream (changes on `restart_stream`)."""
        return self._packetizer.ssrc

    def restart_stream(self) -> None:
        """Start a new RTP stream (new SSRC, sequence and timestamps), as a rebooted camera would."""
        self._packetizer = RtpH264Packetizer()
        self._encoder = None
        self._frame_index = 0

    def render_encode(self, pose: CameraPose | None = None) -> list[bytes]:
        """Render, stamp and encode the next frame from `pose` (default: the pose source); its RTP packets."""
        cfg = self.config
        if self._encoder is None:
            self._encoder = H264Encoder(
                cfg.width_px, cfg.height_px, cfg.fps, cfg.bitrate_kbps, cfg.keyint_frames
            )
        started_s = time.perf_counter()
        if pose is None:
            pose = self._pose_source()
        if not all(map(math.isfinite, (pose.lat_deg, pose.lon_deg, pose.alt_agl_m, pose.yaw_deg))):
            raise ValueError(f"pose is not finite: {pose}")
        self._renderer.render_into(self._picture, pose, self._now_ms())
        pts = self._frame_index * RTP_CLOCK_HZ // cfg.fps
        self._frame_index += 1
        packets: list[bytes] = []
        for access_unit in self._encoder.encode(self._picture, pts):
            packets += self._packetizer.packetize(access_unit, pts)
        self.stats.render_encode_s += time.perf_counter() - started_s
        return packets

    async def run(self) -> None:
        """Stream frames at the configured rate until cancelled."""
        cfg = self.config
        period_s = 1.0 / cfg.fps
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            next_at = self._monotonic()
            while True:
                # The pose is read here, on the loop that moves the vehicle, so the worker thread
                # never sees a half-updated state; only rendering and encoding run off the loop.
                pose = self._pose_source()
                packets = await asyncio.to_thread(self.render_encode, pose)
                self._send(sock, packets)
                next_at += period_s
                delay_s = next_at - self._monotonic()
                if delay_s < -period_s:
                    self.stats.frames_late += 1
                    next_at = self._monotonic()  # fell behind: drop the backlog, never burst
                    delay_s = 0.0
                await self._sleep(max(0.0, delay_s))

    def _send(self, sock: socket.socket, packets: list[bytes]) -> None:
        target = (self.config.host, self.config.port)
        for packet in packets:
            try:
                sock.sendto(packet, target)
            except OSError:
                # A full socket buffer or unreachable receiver: a live camera just drops.
                self.stats.send_errors += 1
                continue
            self.stats.packets_sent += 1
            self.stats.bytes_sent += len(packet)
        self.stats.frames_sent += 1
