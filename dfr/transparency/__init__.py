"""The public transparency portal: the reviewed flight log, its outcome figures and its charts."""

from dfr.transparency.page import PORTAL_CSS, render_page
from dfr.transparency.policy import TransparencyPolicy
from dfr.transparency.portal import (
    CSV_COLUMNS,
    PortalFlight,
    PortalStats,
    coarse_path,
    flights_csv,
    portal_flights,
    portal_stats,
)

__all__ = [
    "CSV_COLUMNS",
    "PORTAL_CSS",
    "PortalFlight",
    "PortalStats",
    "TransparencyPolicy",
    "coarse_path",
    "flights_csv",
    "portal_flights",
    "portal_stats",
    "render_page",
]
