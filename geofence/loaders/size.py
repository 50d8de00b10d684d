"""How big a zone document is (features and vertices), counted before any zone is built."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from geofence.errors import ImportFormatError

__all__ = ["DocumentSize", "document_size"]


@dataclass(frozen=True, slots=True)
class DocumentSize:
    """Features (CSV: rows) and vertices (CSV: an upper bound, its fields) of a zone document."""

    features: int
    vertices: int


def _is_position(value: list[Any]) -> bool:
    return 2 <= len(value) <= 4 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    )


def _json_size(data: Any) -> DocumentSize:
    features = data.get("features") if isinstance(data, dict) else None
    vertices = 0
    stack: list[Any] = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            if _is_position(value):
                vertices += 1
            else:
                stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return DocumentSize(len(features) if isinstance(features, list) else 0, vertices)


def document_size(text: str) -> DocumentSize:
    """The size of a JSON zone document (any supported format) or a UASFM CSV."""
    try:
        data = json.loads(text)
    except RecursionError as exc:
        raise ImportFormatError("the document is nested too deeply") from exc
    except ValueError:
        rows = max(text.count("\n") - 1, 0) + (0 if text.endswith("\n") else 1)
        return DocumentSize(rows, text.count(",") + rows)
    return _json_size(data)
