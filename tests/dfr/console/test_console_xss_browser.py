"""Strings from CAD, users and the fleet render as text in the console and the video wall, under the
service's Content-Security-Policy, with no script of theirs running and no policy violation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dfr.main import create_app
from dfr.models import Role
from dfr.security_headers import content_security_policy
from dfr.service import Run
from dfr.settings import Settings
from telemetry import alert_message
from tests.conftest import free_udp_ports
from tests.dfr.conftest import one_agency_fleet
from tests.dfr.console.conftest import ARTIFACTS, LiveService, require_leaflet, serving

pytestmark = [pytest.mark.browser, pytest.mark.integration]

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"
#: What each page records before any of its own script runs (init scripts are not subject to CSP).
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
"""


@pytest.fixture
def bare_service(tmp_path: Path) -> Iterator[LiveService]:
    """The service with its agency and nothing else (no zone files: it starts quicker)."""
    require_leaflet()
    fleet_file = one_agency_fleet(tmp_path)
    settings = Settings(mode="test", data_dir=tmp_path / "data", fleet_file=fleet_file)
    with serving(create_app(settings, run=Run.NONE), "dfr-xss-service") as service:
        yield service


def _hostile_records(service: LiveService) -> tuple[int, str]:
    """A CAD call, a dock, a zone and a drone whose names are markup; the call id and zone key."""
    mavlink_port, video_port = free_udp_ports(2)
    with service.http(Role.ADMIN) as admin:
        # Two docks: the map fits them, with the call and the zone between.
        for dock in (
            {"id": "xss-dock", "name": f"Dock {IMG}", "lat": 38.87, "lon": -104.74},
            {"id": "plain-dock", "name": "Plain", "lat": 38.82, "lon": -104.79},
        ):
            assert admin.post("/api/v1/docks", json=dock).status_code == 201
        drone = {
            "id": "XSS1",
            "dock_id": "xss-dock",
            "name": f"Drone {SCRIPT}",
            "mavlink_url": f"udpin://127.0.0.1:{mavlink_port}",
            "video_url": f"udp://127.0.0.1:{video_port}",
        }
        created = admin.post("/api/v1/drones", json=drone)
        assert created.status_code == 201, created.text
        ring = [[-104.78, 38.85], [-104.77, 38.85], [-104.77, 38.86], [-104.78, 38.86]]
        zone = {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            "properties": {"id": "xss-zone", "kind": "advisory", "name": f"Zone {SCRIPT}{IMG}"},
        }
        document = {"type": "FeatureCollection", "features": [zone]}
        imported = admin.post("/api/v1/zones/import", json=document)
        assert imported.status_code == 201, imported.text
    with service.http(Role.CAD) as cad:
        posted = cad.post(
            "/api/v1/cad/incidents",
            json={
                "cad_incident_id": "XSS-0001",
                "call_type": "SUSP",
                "call_type_text": f"Suspicious {IMG}",
                "priority": 2,
                "location": {"lat": 38.8412, "lon": -104.7605, "address": f"1 Main St {SCRIPT}"},
                "received_at": datetime.now(UTC).isoformat(),
            },
        )
        assert posted.status_code == 202, posted.text
    return int(posted.json()["id"]), "zone:xss-zone"


def _assert_nothing_ran(page: Any) -> None:
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => window.__violations") == []
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("body script:not([src])").count() == 0


def test_markup_in_calls_docks_zones_and_drone_names_is_shown_as_text_under_the_csp(
    bare_service: LiveService, browser_page: Any
) -> None:
    call_id, zone_key = _hostile_records(bare_service)
    page = browser_page
    page.add_init_script(WATCH)
    documents: list[Any] = []
    page.on(
        "response", lambda r: documents.append(r) if r.request.is_navigation_request() else None
    )

    page.goto(bare_service.base_url + "/")
    page.locator("#login-token").fill(bare_service.token(Role.ANALYST))
    page.locator("#login-submit").click()
    page.wait_for_function("() => window.dfrConsole && window.dfrConsole.ready")
    page.locator('#stream-status[data-state="live"]').wait_for()  # alerts are not replayed
    bare_service.publish(
        alert_message(
            "xss-alert",
            {"severity": "warning", "kind": "test", "text": f"Alert {IMG}"},
            datetime.now(UTC),
        )
    )
    card = page.locator(f'#call-queue li.call[data-call-id="{call_id}"]')
    card.wait_for()
    assert f"P2 Suspicious {IMG}" in card.locator("h3").inner_text()
    assert f"1 Main St {SCRIPT}" in card.locator(".meta").inner_text()
    dock_label = page.locator(".leaflet-tooltip.dock-label", has_text="Dock <img")
    assert dock_label.inner_text() == f"Dock {IMG}"
    page.locator(".leaflet-interactive[stroke='#ef6c00']").last.hover()
    hovered = page.locator(".leaflet-tooltip", has_text="Suspicious")
    assert hovered.inner_text() == f"Suspicious {IMG} (P2)"
    assert page.evaluate("(key) => window.dfrConsole.openZoneTooltip(key)", zone_key)
    assert page.locator(".leaflet-tooltip", has_text="Zone").inner_text() == f"Zone {SCRIPT}{IMG}"
    page.locator("#alerts li", has_text="Alert").wait_for()
    assert f"Alert {IMG}" in page.locator("#alerts li", has_text="Alert").inner_text()
    page.screenshot(path=str(ARTIFACTS / "xss-console.png"))
    _assert_nothing_ran(page)

    page.goto(bare_service.base_url + "/console/wall.html")  # signed in: the token is the session's
    page.wait_for_function("() => window.dfrWall && window.dfrWall.ready")
    tile = page.locator('article.tile[data-drone-id="XSS1"]')
    assert tile.locator("header span").first.inner_text() == f"Drone {SCRIPT}"
    # The wall's styles (a file now, not an inline block) apply.
    assert (
        page.evaluate("() => getComputedStyle(document.getElementById('wall')).display") == "grid"
    )
    page.screenshot(path=str(ARTIFACTS / "xss-wall.png"))
    _assert_nothing_ran(page)

    # Both pages came with the service's policy (no base map configured: images from here only).
    assert len(documents) == 2
    for document in documents:
        assert document.all_headers()["content-security-policy"] == content_security_policy(None)
