"""The API docs page (Swagger UI) served from an installed package, never from a CDN.

The Swagger UI build comes from the `fastapi-offline` wheel; the page and its initialiser are
files of ours, so the strict Content-Security-Policy (no inline script) holds on `/docs` too.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

__all__ = ["DOCS_ASSETS_PATH", "DOCS_PATH", "SWAGGER_UI_DIR", "mount_docs"]

DOCS_PATH = "/docs"
DOCS_ASSETS_PATH = "/docs/assets"
#: swagger-ui-bundle.js, swagger-ui.css and favicon.png as the wheel ships them.
SWAGGER_UI_DIR = Path(fastapi_offline.__file__).parent / "static"
_PAGE_DIR = Path(__file__).parent / "static" / "docs"


class _Assets:
    """Our initialiser first, then the Swagger UI build."""

    def __init__(self) -> None:
        self.ours = StaticFiles(directory=_PAGE_DIR)
        self.vendor = StaticFiles(directory=SWAGGER_UI_DIR)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"].rpartition("/")[2]
        files = self.ours if name == "init.js" else self.vendor
        await files(scope, receive, send)


def mount_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /docs with its assets under /docs/assets."""

    async def docs_page() -> Response:
        return FileResponse(_PAGE_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.add_api_route(DOCS_PATH, docs_page, methods=["GET"], include_in_schema=False)
    app.mount(DOCS_ASSETS_PATH, _Assets(), name="docs-assets")
