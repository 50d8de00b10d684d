"""The web console: a static single-page app served at `/` and `/console/...` (public shell only).

Leaflet comes from npm: `scripts/setup.sh` runs `npm ci` and copies `node_modules/leaflet/dist` to
`dfr/console/static/vendor/leaflet`; a checkout where only `npm ci` ran is served from node_modules.
Every piece of data the console shows needs the token the user logs in with.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

import telemetry.video

STATIC_DIR = Path(__file__).parent / "static"
VENDOR_LEAFLET_DIR = STATIC_DIR / "vendor" / "leaflet"
_NODE_LEAFLET_DIR = Path(__file__).resolve().parents[2] / "node_modules" / "leaflet" / "dist"
#: protomaps-leaflet's browser build (the vector basemap), vendored or from node_modules alike.
VENDOR_PROTOMAPS_DIR = STATIC_DIR / "vendor" / "protomaps-leaflet"
_NODE_PROTOMAPS_DIR = _NODE_LEAFLET_DIR.parents[1] / "protomaps-leaflet" / "dist"
#: The WHEP viewer the video panel loads (shipped with the video package, served here).
WHEP_CLIENT_JS = Path(telemetry.video.__file__).parent / "static" / "whep_client.js"
#: Paths served without a token (the static shell).
CONSOLE_PUBLIC_PATHS = frozenset({"/", "/console/", "/console/index.html"})


def leaflet_dir() -> Path | None:
    """Where Leaflet's built files are, or None when the setup has not installed them."""
    for candidate in (VENDOR_LEAFLET_DIR, _NODE_LEAFLET_DIR):
        if (candidate / "leaflet.js").is_file():
            return candidate
    return None


def mount_console(app: FastAPI) -> None:
    """Serve the console: `/` is its page, `/console/...` its files."""

    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def favicon() -> FileResponse:
        # Browsers ask for /favicon.ico on every page whatever the page links; an SVG serves both.
        return FileResponse(
            STATIC_DIR / "favicon.svg",
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    async def whep_client() -> FileResponse:
        return FileResponse(WHEP_CLIENT_JS, media_type="text/javascript")

    async def share_page(token: str) -> FileResponse:
        # The link's token stays in the page's own URL (no-referrer keeps it there); never cached.
        return FileResponse(STATIC_DIR / "share.html", headers={"Cache-Control": "no-store"})

    app.add_api_route("/", index, methods=["GET"], include_in_schema=False)
    app.add_api_route("/share/{token}", share_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        "/console/vendor/whep_client.js", whep_client, methods=["GET"], include_in_schema=False
    )
    leaflet = leaflet_dir()
    if leaflet is not None and leaflet != VENDOR_LEAFLET_DIR:
        app.mount("/console/vendor/leaflet", StaticFiles(directory=leaflet), name="leaflet")
    vendored = (VENDOR_PROTOMAPS_DIR / "protomaps-leaflet.js").is_file()
    if not vendored and _NODE_PROTOMAPS_DIR.is_dir():
        app.mount(
            "/console/vendor/protomaps-leaflet",
            StaticFiles(directory=_NODE_PROTOMAPS_DIR),
            name="protomaps-leaflet",
        )
    app.mount("/console", StaticFiles(directory=STATIC_DIR, html=True), name="console")


__all__ = ["CONSOLE_PUBLIC_PATHS", "STATIC_DIR", "leaflet_dir", "mount_console"]
