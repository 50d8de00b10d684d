"""Zone importers (GeoJSON, EUROCAE ED-269, ED-318, FAA UASFM grid): validate everything, import all or nothing."""

from geofence.loaders.ed269 import load_ed269
from geofence.loaders.ed318 import load_ed318
from geofence.loaders.formats import FORMATS, detect_format, load_zones
from geofence.loaders.geojson import DerivedId, derived_ids, load_geojson
from geofence.loaders.size import DocumentSize, document_size
from geofence.loaders.uasfm import UASFM_CELL_DEG, load_uasfm_csv, load_uasfm_geojson

__all__ = [
    "FORMATS",
    "DerivedId",
    "DocumentSize",
    "UASFM_CELL_DEG",
    "derived_ids",
    "detect_format",
    "document_size",
    "load_ed269",
    "load_ed318",
    "load_geojson",
    "load_uasfm_csv",
    "load_uasfm_geojson",
    "load_zones",
]
