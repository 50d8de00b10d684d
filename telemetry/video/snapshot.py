"""A still JPEG of the latest picture of a stream (decodes the current GOP once, on demand)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telemetry.video.errors import StreamNotLiveError
from telemetry.video.rtp import AccessUnit


def snapshot_jpeg(units: Sequence[AccessUnit], *, quality: int = 4) -> bytes:
    """JPEG of the last picture in `units` (a GOP starting at a keyframe); CPU-bound."""
    if not units or not units[0].keyframe:
        raise StreamNotLiveError("no keyframe received yet: nothing to snapshot")
    # Loaded on the first snapshot (callers run this in a worker thread), not at service start.
    import av

    decoder = av.CodecContext.create("h264", "r")
    last: Any = None
    for unit in units:
        for frame in decoder.decode(av.Packet(unit.data)):
            last = frame
    for frame in decoder.decode(None):
        last = frame
    if last is None:
        raise StreamNotLiveError("the stream's pictures could not be decoded")
    encoder: Any = av.CodecContext.create("mjpeg", "w")
    encoder.width = last.width
    encoder.height = last.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = last.time_base or av.time_base
    encoder.options = {"qmin": str(quality), "qmax": str(quality)}
    picture = last.reformat(format="yuvj420p")
    picture.pts = 0
    data = b"".join(bytes(p) for p in encoder.encode(picture))
    data += b"".join(bytes(p) for p in encoder.encode(None))
    return data
