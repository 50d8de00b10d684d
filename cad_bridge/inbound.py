"""One entry for inbound CAD documents: tell EIDO from plain JSON, parse, normalise."""

from __future__ import annotations

import json
from typing import Any, Final

from cad_bridge.eido import parse_eido
from cad_bridge.errors import CadInputError
from cad_bridge.mapping import CallTypeMapper
from cad_bridge.models import CadCall
from cad_bridge.plain import parse_plain

MAX_DOCUMENT_BYTES: Final = 1_048_576


def looks_like_eido(document: Any, content_type: str = "") -> bool:
    """An EIDO by media type, or by its required `eidoVersion` member."""
    if content_type.split(";")[0].strip().lower() == "application/emergency.eido+json":
        return True
    return isinstance(document, dict) and "eidoVersion" in document


def decode_json(body: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """Bytes to a JSON value, with the reason when it is not one."""
    if len(body) > max_bytes:
        raise CadInputError(f"the document is {len(body)} bytes; the limit is {max_bytes}")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise CadInputError("the document is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise CadInputError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def parse_call(
    body: bytes,
    *,
    default_agency: str,
    mapper: CallTypeMapper,
    content_type: str = "application/json",
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> CadCall:
    """Parse an inbound CAD document (EIDO or plain JSON) into a CadCall, or raise CadInputError."""
    document = decode_json(body, max_bytes=max_bytes)
    if not isinstance(document, dict):
        raise CadInputError("the document must be a JSON object")
    raw = body.decode("utf-8")
    if looks_like_eido(document, content_type):
        return parse_eido(document, agency=default_agency, mapper=mapper, raw=raw)
    return parse_plain(document, default_agency=default_agency, mapper=mapper, raw=raw)
