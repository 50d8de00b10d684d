"""Call-type mapping per agency and PIDF-LO reading."""

from __future__ import annotations

import pytest

from cad_bridge import CadInputError, CallTypeMapper, parse_pidf, pidf_point


def test_apco_default_maps_and_unknown_is_unmapped() -> None:
    mapper = CallTypeMapper()
    assert mapper.category("any", "burglary ") == "property_crime"
    assert mapper.category("any", "ZZZ") == "unmapped"


def test_agency_table_overrides_the_default_only_for_that_agency() -> None:
    mapper = CallTypeMapper({"cspd": {"SUSP": "priority_watch", "459P": "property_crime"}})
    assert mapper.category("cspd", "susp") == "priority_watch"
    assert mapper.category("cspd", "459P") == "property_crime"
    assert mapper.category("other", "SUSP") == "suspicious"
    assert mapper.with_agency("other", {"SUSP": "x"}).category("other", "SUSP") == "x"


def test_pidf_point_round_trips() -> None:
    loc = parse_pidf(pidf_point(38.8339, -104.747, address="1 Main St"))
    assert loc.point is not None and loc.point.lat_deg == pytest.approx(38.8339)
    assert loc.address == "1 Main St"


def test_pidf_with_a_dtd_is_refused() -> None:
    with pytest.raises(CadInputError, match="DTD"):
        parse_pidf('<!DOCTYPE x [<!ENTITY a "b">]><presence/>')


def test_malformed_pidf_is_refused() -> None:
    with pytest.raises(CadInputError, match="malformed"):
        parse_pidf("<presence><unclosed></presence>")


def test_polygon_is_refused_with_a_reason() -> None:
    doc = (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gml="http://www.opengis.net/gml">'
        "<gml:Polygon/></presence>"
    )
    with pytest.raises(CadInputError, match="Polygon"):
        parse_pidf(doc)


def test_civic_only_pidf_has_no_point() -> None:
    doc = (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf"><civicAddress '
        'xmlns="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"><A3>Wilmington</A3>'
        "<HNO>42</HNO><RD>Cellular</RD></civicAddress></presence>"
    )
    loc = parse_pidf(doc)
    assert loc.point is None and loc.address == "42 Cellular, Wilmington"
