"""Bounds on JSON request bodies read by hand (CAD calls, zone documents), checked before parsing.

Python's JSON parser recurses once per nesting level: a body nested 100 000 deep ends in a
RecursionError, and even a few thousand levels cost more than any real document needs. The depth is
found without parsing: strings are cut out, the brackets that remain are summed with numpy.
"""

from __future__ import annotations

import re

import numpy as np

from dfr.errors import MalformedBodyError

__all__ = ["body_text", "json_depth"]

# A JSON string, escapes included (the unrolled form does not backtrack).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    # Bit 1 tells them apart: set in the openers "[" (91) and "{" (123), clear in "]" (93) and "}" (125).
    steps = (codes & 2).astype(np.int64) - 1
    return int(np.cumsum(steps).max())


def body_text(body: bytes, *, max_depth: int) -> str:
    """The body as text: refused when it is not UTF-8, or when its JSON nests deeper than `max_depth`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBodyError(
            f"the body is not UTF-8 text (invalid byte at offset {exc.start})"
        ) from exc
    # A body with no more openers than the limit cannot nest past it: most bodies stop there.
    openers = body.count(b"[") + body.count(b"{")
    if openers > max_depth and text.lstrip("\ufeff \t\r\n")[:1] in ("{", "["):
        depth = json_depth(body)
        if depth > max_depth:
            raise MalformedBodyError(
                f"the JSON body is nested {depth} levels deep; the limit is {max_depth}"
            )
    return text
