"""Path parameters shared by the routes: integer ids are the database's signed 64-bit integers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: A row id in a path: out of the 64-bit range it is a 422 problem, never a database overflow.
Id64 = Annotated[
    int, Path(ge=INT64_MIN, le=INT64_MAX, description="a row id (signed 64-bit integer)")
]

__all__ = ["INT64_MAX", "INT64_MIN", "Id64"]
