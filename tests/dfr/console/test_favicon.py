"""The console's icon: /favicon.ico answers (no 404 on page loads) and both pages link it."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_favicon_is_served_and_linked_from_every_console_page(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.lstrip().startswith(b"<svg")
    for page in ("/", "/console/wall.html"):
        html = client.get(page)
        assert html.status_code == 200
        assert '<link rel="icon" href="/favicon.ico"' in html.text, page
