import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from geofence import (
    FEET_TO_M,
    AltitudeDatum,
    ImportFormatError,
    InvalidGeometryError,
    InvalidTimeError,
    ZoneCircle,
    ZoneKind,
    ZonePolygon,
    ZoneSet,
    detect_format,
    load_colorado_springs_zones,
    load_zones,
)

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def square(lon: float, lat: float, d: float = 0.01) -> list[list[list[float]]]:
    return [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]


def feature(zone_id: str, coords: Any = None, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": coords or square(-104.8, 38.8)},
        "properties": {"id": zone_id, **props},
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


# -- real-format samples ------------------------------------------------------------------------


def test_ed269_sample_loads_polygon_and_circle_with_units_and_schedule() -> None:
    zones = load_zones(sample("ed269_portugal_style.json"))
    airport = zones.get("LPPT01")
    stadium = zones.get("LPEV02")
    assert airport.kind is ZoneKind.EXCLUSION and isinstance(airport.shape, ZonePolygon)
    assert airport.shape.exterior[0].lat_deg == 38.76 and airport.shape.exterior[0].lon_deg == -9.15
    assert airport.ceiling is not None and airport.ceiling.value_m == 120
    assert "AIR_TRAFFIC" in airport.reason
    # uomDimensions applies to every dimension of the volume, the radius included.
    assert isinstance(stadium.shape, ZoneCircle)
    assert stadium.shape.radius_m == pytest.approx(3000 * FEET_TO_M)
    assert stadium.ceiling is not None
    assert stadium.ceiling.value_m == pytest.approx(400 * FEET_TO_M)
    # Saturday 2026-05-02 19:00Z is inside the schedule, 23:00Z is not, June is outside the dates.
    assert stadium.is_active(datetime(2026, 5, 2, 19, 0, tzinfo=UTC))
    assert not stadium.is_active(datetime(2026, 5, 2, 23, 0, tzinfo=UTC))
    assert not stadium.is_active(datetime(2026, 6, 6, 19, 0, tzinfo=UTC))
    assert airport.is_active(datetime(2030, 1, 1, tzinfo=UTC))


def test_ed318_sample_loads_circle_extent_and_each_layer_of_a_collection() -> None:
    zones = load_zones(sample("ed318_geozones.json"))
    assert detect_format(json.loads(sample("ed318_geozones.json"))) == "ed318"
    circle = zones.get("ABC1234")
    assert isinstance(circle.shape, ZoneCircle) and circle.shape.radius_m == 3500
    assert circle.name == "Fictitious circle"
    assert circle.floor is not None and circle.floor.value_m == 50
    assert "Castle and nature reserve" in circle.reason
    lower, upper = zones.get("NFZ6547-0"), zones.get("NFZ6547-1")
    assert lower.ceiling is not None and lower.ceiling.value_m == 150
    assert upper.ceiling is not None and upper.ceiling.value_m == 50
    # Daily 16:00-17:00Z during 2019 only.
    assert lower.is_active(datetime(2019, 3, 5, 16, 30, tzinfo=UTC))
    assert not lower.is_active(datetime(2019, 3, 5, 15, 30, tzinfo=UTC))
    assert not lower.is_active(datetime(2021, 3, 5, 16, 30, tzinfo=UTC))


def test_uasfm_geojson_cells_read_ceiling_in_feet() -> None:
    zones = load_zones(sample("uasfm_cells.geojson"))
    assert not zones.zones
    ceilings = {c.id: c.ceiling_agl_m for c in zones.ceiling_cells}
    assert ceilings["uasfm-{6A1F0C1E-0001}"] == 0
    assert ceilings["uasfm-{6A1F0C1E-0002}"] == pytest.approx(200 * FEET_TO_M)


def test_uasfm_csv_with_cell_centres_builds_30_arcsecond_cells() -> None:
    zones = load_zones(sample("uasfm_cells.csv"))
    cell = zones.get("uasfm-201")
    assert not isinstance(cell, type(None))
    assert len(zones.ceiling_cells) == 2
    c = zones.ceiling_cells[0]
    lats = [p.lat_deg for p in c.shape.exterior]
    assert max(lats) - min(lats) == pytest.approx(30 / 3600)
    assert c.ceiling_agl_m == pytest.approx(100 * FEET_TO_M)


def test_uasfm_csv_with_wkt_cells() -> None:
    zones = load_zones(sample("uasfm_cells_wkt.csv"), "uasfm")
    assert zones.ceiling_cells[0].ceiling_agl_m == pytest.approx(50 * FEET_TO_M)


def test_our_geojson_reads_documented_properties() -> None:
    doc = collection(
        feature("area", square(-104.9, 38.7, 0.3), kind="operating_area"),
        feature("keep", floor=100, ceiling=1000, uom="ft", vertical_reference="AMSL", reason="x"),
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-104.75, 38.85]},
            "properties": {
                "id": "tfr",
                "radius_m": 500,
                "applicability": [
                    {
                        "timezone": "America/Denver",
                        "schedule": [{"days": ["SAT"], "start": "18:00", "end": "23:00"}],
                    }
                ],
            },
        },
    )
    zones = load_zones(json.dumps(doc).encode())
    assert zones.get("area").kind is ZoneKind.INCLUSION
    keep = zones.get("keep")
    assert keep.floor is not None and keep.floor.datum is AltitudeDatum.AMSL
    assert keep.floor.value_m == pytest.approx(100 * FEET_TO_M)
    tfr = zones.get("tfr")
    # Saturday 19:00 in Denver (MST, UTC-7) is Sunday 02:00 UTC.
    assert tfr.is_active(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    assert not tfr.is_active(datetime(2026, 11, 21, 19, 0, tzinfo=UTC))


def test_geojson_export_round_trips_through_the_loader() -> None:
    zones = load_colorado_springs_zones()
    again = load_zones(zones.to_geojson(), "geojson")
    assert again.ids == zones.ids
    assert again.zones == zones.zones
    assert again.ceiling_cells[0].ceiling_agl_m == zones.ceiling_cells[0].ceiling_agl_m


def test_export_with_active_at_leaves_out_inactive_zones() -> None:
    zones = load_colorado_springs_zones()
    friday_noon = datetime(2026, 11, 20, 19, 0, tzinfo=UTC)
    saturday_evening = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    ids_noon = {f["id"] for f in zones.to_geojson(active_at=friday_noon)["features"]}
    ids_evening = {f["id"] for f in zones.to_geojson(active_at=saturday_evening)["features"]}
    assert "tfr-weidner-field" not in ids_noon
    assert "tfr-weidner-field" in ids_evening


# -- bad input: refused with the zone id and reason, all or nothing ------------------------------

BOWTIE = [[[-104.8, 38.8], [-104.7, 38.9], [-104.7, 38.8], [-104.8, 38.9], [-104.8, 38.8]]]


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (feature("bow", BOWTIE), "self-intersection"),
        (feature("two", [[[-104.8, 38.8], [-104.7, 38.8], [-104.8, 38.8]]]), "at least 4"),
        (
            feature("flat", [[[-104.8, 38.8], [-104.7, 38.8], [-104.8, 38.8], [-104.8, 38.8]]]),
            "distinct vertices",
        ),
        (
            feature("open", [[[-104.8, 38.8], [-104.7, 38.8], [-104.7, 38.9], [-104.8, 38.9]]]),
            "not closed",
        ),
        (feature("lat", [[[0, 95], [1, 95], [1, 96], [0, 95]]]), "latitude"),
        (
            feature("swap", [[[38.8, -104.8], [38.9, -104.8], [38.9, -104.7], [38.8, -104.8]]]),
            "[lat, lon]",
        ),
        (
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-104.8, 38.8]},
                "properties": {"id": "r0", "radius_m": 0},
            },
            "radius",
        ),
        (feature("unit", uom="furlong", ceiling=3), "unit"),
        (feature("upside", floor=100, ceiling=50), "below floor"),
        (feature("weird", kind="maybe"), "kind"),
    ],
)
def test_bad_zone_refused_with_id_and_reason_and_nothing_imported(
    bad: dict[str, Any], words: str
) -> None:
    good = feature("good-zone")
    with pytest.raises(InvalidGeometryError) as err:
        load_zones(collection(good, bad))
    zone_id = bad["properties"]["id"]
    assert err.value.zone_id == zone_id
    assert words in str(err.value)


def test_overlapping_operating_areas_are_refused_as_ambiguous() -> None:
    doc = collection(
        feature("a", square(-104.9, 38.7, 0.2), kind="inclusion"),
        feature("b", square(-104.8, 38.8, 0.2), kind="inclusion"),
    )
    with pytest.raises(InvalidGeometryError, match="ambiguous"):
        load_zones(doc)


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(InvalidGeometryError, match="duplicate"):
        load_zones(collection(feature("x"), feature("x")))


def test_bad_schedule_is_refused() -> None:
    bad = feature(
        "sched", applicability=[{"schedule": [{"days": ["FUNDAY"], "start": "1", "end": "2"}]}]
    )
    with pytest.raises(InvalidTimeError, match="sched"):
        load_zones(collection(bad))


def test_ed269_with_unknown_unit_names_the_zone() -> None:
    doc = json.loads(sample("ed269_portugal_style.json"))
    broken = copy.deepcopy(doc)
    broken["features"][1]["geometry"][0]["uomDimensions"] = "NM"
    with pytest.raises(InvalidGeometryError) as err:
        load_zones(broken, "ed269")
    assert err.value.zone_id == "LPEV02"


def test_ed318_circle_without_radius_is_refused() -> None:
    doc = json.loads(sample("ed318_geozones.json"))
    del doc["features"][0]["geometry"]["extent"]["radius"]
    with pytest.raises(InvalidGeometryError) as err:
        load_zones(doc)
    assert err.value.zone_id == "ABC1234"


def test_uasfm_negative_ceiling_is_refused() -> None:
    text = sample("uasfm_cells.csv").decode().replace("201,100", "201,-100")
    with pytest.raises(InvalidGeometryError) as err:
        load_zones(text)
    assert err.value.zone_id == "uasfm-201"


@pytest.mark.parametrize("doc", [b"not json at all", b"[1, 2]", b'{"type": "Topology"}'])
def test_unreadable_documents_are_refused(doc: bytes) -> None:
    with pytest.raises(ImportFormatError):
        load_zones(doc)


def test_unknown_format_name_is_refused() -> None:
    with pytest.raises(ImportFormatError, match="unknown format"):
        load_zones(collection(), "kml")


def test_merge_replaces_same_ids_and_refused_import_leaves_set_unchanged() -> None:
    base = load_zones(collection(feature("a"), feature("b", square(-104.6, 38.6))))
    update = load_zones(collection(feature("b", square(-104.5, 38.5), name="moved")))
    merged = base.merged(update)
    assert merged.ids == {"a", "b"} and merged.get("b").name == "moved"
    before = merged
    with pytest.raises(InvalidGeometryError):
        merged = merged.merged(load_zones(collection(feature("c", BOWTIE))))
    assert merged is before
    assert isinstance(merged.without("a"), ZoneSet) and "a" not in merged.without("a")
