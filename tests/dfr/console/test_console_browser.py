"""The console in real headless Chromium against a real service: sign in, map, calls, live drones.

Extending to the full dispatcher flow (launch, cancel) needs only more steps on `ConsoleSteps`:
`click_call_action(call_id, "launch")` already clicks any action button of a call card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dfr.db import session_scope
from dfr.models import Call, Role
from telemetry import DroneFrame, call_message, decision_message, drone_message
from tests.dfr.console.conftest import ARTIFACTS, LiveService

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@dataclass
class ConsoleSteps:
    """What a person does in the console, as test steps."""

    page: Any
    service: LiveService

    def sign_in(self, role: Role) -> dict[str, Any]:
        token = self.service.token(role)
        self.page.goto(self.service.base_url + "/")
        self.page.locator("#login-token").fill(token)
        self.page.locator("#login-submit").click()
        self.page.wait_for_function("() => window.dfrConsole && window.dfrConsole.ready")
        self.page.locator('#stream-status[data-state="live"]').wait_for()
        me: dict[str, Any] = self.page.evaluate(
            "() => fetch('/api/v1/me', {headers: {Authorization: 'Bearer ' +"
            " sessionStorage.getItem('dfr.token')}}).then(r => r.json())"
        )
        return me

    def screenshot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def new_call(self) -> int:
        """A CAD call as the service holds it, announced on the stream."""
        paths = self.service.app.openapi()["paths"]
        if "/api/v1/cad/incidents" in paths:
            with self.service.http(Role.CAD) as cad:
                response = cad.post(
                    "/api/v1/cad/incidents",
                    json={
                        "incident_id": "BRW-2025-000123",
                        "call_type": "BURG",
                        "call_type_text": "Burglary in progress",
                        "priority": 1,
                        "lat": 38.8420,
                        "lon": -104.7600,
                        "address": "1200 N Academy Blvd",
                    },
                )
            if response.status_code in (200, 201, 202):
                return int(response.json()["id"])
        # Until the CAD route exists: store the call as the CAD route would, and announce it.
        with session_scope(self.service.app.state.service.engine) as session:
            call = Call(
                agency_id=self.service.app.state.service.default_agency_id,
                cad_incident_id="BRW-2025-000123",
                call_type="BURG",
                call_type_text="Burglary in progress",
                category="burglary",
                priority=1,
                lat=38.8420,
                lon=-104.7600,
                address="1200 N Academy Blvd",
                received_at=datetime.now(UTC),
            )
            session.add(call)
            session.flush()
            assert call.id is not None
            call_id = call.id
            data = {
                k: v
                for k, v in call.model_dump(mode="json").items()
                if k not in ("raw_document", "content_hash")
            }
        self.service.publish(call_message(call_id, data, datetime.now(UTC)))
        return call_id

    def call_card(self, call_id: int) -> Any:
        return self.page.locator(f'#call-queue li.call[data-call-id="{call_id}"]')

    def click_call_action(self, call_id: int, action: str) -> None:
        self.call_card(call_id).locator(f'[data-action="{action}"]').click()

    def drone_at(self, drone_id: str, lat: float, lon: float) -> None:
        self.page.wait_for_function(
            "([id, lat, lon]) => { const p = window.dfrConsole.droneLatLng(id);"
            " return p && Math.abs(p.lat - lat) < 1e-6 && Math.abs(p.lon - lon) < 1e-6; }",
            arg=[drone_id, lat, lon],
        )


def test_a_dispatcher_signs_in_sees_the_fleet_a_call_and_a_drone_moving(
    live_service: LiveService, browser_page: Any
) -> None:
    outside: list[str] = []
    browser_page.on(
        "request",
        lambda r: (
            None if r.url.startswith((live_service.base_url, "data:")) else outside.append(r.url)
        ),
    )
    steps = ConsoleSteps(browser_page, live_service)
    me = steps.sign_in(Role.DISPATCHER)
    assert me["role"] == "dispatcher"

    # The demo fleet: three docks and four drones, drawn without any tile server.
    docks = browser_page.locator(".leaflet-tooltip.dock-label")
    docks.nth(2).wait_for()
    assert sorted(docks.all_inner_texts()) == [
        "Gold Hill Division",
        "Sand Creek Division",
        "Stetson Hills Division",
    ]
    assert browser_page.locator(".drone-icon").count() == 4
    steps.screenshot("01-fleet")

    call_id = steps.new_call()
    card = steps.call_card(call_id)
    card.wait_for()
    assert "Burglary in progress" in card.inner_text()
    # The console shows the decision the dispatch service publishes for the call.
    live_service.publish(
        decision_message(
            call_id,
            {
                "eligible": True,
                "recommended_drone_id": "D1",
                "runner_up_drone_id": "D2",
                "eta_s": 95.0,
                "summary": "D1 can be on scene in 1 min 35 s",
                "rules": [
                    {"rule": "distance", "verdict": "pass", "reason": "1.4 km from Sand Creek"},
                    {"rule": "wind", "verdict": "fail", "drone_id": "D3", "reason": "gusts 14 m/s"},
                ],
            },
            datetime.now(UTC),
        )
    )
    card.locator(".line.ok").wait_for()
    # The card says the one line that matters; the recommendation and its reasons are details.
    assert card.locator(".line").inner_text() == "D1 in 1:35"
    card.locator("details.more > summary").click()
    assert "Recommend D1" in card.inner_text()
    assert "gusts 14 m/s" in card.locator("ul.reasons").inner_html()
    for action in ("launch", "note", "cancel"):
        offered = card.locator(f'[data-action="{action}"]').count() > 0
        assert offered == me["may"][action], f"{action} offered={offered}, may={me['may'][action]}"
    steps.screenshot("02-call")

    for step, lat in enumerate((38.8350, 38.8380, 38.8410)):
        frame = DroneFrame(
            drone_id="D1",
            available=True,
            last_seen=datetime.now(UTC),
            lat=lat,
            lon=-104.7500,
            alt_agl_m=60.0,
            heading_deg=330.0,
            ground_speed_mps=15.0,
            battery_pct=88.0 - step,
            mode="AUTO.MISSION",
            armed=True,
            link="connected",
            flight_id=1,
        )
        live_service.publish(drone_message(frame, datetime.now(UTC)))
        steps.drone_at("D1", lat, -104.7500)
    assert "D1 86%" in browser_page.locator(".drone-icon", has_text="D1").inner_text()
    steps.screenshot("03-drone-moved")

    # Responders from CAD's AVL feed: drawn with id and status, moved live, faded when 3 min old.
    old_fix = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    with live_service.http(Role.CAD) as cad:
        posted = cad.post(
            "/api/v1/cad/units",
            json=[
                {"unit_id": "2A12", "status": "enroute", "lat": 38.8400, "lon": -104.7550},
                {
                    "unit_id": "OLD-7",
                    "status": "available",
                    "lat": 38.8450,
                    "lon": -104.7450,
                    "reported_at": old_fix,
                },
            ],
        )
        assert posted.json() == {"accepted": 2, "ignored_stale": 0}, posted.text
        fresh = browser_page.locator('.unit-icon .unit-glyph[data-unit-id="2A12"]')
        fresh.wait_for()
        assert fresh.inner_text() == "2A12 en route"
        browser_page.locator('.unit-icon.unit-stale .unit-glyph[data-unit-id="OLD-7"]').wait_for()
        assert browser_page.locator(".unit-icon.unit-stale").count() == 1
        assert "Units" in str(browser_page.locator(".leaflet-control-layers").text_content())
        cad.post(
            "/api/v1/cad/units",
            json=[{"unit_id": "2A12", "status": "on_scene", "lat": 38.8420, "lon": -104.7600}],
        )
    browser_page.wait_for_function(
        "() => { const p = window.dfrUnits.latLng('2A12');"
        " return p && Math.abs(p.lat - 38.842) < 1e-6; }"
    )
    assert fresh.inner_text() == "2A12 on scene"
    steps.screenshot("04-units")
    assert outside == [], f"the console fetched from outside the service: {outside}"


def test_a_wrong_token_is_refused_at_sign_in(live_service: LiveService, browser_page: Any) -> None:
    browser_page.goto(live_service.base_url + "/")
    browser_page.locator("#login-token").fill("dfr_not-a-token")
    browser_page.locator("#login-submit").click()
    error = browser_page.locator("#login-error")
    error.filter(has_text="unknown or revoked").wait_for()
    assert browser_page.locator("#app").is_hidden()
