"""Alerts in the console (real Chromium): the ones to acknowledge stay marked on top until someone
does; an alert whose condition ended shows as resolved; alert text is shown as text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dfr.models import Role
from telemetry import AlertBoard
from tests.dfr.console.conftest import ARTIFACTS, LiveService

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _raise(live_service: LiveService, alert_id: str, kind: str, text: str) -> None:
    board = AlertBoard(live_service.app.state.service.hub)
    live_service.run(
        lambda: board.raise_alert(
            alert_id,
            severity="critical" if kind == "link_lost" else "warning",
            kind=kind,
            text=text,
            drone_id="D1",
            flight_id=None,
            at=datetime.now(UTC),
        )
    )


def test_an_alert_awaiting_acknowledgement_stays_on_top_until_acknowledged_and_a_resolved_one_says_so(
    live_service: LiveService, browser_page: Any
) -> None:
    page = browser_page
    page.goto(live_service.base_url + "/")
    page.locator("#login-token").fill(live_service.token(Role.DISPATCHER))
    page.locator("#login-submit").click()
    page.wait_for_function("() => window.dfrConsole && window.dfrConsole.ready")
    page.locator('#stream-status[data-state="live"]').wait_for()

    _raise(live_service, "D1:battery:1", "low_battery", "D1 battery at <b>24</b> %")
    _raise(live_service, "D1:link:1", "link_lost", "D1: connected -> lost: no heartbeat for 3.6 s")
    battery = page.locator('#alerts li[data-alert-id="D1:battery:1"]')
    link = page.locator('#alerts li[data-alert-id="D1:link:1"]')
    link.wait_for()
    battery.wait_for()
    assert battery.get_attribute("data-needs-ack") is not None
    assert link.get_attribute("data-needs-ack") is None
    # Newer, but not awaiting anyone: the low-battery alert stays first.
    assert page.locator("#alerts li").first.get_attribute("data-alert-id") == "D1:battery:1"
    assert "<b>24</b>" in battery.inner_text()

    board = AlertBoard(live_service.app.state.service.hub)
    live_service.run(lambda: board.resolve("D1:link:1", "link back: lost -> connected"))
    page.locator('#alerts li[data-alert-id="D1:link:1"][data-state="resolved"]').wait_for()
    assert "resolved" in link.inner_text() and "link back" in link.inner_text()
    page.screenshot(path=str(ARTIFACTS / "alerts-1-awaiting-ack.png"))

    battery.locator("button.alert-ack").click()
    page.locator('#alerts li[data-alert-id="D1:battery:1"]:not([data-needs-ack])').wait_for()
    assert "acknowledged by browser-dispatcher" in battery.inner_text()
    assert battery.locator("button.alert-ack").count() == 0
    acked = board.get("D1:battery:1")
    assert acked is not None and str(acked["acknowledged_by"]).startswith("browser-dispatcher")
    page.screenshot(path=str(ARTIFACTS / "alerts-2-acknowledged.png"))
