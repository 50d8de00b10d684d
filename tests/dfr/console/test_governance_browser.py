"""In real headless Chromium: a supervisor approves a held gathering call from the console and the
drone launches; the public transparency page lists a reviewed flight and not an unreviewed one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dfr.db import session_scope
from dfr.models import Call, CallLifecycle, Flight, Role
from tests.dfr.console.conftest import ARTIFACTS, LiveService
from tests.dfr.console.test_console_browser import ConsoleSteps
from tests.dfr.console.test_dispatch_flow_browser import _wait_until
from tests.dfr.console.test_dispatch_flow_browser import flow_service as flow_service  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.mark.sim
def test_a_supervisor_approves_a_held_gathering_call_in_the_console_and_it_launches(
    flow_service: LiveService,  # noqa: F811
    browser_page: Any,
) -> None:
    steps = ConsoleSteps(browser_page, flow_service)
    steps.sign_in(Role.SUPERVISOR)
    with flow_service.http(Role.SUPERVISOR) as desk:
        _wait_until(
            lambda: all(
                d["live"] is not None and d["live"]["link"] in ("connected", "degraded")
                for d in desk.get("/api/v1/drones").json()["data"]
            ),
            60,
            "the drones linked",
        )
        with flow_service.http(Role.CAD) as cad:
            response = cad.post(
                "/api/v1/cad/incidents",
                json={
                    "cad_incident_id": "CSPD-26-009001",
                    "agency": "cspd",
                    "call_type": "PROTEST",
                    "call_type_text": "March blocking traffic <b>not bold</b>",
                    "priority": 2,
                    "location": {"lat": 38.8450, "lon": -104.7600},
                    "received_at": "2026-11-21T18:00:00Z",
                    "status": "Active",
                },
            )
        assert response.status_code == 202, response.text
        call_id = int(response.json()["id"])
        card = browser_page.locator(f'#approvals li[data-call-id="{call_id}"]')
        card.wait_for(timeout=60_000)
        assert "Awaiting supervisor approval" in card.inner_text()
        assert "<b>not bold</b>" in card.inner_text()  # CAD text shown as text
        steps.screenshot("governance-01-awaiting-approval")
        card.locator('[data-action="approve"]').click()
        assert "Give a reason" in card.locator(".approval-status").inner_text()
        card.locator('[data-field="reason"]').fill("Traffic overwatch only")
        card.locator('[data-action="approve"]').click()
        browser_page.wait_for_function(
            "id => { const s = document.querySelector(`#approvals li[data-call-id='${id}'] "
            ".approval-status`); return s && s.textContent.includes('launched'); }",
            arg=call_id,
            timeout=60_000,
        )
        steps.screenshot("governance-02-approved-launched")
        flight = _wait_until(
            lambda: next(
                (f for f in desk.get("/api/v1/flights").json()["data"] if f["call_id"] == call_id),
                None,
            ),
            30,
            "the flight of the approved call",
        )
        assert flight["created_by"].startswith("browser-supervisor")
        assert desk.get(f"/api/v1/calls/{call_id}").json()["lifecycle"] in (
            "dispatched",
            "on_scene",
        )
    assert (ARTIFACTS / "governance-02-approved-launched.png").exists()


@pytest.fixture
def two_flights(live_service: LiveService) -> Iterator[tuple[int, int]]:
    ids: list[int] = []
    start = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
    with session_scope(live_service.app.state.service.engine) as session:
        for i in range(2):
            call = Call(
                agency_id="cspd",
                cad_incident_id=f"CSPD-P{i}",
                call_type="BURGLARY",
                category="property_crime",
                priority=2,
                lat=38.845,
                lon=-104.76,
                address="1 Secret Lane",
                received_at=start,
                lifecycle=CallLifecycle.CLEARED,
            )
            session.add(call)
            session.flush()
            flight = Flight(
                drone_id="D1",
                call_id=call.id,
                state="completed",
                started_at=start,
                ended_at=start + timedelta(minutes=12),
            )
            session.add(flight)
            session.flush()
            assert flight.id is not None
            ids.append(flight.id)
    yield ids[0], ids[1]


def test_a_supervisor_publishes_a_flight_and_the_portal_shows_it_and_not_an_unreviewed_one(
    live_service: LiveService, two_flights: tuple[int, int], browser_page: Any
) -> None:
    reviewed, unreviewed = two_flights
    steps = ConsoleSteps(browser_page, live_service)
    steps.sign_in(Role.SUPERVISOR)
    card = browser_page.locator(f'#reviews li[data-flight-id="{reviewed}"]')
    card.wait_for()
    card.locator('[data-field="purpose"]').fill("Burglary call")
    card.locator('[data-action="publish"]').click()
    browser_page.wait_for_function(
        "id => document.querySelector(`#reviews li[data-flight-id='${id}']`)"
        ".dataset.state === 'published'",
        arg=reviewed,
    )
    steps.screenshot("governance-03-flight-published")

    # The public's view: a new browser context, no token anywhere.
    public = browser_page.context.browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = public.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(live_service.base_url + "/transparency")
        page.locator(f'tr[data-flight="{reviewed}"]').wait_for()
        assert page.locator(f'tr[data-flight="{unreviewed}"]').count() == 0
        assert "Burglary call" in page.locator("#flights").inner_text()
        assert "Secret Lane" not in page.content()
        assert page.locator("svg.chart").count() == 2
        assert page.evaluate("() => sessionStorage.getItem('dfr.token')") is None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "transparency-portal.png"), full_page=True)
        assert not errors, errors  # the stylesheet loads under the strict CSP
    finally:
        public.close()
    assert (ARTIFACTS / "transparency-portal.png").exists()
