"""Synthetic camera picture rendered from a drone pose, straight into YUV 4:2:0 planes.

The ground is a procedural texture tiled over a local flat-earth plane, so the picture moves and turns
with the drone. Overlays: the scene marker (a red ring on the ground), a visible clock, the drone's
label, and a machine-readable frame stamp: a row of black/white blocks at the top that carries the
capture time in epoch milliseconds (see `STAMP_BITS`), so any client that decodes the picture can
measure glass-to-glass latency.

Cost: a frame is one gather per plane from the texture. The texture index of every pixel depends on
gimbal pitch, heading and height only, so it is computed once per view (heading quantised to
`YAW_STEP_DEG`, height to `HEIGHT_STEP_RATIO`); moving the drone adds one integer offset to it. The
picture is therefore a pure function of the pose, exact to one texture pixel (0.25 m).

Stamp layout (left to right, each block `block_px` wide and tall, starting at x = block_px):
one white and one black guard block, 44 bits of epoch ms (MSB first), 4 bits of checksum (the sum of
the eleven 4-bit nibbles of the value, mod 16). White = luma 235, black = luma 16.
"""

from __future__ import annotations

import functools
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
_NEUTRAL_CHROMA = 128
_TILE_PX = 1024  # power of two: coordinates wrap with a mask
_TILE_M_PER_PX = 0.25
#: Heading step of the cached views: 0.25 deg moves a corner of a 720p picture by at most ~3 px.
YAW_STEP_DEG = 0.25
#: Height step of the cached views (geometric): 0.5 % scales a corner by at most ~4 px at 720p.
HEIGHT_STEP_RATIO = 1.005
_MIN_HEIGHT_M = 0.5
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0

U8Array = npt.NDArray[np.uint8]
F32Array = npt.NDArray[np.float32]
I32Array = npt.NDArray[np.int32]


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


@functools.lru_cache(maxsize=64)
def _glyph(char: str, scale_px: int) -> npt.NDArray[np.bool_]:
    """The white cells of one glyph at `scale_px` pixels per font cell."""
    rows = _FONT.get(char, _FONT[" "])
    cells = np.array([[(row >> (2 - c)) & 1 for c in range(3)] for row in rows], dtype=np.bool_)
    mask = np.repeat(np.repeat(cells, scale_px, axis=0), scale_px, axis=1)
    mask.flags.writeable = False
    return mask


def text_box_px(text: str, scale_px: int) -> tuple[int, int]:
    """Width and height of the black box `draw_text` fills for `text`."""
    return (len(text) * 4 + 1) * scale_px, 7 * scale_px


def draw_text(luma: U8Array, text: str, x_px: int, y_px: int, scale_px: int) -> None:
    """Draw `text` in white on a black box (unknown characters render as blanks)."""
    height, width = luma.shape
    box_w, box_h = text_box_px(text, scale_px)
    luma[y_px : min(height, y_px + box_h), x_px : min(width, x_px + box_w)] = _BLACK
    y0 = y_px + scale_px
    for n, char in enumerate(text.upper()):
        x0 = x_px + (1 + n * 4) * scale_px
        cell = luma[y0 : y0 + 5 * scale_px, x0 : x0 + 3 * scale_px]
        if cell.size:
            cell[_glyph(char, scale_px)[: cell.shape[0], : cell.shape[1]]] = _WHITE


@functools.lru_cache(maxsize=4)
def _ground_textures(seed: int) -> tuple[U8Array, U8Array, U8Array]:
    """Flat luma, U and V textures: each ground tile repeated 2 x 2, so a view needs no wrapping."""
    tiles = _ground_tiles(seed)
    textures = []
    for tile in tiles:
        texture = np.tile(tile, (2, 2)).reshape(-1)
        texture.flags.writeable = False  # shared by every renderer with this seed
        textures.append(texture)
    return textures[0], textures[1], textures[2]


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


@dataclass(frozen=True, slots=True)
class _Rays:
    """Camera rays of one picture grid for one gimbal pitch, as per-column and per-row factors.

    The ray through pixel (x, y) meets the ground `right_px[x] * t[y]` to the right and `fwd[y]`
    ahead, in metres per metre of height; rows above `ground_row` see the sky (no roll, so the
    horizon is a row).
    """

    right_px: npt.NDArray[np.float64]
    t: npt.NDArray[np.float64]
    fwd: npt.NDArray[np.float64]
    ground_row: int
    focal_px: float


def _rays(width_px: int, height_px: int, hfov_deg: float, pitch_deg: float) -> _Rays:
    focal = (width_px / 2) / math.tan(math.radians(hfov_deg) / 2)
    cam_x = (np.arange(width_px, dtype=np.float64) - width_px / 2 + 0.5) / focal
    cam_y = (np.arange(height_px, dtype=np.float64) - height_px / 2 + 0.5) / focal
    pitch = math.radians(pitch_deg)
    # Optical axis (forward cos p, down -sin p); image-down axis (forward sin p, down cos p).
    forward = math.cos(pitch) + math.sin(pitch) * cam_y
    down = -math.sin(pitch) + math.cos(pitch) * cam_y
    sky = down <= 1e-3
    t = np.where(sky, 0.0, 1.0 / np.maximum(down, 1e-3))
    # cos(pitch) >= 0 for pitch in -90..90, so `down` grows down the picture: the sky is a top band.
    return _Rays(cam_x, t, forward * t, int(np.count_nonzero(sky)), focal)


_FRACTION_BITS = 16


def _fixed_point(values: npt.NDArray[np.float64]) -> I32Array:
    """`values` in 16.16 fixed point, floored, wrapped to int32 (only low bits are used)."""
    scaled = np.floor(values * (1 << _FRACTION_BITS)).astype(np.int64)
    wrapped: I32Array = (scaled & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
    return wrapped


class _GroundMap:
    """Texture index of every ground pixel of one plane for the current view, and the fill from it.

    Buffers are allocated once per pitch: a rebuild (new heading or height) and a frame allocate nothing.
    """

    def __init__(self, rays: _Rays, first_row: int, tile_px: int, m_per_px: float) -> None:
        self.first_row = first_row
        self._tile_px = tile_px
        self._m_per_px = m_per_px
        rows = max(0, len(rays.t) - first_row)
        cols = len(rays.right_px)
        self._right = rays.right_px
        self._t = rays.t[first_row:]
        self._fwd = rays.fwd[first_row:]
        # Straight down every ground row has the same range factor: the map is affine and is built
        # from per-row plus per-column terms in integer fixed point (no 2-D float pass at all).
        self._affine = rows > 0 and bool(np.all(self._t == self._t[0]))
        self._float = np.empty((0 if self._affine else rows, cols), np.float32)
        self._col = np.empty((rows, cols), np.int32)
        self._row = np.empty((rows, cols), np.int32)
        # Pointer-sized, because numpy's gather converts any other index type first (a full pass).
        self._index = np.empty(rows * cols, np.intp)

    def build(self, yaw_rad: float, alt_m: float) -> None:
        """Recompute the index map for a heading (clockwise from north) and a height."""
        if not self._index.size:
            return
        scale = alt_m / self._m_per_px  # texture pixels per metre of ray per metre of height
        sin_yaw, cos_yaw = math.sin(yaw_rad), math.cos(yaw_rad)
        # Heading yaw: forward = (sin, cos), right = (cos, -sin) in (E, N). Texture columns grow
        # east, rows south: column = right * cos + fwd * sin, row = right * sin - fwd * cos.
        terms = ((self._col, cos_yaw, sin_yaw), (self._row, sin_yaw, -cos_yaw))
        if self._affine:
            self._build_affine(scale, terms)
        else:
            self._build_general(scale, terms)

    def _build_affine(self, scale: float, terms: tuple[tuple[I32Array, float, float], ...]) -> None:
        mask = self._tile_px - 1
        row_bits = (2 * self._tile_px).bit_length() - 1  # the texture is two tiles wide
        t0 = float(self._t[0])
        for out, right_k, fwd_k in terms:
            per_col = _fixed_point(self._right * (scale * right_k * t0))
            per_row = _fixed_point(self._fwd * (scale * fwd_k))
            # int32 addition wraps, which keeps exactly the low bits the mask below keeps.
            np.add(per_row[:, None], per_col[None, :], out=out)
        # floor(column) & mask, and (floor(row) & mask) << row_bits, straight from fixed point.
        np.right_shift(self._col, _FRACTION_BITS, out=self._col)
        self._col &= mask
        np.right_shift(self._row, _FRACTION_BITS - row_bits, out=self._row)
        self._row &= mask << row_bits
        np.bitwise_or(self._row, self._col, out=self._index.reshape(self._row.shape))

    def _build_general(
        self, scale: float, terms: tuple[tuple[I32Array, float, float], ...]
    ) -> None:
        mask = self._tile_px - 1
        # A positive offset that is a multiple of the tile makes truncation a floor, for free.
        bound = scale * float(
            np.max(self._t) * np.max(np.abs(self._right)) + np.max(np.abs(self._fwd))
        )
        offset = self._tile_px * (math.ceil(bound / self._tile_px) + 1)
        right = self._right.astype(np.float32)
        for out, right_k, fwd_k in terms:
            np.multiply.outer(
                (self._t * (scale * right_k)).astype(np.float32), right, out=self._float
            )
            self._float += (self._fwd * (scale * fwd_k) + offset).astype(np.float32)[:, None]
            np.copyto(out, self._float, casting="unsafe")
            out &= mask
        index = self._index.reshape(self._row.shape)
        np.multiply(self._row, 2 * self._tile_px, out=index)  # the texture is two tiles wide
        index += self._col

    def fill(self, plane: U8Array, texture: U8Array, east_m: float, north_m: float) -> None:
        """Write the ground seen from (east_m, north_m) into `plane`'s rows from `first_row`."""
        if not self._index.size:
            return
        n = self._tile_px
        col0 = math.floor(east_m / self._m_per_px) % n
        row0 = math.floor(-north_m / self._m_per_px) % n
        # Map rows and columns are in [0, n) and so is the offset: gathering from the texture seen
        # from the offset (a view, no copy) stays inside the 2n x 2n texture.
        shifted = texture[row0 * 2 * n + col0 :]
        np.take(shifted, self._index, out=plane[self.first_row :].reshape(-1), mode="clip")


class CameraRenderer:
    """Renders frames for one camera; caches the texture index map of the current view."""

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
        self._texture_y, self._texture_u, self._texture_v = _ground_textures(seed)
        self._block_px = stamp_block_px(width_px)
        # The stamp's quiet zone covers the top 2 blocks: no ground is rendered under it.
        self._overlay_rows = 2 * self._block_px
        self._pitch_deg: float | None = None
        self._view_key: tuple[int, int] | None = None
        self._yaw_rad = 0.0
        self._alt_m = 1.0
        self._rays_y = self._rays_c = _rays(64, 64, hfov_deg, -90.0)
        self._map_y = self._map_c = _GroundMap(self._rays_y, 0, _TILE_PX, _TILE_M_PER_PX)

    def _local_m(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        if self._origin is None:
            self._origin = (lat_deg, lon_deg)
        lat0, lon0 = self._origin
        east = (lon_deg - lon0) * _M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))
        north = (lat_deg - lat0) * _M_PER_DEG_LAT
        return east, north

    def render(self, pose: CameraPose, stamp_ms: int) -> U8Array:
        """One frame as a new yuv420p array of shape (H * 3 / 2, W), stamped with `stamp_ms`."""
        frame = np.empty((self.height_px * 3 // 2, self.width_px), dtype=np.uint8)
        self.render_into(frame, pose, stamp_ms)
        return frame

    def render_into(self, frame: U8Array, pose: CameraPose, stamp_ms: int) -> None:
        """Render into `frame`, a C-contiguous uint8 (H * 3 / 2, W) yuv420p buffer the caller reuses."""
        w, h = self.width_px, self.height_px
        if (
            frame.shape != (h * 3 // 2, w)
            or frame.dtype != np.uint8
            or not frame.flags.c_contiguous
        ):
            raise ValueError(f"frame must be a C-contiguous uint8 array of shape {(h * 3 // 2, w)}")
        luma = frame[:h]
        chroma_u = frame[h : h + h // 4].reshape(h // 2, w // 2)
        chroma_v = frame[h + h // 4 :].reshape(h // 2, w // 2)
        self._set_view(pose)
        east, north = self._local_m(pose.lat_deg, pose.lon_deg)
        self._map_y.fill(luma, self._texture_y, east, north)
        self._map_c.fill(chroma_u, self._texture_u, east, north)
        self._map_c.fill(chroma_v, self._texture_v, east, north)
        luma[self._overlay_rows : self._map_y.first_row] = 200  # sky
        chroma_u[self._block_px : self._map_c.first_row] = 150
        chroma_v[self._block_px : self._map_c.first_row] = 110
        if self.scene is not None:
            self._draw_scene(luma, chroma_u, chroma_v, east, north)
        self._draw_overlays(luma, chroma_u, chroma_v, stamp_ms)

    def _set_view(self, pose: CameraPose) -> None:
        """Rebuild the index maps when pitch, quantised heading or quantised height changed."""
        pitch_deg = min(90.0, max(-90.0, pose.gimbal_pitch_deg))  # a gimbal cannot look backwards
        if pitch_deg != self._pitch_deg:
            w, h = self.width_px, self.height_px
            self._rays_y = _rays(w, h, self.hfov_deg, pitch_deg)
            self._rays_c = _rays(w // 2, h // 2, self.hfov_deg, pitch_deg)
            first_y = max(self._rays_y.ground_row, self._overlay_rows)
            first_c = max(self._rays_c.ground_row, self._block_px)
            self._map_y = _GroundMap(self._rays_y, first_y, _TILE_PX, _TILE_M_PER_PX)
            self._map_c = _GroundMap(self._rays_c, first_c, _TILE_PX // 2, _TILE_M_PER_PX * 2)
            self._pitch_deg = pitch_deg
            self._view_key = None
        alt_m = max(pose.alt_agl_m, _MIN_HEIGHT_M)
        key = (
            round(pose.yaw_deg / YAW_STEP_DEG) % round(360 / YAW_STEP_DEG),
            round(math.log(alt_m) / math.log(HEIGHT_STEP_RATIO)),
        )
        if key == self._view_key:
            return
        self._yaw_rad = math.radians(key[0] * YAW_STEP_DEG)
        self._alt_m = HEIGHT_STEP_RATIO ** key[1]
        self._map_y.build(self._yaw_rad, self._alt_m)
        self._map_c.build(self._yaw_rad, self._alt_m)
        self._view_key = key

    def _scene_box(self, scene_e: float, scene_n: float) -> tuple[int, int, int, int] | None:
        """Chroma rows and columns (y0, y1, x0, x1) that can hold the ring, None if out of view."""
        assert self.scene is not None and self._pitch_deg is not None
        rays = self._rays_c
        height, width = len(rays.t), len(rays.right_px)
        y_first = self._map_c.first_row
        # A 32-gon around the outer edge (1.25 r) with 2 % to spare contains the whole disc.
        angle = np.linspace(0.0, 2 * math.pi, 32, endpoint=False)
        outer_m = self.scene.radius_m * 1.25 * 1.02
        point_e = scene_e + outer_m * np.cos(angle)
        point_n = scene_n + outer_m * np.sin(angle)
        sin_yaw, cos_yaw = math.sin(self._yaw_rad), math.cos(self._yaw_rad)
        right = point_e * cos_yaw - point_n * sin_yaw
        fwd = point_e * sin_yaw + point_n * cos_yaw
        pitch = math.radians(self._pitch_deg)
        depth = fwd * math.cos(pitch) - self._alt_m * math.sin(pitch)
        if (depth <= 1e-6).any():  # partly behind the camera: projection is unbounded
            return y_first, height, 0, width
        xs = right / depth * rays.focal_px + width / 2 - 0.5
        ys = (fwd * math.sin(pitch) + self._alt_m * math.cos(pitch)) / depth * rays.focal_px
        ys += height / 2 - 0.5
        x0, x1 = max(0, math.floor(xs.min())), min(width, math.ceil(xs.max()) + 1)
        y0, y1 = max(y_first, math.floor(ys.min())), min(height, math.ceil(ys.max()) + 1)
        return (y0, y1, x0, x1) if x0 < x1 and y0 < y1 else None

    def _draw_scene(
        self, luma: U8Array, chroma_u: U8Array, chroma_v: U8Array, east: float, north: float
    ) -> None:
        assert self.scene is not None
        scene_e, scene_n = self._local_m(self.scene.lat_deg, self.scene.lon_deg)
        box = self._scene_box(scene_e - east, scene_n - north)
        if box is None:
            return
        y0, y1, x0, x1 = box
        rays = self._rays_c
        sin_yaw, cos_yaw = math.sin(self._yaw_rad), math.cos(self._yaw_rad)
        right = np.multiply.outer(rays.t[y0:y1], rays.right_px[x0:x1])
        fwd = rays.fwd[y0:y1, None]
        ground_e = self._alt_m * (fwd * sin_yaw + right * cos_yaw) + (east - scene_e)
        ground_n = self._alt_m * (fwd * cos_yaw - right * sin_yaw) + (north - scene_n)
        radius = self.scene.radius_m
        ring = np.abs(np.hypot(ground_e, ground_n) - radius) < radius * 0.25
        chroma_u[y0:y1, x0:x1][ring] = 90
        chroma_v[y0:y1, x0:x1][ring] = 240
        for dy in (0, 1):
            for dx in (0, 1):
                luma[2 * y0 + dy : 2 * y1 : 2, 2 * x0 + dx : 2 * x1 : 2][ring] = 82

    def _draw_overlays(
        self, luma: U8Array, chroma_u: U8Array, chroma_v: U8Array, stamp_ms: int
    ) -> None:
        block = self._block_px
        luma[: block * 2] = _BLACK  # quiet zone around the stamp
        chroma_u[:block] = _NEUTRAL_CHROMA  # grey, so RGB readers see the same bits as luma readers
        chroma_v[:block] = _NEUTRAL_CHROMA
        bits = np.array(encode_stamp_bits(stamp_ms), dtype=np.uint8)
        levels = np.where(bits == 1, _WHITE, _BLACK).astype(np.uint8)
        row = np.repeat(levels, block)[: max(0, self.width_px - block)]  # narrow: cut off
        luma[:block, block : block + len(row)] = row
        scale = max(1, block // 4)
        clock = time.strftime("%H:%M:%S", time.gmtime(stamp_ms / 1000)) + f".{stamp_ms % 1000:03d}Z"
        lines = [clock, self.label] if self.label else [clock]
        for n, text in enumerate(lines):
            y_px = block * 2 + n * 8 * scale
            draw_text(luma, text, block, y_px, scale)
            box_w, box_h = text_box_px(text, scale)
            cy0, cy1 = y_px // 2, (y_px + box_h + 1) // 2
            cx0, cx1 = block // 2, (block + box_w + 1) // 2
            chroma_u[cy0:cy1, cx0:cx1] = _NEUTRAL_CHROMA
            chroma_v[cy0:cy1, cx0:cx1] = _NEUTRAL_CHROMA
