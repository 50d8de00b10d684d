"""Tiny real video files for tests, written with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def tiny_mp4(path: Path, *, frames: int = 10, fps: int = 10, size: int = 64) -> Path:
    """A short MPEG-4 Part 2 clip in an MP4 container (one second at the defaults)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        # Noise, seeded: a clip of several kilobytes (a flat picture compresses to almost nothing).
        noise = np.random.default_rng(7)
        for i in range(frames):
            image = noise.integers(0, 255, (size, size, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
