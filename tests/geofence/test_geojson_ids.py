"""GeoJSON features without an id (RFC 7946 makes it optional) get a stable derived id."""

from __future__ import annotations

import copy
import json
from typing import Any

from geofence import derived_ids, load_zones


def _square(lon: float, lat: float, name: str | None = None, d: float = 0.002) -> dict[str, Any]:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    props: dict[str, Any] = {"kind": "exclusion"}
    if name is not None:
        props["name"] = name
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": props,
    }


def _doc(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def test_a_named_feature_without_id_takes_its_id_from_the_name() -> None:
    zones = load_zones(_doc(_square(-104.80, 38.86, "Memorial Park (north)")))
    assert zones.ids == {"name-memorial-park-north"}


def test_an_unnamed_feature_takes_its_id_from_the_geometry_whatever_the_key_order() -> None:
    feature = _square(-104.80, 38.86)
    reordered = {
        "properties": feature["properties"],
        "geometry": dict(reversed(feature["geometry"].items())),
        "type": "Feature",
    }
    first = derived_ids(_doc(feature))
    again = derived_ids(json.loads(json.dumps(_doc(reordered), indent=2)))
    assert first == again and len(first) == 1
    assert first[0].id.startswith("geom-") and first[0].derived_from == "geometry"
    moved = derived_ids(_doc(_square(-104.81, 38.86)))
    assert moved[0].id != first[0].id


def test_features_sharing_a_name_get_distinct_ids_and_given_ids_are_kept() -> None:
    given = _square(-104.70, 38.86, "School")
    given["id"] = "school-given"
    doc = _doc(_square(-104.80, 38.86, "School"), _square(-104.75, 38.86, "School"), given)
    derived = derived_ids(doc)
    assert [d.feature for d in derived] == [0, 1]
    assert derived[0].id != derived[1].id
    assert all(d.id.startswith("name-school-") for d in derived)
    assert load_zones(copy.deepcopy(doc)).ids == {derived[0].id, derived[1].id, "school-given"}
