"""Synthetic camera picture rendered from a drone pose, straight into YUV 4:2:0 planes.

The ground is a procedural texture tiled over a local flat-earth plane, so the picture moves and turns
with the drone. Overlays: the scene marker (a red ring on the ground), a visible clock, the drone's
label, and a machine-readable frame stamp: a row of black/white blocks at the top that carries the
capture time in epoch milliseconds (see `STAMP_BITS`), so any client that decodes the picture can
measure glass-to-glass latency.

Stamp layout (left to right, each block `block_px` wide and tall, starting at x = block_px):
one white and one black guard block, 44 bits of epoch ms (MSB first), 4 bits of checksum (the sum of
the eleven 4-bit nibbles of the value, mod 16). White = luma 235, black = luma 16.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

STAMP_VALUE_BITS = 44
STAMP_CHECK_BITS = 4
STAMP_BITS = 2 + STAMP_VALUE_BITS + STAMP_CHECK_BITS
_WHITE = 235
_BLACK = 16
_TILE_PX = 1024  # power of two: coordinates wrap with a mask
_TILE_M_PER_PX = 0.25
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0

U8Array = npt.NDArray[np.uint8]
F32Array = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class CameraPose:
    """Where the camera is and where it looks; roll is ignored (a stabilised gimbal)."""

    lat_deg: float
    lon_deg: float
    alt_agl_m: float
    yaw_deg: float = 0.0
    gimbal_pitch_deg: float = -90.0  # -90 looks straight down, 0 at the horizon


@dataclass(frozen=True, slots=True)
class SceneMarker:
    """A point on the ground drawn as a red ring (the incident location)."""

    lat_deg: float
    lon_deg: float
    radius_m: float = 6.0


def stamp_checksum(value: int) -> int:
    """The 4-bit checksum of a stamp value."""
    return sum((value >> shift) & 0xF for shift in range(0, STAMP_VALUE_BITS, 4)) & 0xF


def stamp_block_px(width_px: int) -> int:
    """Block size of the stamp row for a picture width (the row fits with one block margin)."""
    return max(4, width_px // (STAMP_BITS + 2))


def encode_stamp_bits(value: int) -> list[int]:
    """Guard, value and checksum bits of a stamp, left to right."""
    value &= (1 << STAMP_VALUE_BITS) - 1
    bits = [1, 0]
    bits += [(value >> (STAMP_VALUE_BITS - 1 - i)) & 1 for i in range(STAMP_VALUE_BITS)]
    check = stamp_checksum(value)
    bits += [(check >> (STAMP_CHECK_BITS - 1 - i)) & 1 for i in range(STAMP_CHECK_BITS)]
    return bits


def read_stamp(luma: npt.NDArray[np.uint8]) -> int | None:
    """The epoch-ms stamp in a decoded luma plane (H x W), or None if unreadable."""
    height, width = luma.shape[:2]
    block = stamp_block_px(width)
    if height < block * 2:
        return None
    y = block // 2
    bits = []
    for i in range(STAMP_BITS):
        x0 = block * (i + 1) + block // 4
        x1 = block * (i + 2) - block // 4
        bits.append(
            1 if float(luma[y - block // 4 : y + block // 4 + 1, x0:x1].mean()) > 128 else 0
        )
    if bits[0] != 1 or bits[1] != 0:
        return None
    value = 0
    for bit in bits[2 : 2 + STAMP_VALUE_BITS]:
        value = (value << 1) | bit
    check = 0
    for bit in bits[2 + STAMP_VALUE_BITS :]:
        check = (check << 1) | bit
    return value if check == stamp_checksum(value) else None


# 3x5 bitmap font for the clock and label; each glyph is five rows of three bits.
_FONT: dict[str, tuple[int, int, int, int, int]] = {
    "0": (7, 5, 5, 5, 7),
    "1": (2, 6, 2, 2, 7),
    "2": (7, 1, 7, 4, 7),
    "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1),
    "5": (7, 4, 7, 1, 7),
    "6": (7, 4, 7, 5, 7),
    "7": (7, 1, 1, 2, 2),
    "8": (7, 5, 7, 5, 7),
    "9": (7, 5, 7, 1, 7),
    ":": (0, 2, 0, 2, 0),
    ".": (0, 0, 0, 0, 2),
    "-": (0, 0, 7, 0, 0),
    " ": (0, 0, 0, 0, 0),
    "Z": (7, 1, 2, 4, 7),
    "T": (7, 2, 2, 2, 2),
    "A": (2, 5, 7, 5, 5),
    "M": (5, 7, 7, 5, 5),
    "D": (6, 5, 5, 5, 6),
    "R": (6, 5, 6, 5, 5),
    "O": (7, 5, 5, 5, 7),
    "N": (5, 7, 7, 7, 5),
    "E": (7, 4, 6, 4, 7),
    "C": (7, 4, 4, 4, 7),
    "S": (7, 4, 7, 1, 7),
    "L": (4, 4, 4, 4, 7),
}


def draw_text(luma: U8Array, text: str, x_px: int, y_px: int, scale_px: int) -> None:
    """Draw `text` in white on a black box (unknown characters render as blanks)."""
    height, width = luma.shape
    box_w = (len(text) * 4 + 1) * scale_px
    box_h = 7 * scale_px
    luma[y_px : min(height, y_px + box_h), x_px : min(width, x_px + box_w)] = _BLACK
    for n, char in enumerate(text.upper()):
        rows = _FONT.get(char, _FONT[" "])
        gx = x_px + (1 + n * 4) * scale_px
        for r, row_bits in enumerate(rows):
            for c in range(3):
                if row_bits & (4 >> c):
                    y0 = y_px + (1 + r) * scale_px
                    x0 = gx + c * scale_px
                    luma[y0 : y0 + scale_px, x0 : x0 + scale_px] = _WHITE


def _ground_tiles(seed: int) -> tuple[U8Array, U8Array, U8Array]:
    """Luma and chroma tiles of a procedural ground: fields, a road grid and building blocks."""
    rng = np.random.default_rng(seed)
    n = _TILE_PX
    luma = np.zeros((n, n), dtype=np.float32)
    for cells in (8, 32, 128):
        coarse = rng.random((cells, cells), dtype=np.float32)
        rep = n // cells
        luma += np.kron(coarse, np.ones((rep, rep), dtype=np.float32)) * (256.0 / cells) ** 0.5
    luma = 60 + 100 * (luma - luma.min()) / (luma.max() - luma.min() + 1e-6)
    u = np.full((n, n), 110, dtype=np.float32)  # greenish fields
    v = np.full((n, n), 120, dtype=np.float32)
    for _ in range(40):  # buildings: light grey roofs
        x, y = rng.integers(0, n - 80, size=2)
        w, h = rng.integers(20, 80, size=2)
        luma[y : y + h, x : x + w] = 170 + 30 * rng.random()
        u[y : y + h, x : x + w] = 128
        v[y : y + h, x : x + w] = 128
    road_every_px = 256  # 64 m blocks
    for k in range(0, n, road_every_px):
        for plane, value in ((luma, 45.0), (u, 128.0), (v, 128.0)):
            plane[k : k + 24, :] = value
            plane[:, k : k + 24] = value
        luma[k + 11 : k + 13, :] = 220  # centre line
        luma[:, k + 11 : k + 13] = 220
    return (
        luma.clip(16, 235).astype(np.uint8),
        u[::2, ::2].astype(np.uint8),
        v[::2, ::2].astype(np.uint8),
    )


class CameraRenderer:
    """Renders frames for one camera; precomputes per-pixel ground rays for its size and pitch."""

    def __init__(
        self,
        width_px: int,
        height_px: int,
        *,
        hfov_deg: float = 90.0,
        origin_lat_deg: float | None = None,
        origin_lon_deg: float | None = None,
        label: str = "",
        scene: SceneMarker | None = None,
        seed: int = 7,
    ) -> None:
        if width_px % 16 or height_px % 2 or width_px < 64 or height_px < 64:
            raise ValueError("width must be a multiple of 16 and >= 64, height even and >= 64")
        self.width_px = width_px
        self.height_px = height_px
        self.hfov_deg = hfov_deg
        self.label = label
        self.scene = scene
        self._origin: tuple[float, float] | None = (
            (origin_lat_deg, origin_lon_deg)
            if origin_lat_deg is not None and origin_lon_deg is not None
            else None
        )
        self._tile_y, self._tile_u, self._tile_v = _ground_tiles(seed)
        self._rays_pitch: float | None = None
        self._rays: tuple[F32Array, F32Array, npt.NDArray[np.bool_]] = (
            np.zeros(0, np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.bool_),
        )
        self._rays_half: tuple[F32Array, F32Array, npt.NDArray[np.bool_]] = self._rays

    def _local_m(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        if self._origin is None:
            self._origin = (lat_deg, lon_deg)
        lat0, lon0 = self._origin
        east = (lon_deg - lon0) * _M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))
        north = (lat_deg - lat0) * _M_PER_DEG_LAT
        return east, north

    def _ground_rays(
        self, pitch_deg: float, width: int, height: int
    ) -> tuple[F32Array, F32Array, npt.NDArray[np.bool_]]:
        """Ground offsets (right, forward) per metre of height for each pixel, and the sky mask."""
        focal = (width / 2) / math.tan(math.radians(self.hfov_deg) / 2)
        xs = (np.arange(width, dtype=np.float32) - width / 2 + 0.5) / focal
        ys = (np.arange(height, dtype=np.float32) - height / 2 + 0.5) / focal
        cam_x, cam_y = np.meshgrid(xs, ys)  # camera frame: x right, y down, z forward
        pitch = math.radians(pitch_deg)
        # Optical axis (forward cos p, down -sin p); image-down axis (forward sin p, down cos p).
        forward = math.cos(pitch) + math.sin(pitch) * cam_y
        down = -math.sin(pitch) + math.cos(pitch) * cam_y
        sky = down <= 1e-3
        t = np.where(sky, 0.0, 1.0 / np.maximum(down, 1e-3)).astype(np.float32)
        return (cam_x * t).astype(np.float32), (forward * t).astype(np.float32), sky

    def render(self, pose: CameraPose, stamp_ms: int) -> U8Array:
        """One frame as a yuv420p array of shape (H * 3 / 2, W), stamped with `stamp_ms`."""
        w, h = self.width_px, self.height_px
        if self._rays_pitch != pose.gimbal_pitch_deg:
            self._rays = self._ground_rays(pose.gimbal_pitch_deg, w, h)
            self._rays_half = self._ground_rays(pose.gimbal_pitch_deg, w // 2, h // 2)
            self._rays_pitch = pose.gimbal_pitch_deg
        east, north = self._local_m(pose.lat_deg, pose.lon_deg)
        alt_m = max(pose.alt_agl_m, 0.5)
        yaw = math.radians(pose.yaw_deg)
        frame = np.empty((h * 3 // 2, w), dtype=np.uint8)
        luma = frame[:h]
        luma[:] = self._sample(self._tile_y, self._rays, east, north, alt_m, yaw, 1)
        chroma_u = self._sample(self._tile_u, self._rays_half, east, north, alt_m, yaw, 2)
        chroma_v = self._sample(self._tile_v, self._rays_half, east, north, alt_m, yaw, 2)
        luma[self._rays[2]] = 200  # sky
        chroma_u[self._rays_half[2]] = 150
        chroma_v[self._rays_half[2]] = 110
        if self.scene is not None:
            self._draw_scene(luma, chroma_u, chroma_v, east, north, alt_m, yaw)
        self._draw_overlays(luma, stamp_ms)
        frame[h : h + h // 4] = chroma_u.reshape(h // 4, w)
        frame[h + h // 4 :] = chroma_v.reshape(h // 4, w)
        return frame

    def _ground_xy(
        self,
        rays: tuple[F32Array, F32Array, npt.NDArray[np.bool_]],
        east: float,
        north: float,
        alt_m: float,
        yaw: float,
    ) -> tuple[F32Array, F32Array]:
        right, fwd, _ = rays
        sin_yaw, cos_yaw = math.sin(yaw), math.cos(yaw)
        # Heading yaw (clockwise from north): forward = (sin, cos), right = (cos, -sin) in (E, N).
        ground_e = (fwd * (alt_m * sin_yaw) + right * (alt_m * cos_yaw)) + east
        ground_n = (fwd * (alt_m * cos_yaw) - right * (alt_m * sin_yaw)) + north
        return ground_e.astype(np.float32, copy=False), ground_n.astype(np.float32, copy=False)

    def _sample(
        self,
        tile: U8Array,
        rays: tuple[F32Array, F32Array, npt.NDArray[np.bool_]],
        east: float,
        north: float,
        alt_m: float,
        yaw: float,
        tile_step: int,
    ) -> U8Array:
        ground_e, ground_n = self._ground_xy(rays, east, north, alt_m, yaw)
        scale = 1.0 / (_TILE_M_PER_PX * tile_step)
        mask = tile.shape[0] - 1
        cols = (ground_e * scale).astype(np.int32) & mask
        rows = (-ground_n * scale).astype(np.int32) & mask
        sampled: U8Array = tile[rows, cols]
        return sampled

    def _draw_scene(
        self,
        luma: U8Array,
        chroma_u: U8Array,
        chroma_v: U8Array,
        east: float,
        north: float,
        alt_m: float,
        yaw: float,
    ) -> None:
        assert self.scene is not None
        scene_e, scene_n = self._local_m(self.scene.lat_deg, self.scene.lon_deg)
        ground_e, ground_n = self._ground_xy(self._rays_half, east, north, alt_m, yaw)
        dist_m = np.hypot(ground_e - scene_e, ground_n - scene_n)
        radius = self.scene.radius_m
        ring = (np.abs(dist_m - radius) < radius * 0.25) & ~self._rays_half[2]
        chroma_u[ring] = 90
        chroma_v[ring] = 240
        for dy in (0, 1):
            for dx in (0, 1):
                luma[dy::2, dx::2][ring] = 82

    def _draw_overlays(self, luma: U8Array, stamp_ms: int) -> None:
        block = stamp_block_px(self.width_px)
        luma[: block * 2, :] = _BLACK  # quiet zone around the stamp
        for i, bit in enumerate(encode_stamp_bits(stamp_ms)):
            x0 = block * (i + 1)
            luma[0:block, x0 : x0 + block] = _WHITE if bit else _BLACK
        scale = max(1, block // 4)
        clock = time.strftime("%H:%M:%S", time.gmtime(stamp_ms / 1000)) + f".{stamp_ms % 1000:03d}Z"
        draw_text(luma, clock, block, block * 2, scale)
        if self.label:
            draw_text(luma, self.label, block, block * 2 + 8 * scale, scale)
