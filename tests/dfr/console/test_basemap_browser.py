"""The console in real Chromium draws the PMTiles basemap `dfr map build` made from the test's streets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import create_app
from dfr.models import Role
from dfr.service import Run
from dfr.settings import MapSettings, Settings
from tests.dfr.basemap_area import CENTER_LAT_DEG, CENTER_LON_DEG, STREET_NAMES, build_demo_basemap
from tests.dfr.console.conftest import ARTIFACTS, LiveService, require_leaflet, serving

pytestmark = [pytest.mark.browser, pytest.mark.integration]

#: Configuration from outside: shown on the map as this very text, never as markup.
ATTRIBUTION = "© OpenStreetMap contributors <b>City GIS</b>"
#: What the basemap's tile canvases hold: how many, sampled colours, and dark (label text) pixels.
TILE_PIXELS_JS = """() => {
  const tiles = [...document.querySelectorAll('#map .leaflet-tile-container canvas.leaflet-tile')];
  const colours = new Set();
  let dark = 0;
  for (const canvas of tiles) {
    if (!canvas.width) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4 * 7) {
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      if (data[i] < 100 && data[i + 1] < 100 && data[i + 2] < 100) dark += 1;
    }
  }
  return {tiles: tiles.length, colours: colours.size, dark};
}"""


@pytest.fixture
def basemap_service(tmp_path: Path) -> Iterator[LiveService]:
    require_leaflet()
    archive = build_demo_basemap(tmp_path / "basemap")
    settings = Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=DEMO_FLEET_FILE,
        map=MapSettings(basemap=str(archive), attribution=ATTRIBUTION),
    )
    with serving(create_app(settings, run=Run.NONE), "dfr-basemap-service") as service:
        yield service


def sign_in(page: Any, service: LiveService) -> list[str]:
    """Sign a dispatcher in; collect the page's script errors and the basemap's failed requests."""
    errors: list[str] = []

    def console_error(message: Any) -> None:
        # A failed request is judged by its URL below (other panels are not this test's).
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def basemap_response(response: Any) -> None:
        if response.status >= 400 and ("/tiles/" in response.url or "protomaps" in response.url):
            errors.append(f"{response.status} {response.url}")

    page.on("console", console_error)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", basemap_response)
    page.goto(service.base_url + "/")
    page.locator("#login-token").fill(service.token(Role.DISPATCHER))
    page.locator("#login-submit").click()
    page.wait_for_function("() => window.dfrConsole && window.dfrConsole.ready")
    return errors


def test_the_console_draws_the_test_streets_with_their_names_and_the_credit_as_text(
    basemap_service: LiveService, browser_page: Any
) -> None:
    errors = sign_in(browser_page, basemap_service)
    assert browser_page.evaluate("() => window.dfrBasemap.kind") == "vector"
    browser_page.evaluate(f"() => window.dfrBasemap.view({CENTER_LAT_DEG}, {CENTER_LON_DEG}, 15)")
    # Every street of the extract gets its name placed on the map ...
    browser_page.wait_for_function(
        "(names) => names.every((n) => window.dfrBasemap.placedNames().includes(n))",
        arg=list(STREET_NAMES),
    )
    # ... and drawn: the tiles hold many colours and the dark pixels of label text.
    browser_page.wait_for_function(f"() => ({TILE_PIXELS_JS})().dark > 50")
    pixels = browser_page.evaluate(TILE_PIXELS_JS)
    browser_page.screenshot(path=str(ARTIFACTS / "basemap-streets.png"))
    assert pixels["tiles"] >= 4
    assert pixels["colours"] > 20, pixels
    assert browser_page.evaluate("() => window.dfrBasemap.placedNames()") == sorted(STREET_NAMES)
    credit = browser_page.locator(".basemap-credit")
    assert credit.text_content() == ATTRIBUTION
    assert credit.locator("b").count() == 0
    assert browser_page.locator(".basemap-hint").count() == 0
    assert errors == []


def test_without_a_basemap_the_grid_stays_with_a_hint_how_to_add_one(
    live_service: LiveService, browser_page: Any
) -> None:
    errors = sign_in(browser_page, live_service)
    hint = browser_page.locator(".basemap-hint")
    hint.wait_for()
    assert "DFR_MAP__BASEMAP" in (hint.text_content() or "")
    assert "dfr map build" in (hint.text_content() or "")
    assert browser_page.evaluate("() => window.dfrBasemap.kind") == "none"
    browser_page.screenshot(path=str(ARTIFACTS / "basemap-none-hint.png"))
    assert errors == []
