"""PIDF-LO (RFC 4119 / 5139 / 5491) as carried in an EIDO `locationByValue`: point, circle, civic address.

Only the shapes a CAD sends for a scene are read: gml:Point and gs:Circle (its centre). Polygons
and ellipses are refused with a clear reason rather than guessed at.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from cad_bridge.errors import CadInputError
from geofence import GeoPoint, InvalidGeometryError

GML = "{http://www.opengis.net/gml}"
GS = "{http://www.opengis.net/pidflo/1.0}"
CA = "{urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr}"
MAX_PIDF_CHARS = 200_000

#: Civic address elements (RFC 5139) in the order a US street address reads.
_STREET_PARTS = ("HNO", "HNS", "PRD", "RD", "STS", "POD")
_PLACE_PARTS = ("A3", "A1", "PC")


@dataclass(frozen=True, slots=True)
class PidfLocation:
    """What a PIDF-LO says about a place."""

    point: GeoPoint | None
    radius_m: float | None
    address: str | None


def _pos(element: ET.Element, field: str) -> GeoPoint:
    pos = element.find(f"{GML}pos")
    if pos is None or not (pos.text or "").strip():
        raise CadInputError("the shape has no gml:pos", field=field)
    parts = (pos.text or "").split()
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except (ValueError, IndexError):
        raise CadInputError(f"gml:pos {pos.text!r} is not 'lat lon'", field=field) from None
    try:
        return GeoPoint(lat, lon)
    except InvalidGeometryError as exc:
        raise CadInputError(str(exc), field=field) from exc


def _civic(root: ET.Element) -> str | None:
    civic = root.find(f".//{CA}civicAddress")
    if civic is None:
        return None

    def text(tag: str) -> str:
        node = civic.find(f"{CA}{tag}")
        return (node.text or "").strip() if node is not None else ""

    street = " ".join(t for t in (text(p) for p in _STREET_PARTS) if t)
    place = ", ".join(t for t in (text(p) for p in _PLACE_PARTS) if t)
    joined = ", ".join(t for t in (street, place) if t)
    return joined or None


def parse_pidf(document: str, *, field: str = "locationByValue") -> PidfLocation:
    """Read the first point or circle and the civic address of a PIDF-LO document."""
    if len(document) > MAX_PIDF_CHARS:
        raise CadInputError("the PIDF-LO document is too large", field=field)
    if "<!DOCTYPE" in document or "<!ENTITY" in document:
        # Entity expansion is the classic XML bomb; a PIDF-LO never needs a DTD.
        raise CadInputError("a PIDF-LO document may not declare a DTD or entities", field=field)
    try:
        root = ET.fromstring(document.strip())
    except ET.ParseError as exc:
        raise CadInputError(f"malformed PIDF-LO XML: {exc}", field=field) from exc
    point: GeoPoint | None = None
    radius_m: float | None = None
    for element in root.iter():
        if element.tag == f"{GML}Point":
            point = _pos(element, field)
            break
        if element.tag == f"{GS}Circle":
            point = _pos(element, field)
            radius = element.find(f"{GS}radius")
            try:
                radius_m = float((radius.text or "") if radius is not None else "nan")
            except ValueError:
                radius_m = math.nan
            if not math.isfinite(radius_m) or radius_m < 0:
                raise CadInputError("gs:Circle needs a non-negative gs:radius", field=field)
            uom = radius.get("uom", "") if radius is not None else ""
            if uom and not uom.endswith("9001"):
                raise CadInputError(f"gs:radius unit {uom!r} is not metres", field=field)
            break
        if element.tag in (f"{GML}Polygon", f"{GS}Ellipse", f"{GS}ArcBand", f"{GS}Sphere"):
            raise CadInputError(
                f"location shape {element.tag.split('}')[-1]} is not supported; send a point or circle",
                field=field,
            )
    return PidfLocation(point=point, radius_m=radius_m, address=_civic(root))


def pidf_point(lat_deg: float, lon_deg: float, *, address: str | None = None) -> str:
    """A PIDF-LO document with a gml:Point (and a civic address line, when given)."""
    presence = ET.Element(
        "presence",
        {
            "xmlns": "urn:ietf:params:xml:ns:pidf",
            "xmlns:gp": "urn:ietf:params:xml:ns:pidf:geopriv10",
            "xmlns:dm": "urn:ietf:params:xml:ns:pidf:data-model",
            "xmlns:gml": "http://www.opengis.net/gml",
            "entity": "pres:dfr@localhost",
        },
    )
    device = ET.SubElement(presence, "dm:device", {"id": "dfr"})
    geopriv = ET.SubElement(device, "gp:geopriv")
    info = ET.SubElement(geopriv, "gp:location-info")
    point = ET.SubElement(info, "gml:Point", {"srsName": "urn:ogc:def:crs:EPSG::4326"})
    ET.SubElement(point, "gml:pos").text = f"{lat_deg:.7f} {lon_deg:.7f}"
    if address:
        civic = ET.SubElement(
            info, "civicAddress", {"xmlns": "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"}
        )
        ET.SubElement(civic, "RD").text = address
    ET.SubElement(geopriv, "gp:usage-rules")
    return ET.tostring(presence, encoding="unicode")
