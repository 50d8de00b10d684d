"""The plain JSON call form: normalisation and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cad_bridge import CadInputError, CallTypeMapper, parse_call

FIXTURES = Path(__file__).parent / "fixtures" / "plain"
MAPPER = CallTypeMapper()


def _doc() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "suspicious_person.json").read_text())
    return data


def _parse(doc: Any) -> Any:
    return parse_call(json.dumps(doc).encode(), default_agency="cspd", mapper=MAPPER)


def test_plain_call_normalises_with_flags_and_notes() -> None:
    call = _parse(_doc())
    assert call.cad_incident_id == "CS25-004411" and call.agency == "cspd"
    assert (call.call_type, call.category, call.priority) == ("SUSP", "suspicious", 2)
    assert call.flags.outdoor and not call.flags.weapons
    assert [n.text for n in call.notes] == ["Male in dark hoodie checking car doors", "RP on scene"]
    assert call.notes[1].author == "calltaker 2"


def test_identical_documents_hash_equal_and_a_priority_change_does_not() -> None:
    first, again = _parse(_doc()), _parse(_doc())
    changed = _doc()
    changed["priority"] = 1
    assert first.content_hash() == again.content_hash() != _parse(changed).content_hash()


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("location"), "location"),
        (lambda d: d["location"].update(lat=91.0), "location.lat"),
        (lambda d: d["location"].update(lon=-181.0), "location.lon"),
        (lambda d: d.update(priority=0), "priority"),
        (lambda d: d.update(priority=6), "priority"),
        (lambda d: d.update(received_at="2025-03-14T21:00:00"), "received_at"),
        (lambda d: d.update(extra_field=1), "extra_field"),
        (lambda d: d.pop("cad_incident_id"), "cad_incident_id"),
    ],
)
def test_bad_plain_documents_are_refused_with_the_field(mutate: Any, field: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(CadInputError) as info:
        _parse(doc)
    assert info.value.field == field


def test_malformed_json_is_refused_with_its_position() -> None:
    with pytest.raises(CadInputError, match="malformed JSON at line 1"):
        parse_call(b'{"cad_incident_id": ', default_agency="cspd", mapper=MAPPER)


def test_a_json_array_is_refused() -> None:
    with pytest.raises(CadInputError, match="JSON object"):
        parse_call(b"[]", default_agency="cspd", mapper=MAPPER)


def test_oversized_documents_are_refused() -> None:
    with pytest.raises(CadInputError, match="limit"):
        parse_call(b" " * 2000, default_agency="cspd", mapper=MAPPER, max_bytes=1000)


def test_unknown_call_type_is_accepted_as_unmapped() -> None:
    doc = _doc()
    doc["call_type"] = "UFO"
    assert _parse(doc).category == "unmapped"
