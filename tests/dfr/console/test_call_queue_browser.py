"""The call queue for a dispatch floor and a call's story, in real headless Chromium.

Compact cards sorted by priority then age with the one line that matters, the keyboard alone
(arrows, Enter, L with its confirm, N, C), the beep for new P1/P2 calls and its mute, and the
timeline of a call with every step and its time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dfr.db import session_scope
from dfr.models import Call, Role
from telemetry import DroneFrame, call_message, decision_message, drone_message, flight_message
from tests.dfr.call_story import store_call_story
from tests.dfr.console.conftest import LiveService
from tests.dfr.console.test_console_browser import ConsoleSteps

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _announce_call(service: LiveService, priority: int, text: str, age_s: float) -> int:
    """A CAD call stored as the intake stores it, and published on the stream."""
    received = datetime.now(UTC) - timedelta(seconds=age_s)
    with session_scope(service.app.state.service.engine) as session:
        call = Call(
            agency_id=service.app.state.service.default_agency_id,
            cad_incident_id=f"Q-{text}",
            call_type="X",
            call_type_text=text,
            category="disturbance",
            priority=priority,
            lat=38.84,
            lon=-104.76,
            address=f"{priority}00 Main St",
            received_at=received,
        )
        session.add(call)
        session.flush()
        assert call.id is not None
        call_id = call.id
        data = call.model_dump(mode="json", exclude={"raw_document", "content_hash"})
    service.publish(call_message(call_id, data, datetime.now(UTC)))
    return call_id


def _decide(service: LiveService, call_id: int, eligible: bool) -> None:
    rules = [
        {"rule": "distance", "verdict": "fail", "drone_id": d, "reason": f"{d}: 9.1 km away"}
        for d in ("D1", "D2", "D3")
    ] + [{"rule": "energy", "verdict": "fail", "drone_id": "D4", "reason": "D4: 31 % short"}]
    decision = {
        "eligible": eligible,
        "recommended_drone_id": "D2" if eligible else None,
        "runner_up_drone_id": None,
        "eta_s": 100.0 if eligible else None,
        "summary": "D2 can be on scene in 1 min 40 s"
        if eligible
        else "No eligible drone. " + " ".join(r["reason"] for r in rules),
        "rules": [] if eligible else rules,
    }
    service.publish(decision_message(call_id, decision, datetime.now(UTC)))


def test_the_queue_is_compact_sorted_and_driven_by_the_keyboard_alone(
    live_service: LiveService, browser_page: Any
) -> None:
    steps = ConsoleSteps(browser_page, live_service)
    steps.sign_in(Role.DISPATCHER)
    page = browser_page
    p3 = _announce_call(live_service, 3, "Noise complaint", 900)
    p1_old = _announce_call(live_service, 1, "Shots fired", 300)
    p1_new = _announce_call(live_service, 1, "Burglary in progress", 30)
    _decide(live_service, p3, eligible=False)
    _decide(live_service, p1_old, eligible=True)
    _decide(live_service, p1_new, eligible=True)
    steps.call_card(p3).locator(".line.no").wait_for()
    steps.call_card(p1_old).locator(".line.ok").wait_for()

    order = [
        int(x)
        for x in page.locator("#call-queue li.call").evaluate_all(
            "els => els.map(e => e.dataset.callId)"
        )
    ]
    assert order == [p1_old, p1_new, p3]
    # The one line that matters, not the full decision sentence.
    assert steps.call_card(p1_old).locator(".line").inner_text() == "D2 in 1:40"
    assert steps.call_card(p3).locator(".line").inner_text() == "no drone: out of range"
    assert not steps.call_card(p3).locator("ul.reasons").is_visible()
    assert re.search(r"\b(5|6) min\b", steps.call_card(p1_old).locator(".age").inner_text())
    # New P1 calls were announced with a beep; the P3 was not.
    assert page.evaluate("window.dfrConsole.announced()") == [p1_old, p1_new]
    assert page.evaluate("window.dfrConsole.beeps()") == 2
    steps.screenshot("queue-01-compact")

    # Keyboard only: the pointer never touches the page from here on.
    page.locator("body").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert steps.call_card(p1_new).get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    assert steps.call_card(p1_new).get_attribute("aria-selected") == "true"
    # Arrows on the map pan the map, not the queue.
    page.locator("#map").focus()
    page.keyboard.press("ArrowDown")
    assert steps.call_card(p1_new).get_attribute("aria-selected") == "true"
    page.locator("#map").blur()

    # N: the note field of the selected call, Enter sends it, Escape leaves the field.
    with page.expect_request(lambda r: r.url.endswith(f"/calls/{p1_new}/notes")) as note:
        page.keyboard.press("n")
        page.keyboard.type("caller on the line, suspect still inside")
        page.keyboard.press("Enter")
    assert note.value.post_data_json == {"text": "caller on the line, suspect still inside"}

    # L asks first; Escape keeps the drone home, L then Enter launches the recommended drone.
    page.keyboard.press("Escape")
    page.keyboard.press("l")
    bar = page.locator("#confirm-bar")
    bar.wait_for()
    assert "Launch D2 to P1 Burglary in progress?" in bar.inner_text()
    steps.screenshot("queue-02-confirm-launch")
    page.keyboard.press("Escape")
    assert bar.is_hidden()
    with page.expect_request(lambda r: r.url.endswith(f"/calls/{p1_new}/launch")) as launch:
        page.keyboard.press("l")
        page.keyboard.press("Enter")
    assert launch.value.method == "POST" and launch.value.post_data_json == {"drone_id": "D2"}

    # C asks too, then cancels the selected call.
    with page.expect_request(lambda r: r.url.endswith(f"/calls/{p1_new}/cancel")) as cancel:
        page.keyboard.press("c")
        assert "Cancel P1 Burglary in progress?" in bar.inner_text()
        page.keyboard.press("Enter")
    assert cancel.value.method == "POST"

    # Muted: a new P2 is listed and noted, but makes no sound.
    page.keyboard.press("m")
    assert page.locator("#mute").get_attribute("aria-pressed") == "true"
    p2 = _announce_call(live_service, 2, "Robbery", 5)
    steps.call_card(p2).wait_for()
    assert page.evaluate("window.dfrConsole.announced()")[-1] == p2
    assert page.evaluate("window.dfrConsole.beeps()") == 2


def test_a_calls_story_shows_every_step_with_its_time(
    live_service: LiveService, browser_page: Any
) -> None:
    steps = ConsoleSteps(browser_page, live_service)
    service = live_service.app.state.service
    story = store_call_story(service.engine, service.default_agency_id, cancelled=False)
    steps.sign_in(Role.DISPATCHER)
    page = browser_page
    page.locator("body").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    timeline = page.locator("#story li")
    timeline.nth(8).wait_for()
    steps_shown = timeline.evaluate_all("els => els.map(e => e.dataset.step)")
    assert steps_shown == [
        "received",
        "decided",
        "launched",
        "uploading",
        "armed",
        "en_route",
        "on_scene",
        "cad",
        "note",
    ]
    texts = timeline.all_inner_texts()
    for text in texts:
        assert re.match(r"\d\d:\d\d:\d\d ", text), text
    first = datetime.strptime(texts[0][:8], "%H:%M:%S")
    on_scene = datetime.strptime(texts[6][:8], "%H:%M:%S")
    assert (on_scene - first).total_seconds() % 86400 == 130
    assert "decided: D1, ETA 1:40" in texts[1] and "nearest with battery" in texts[1]
    assert "on scene: D1" in texts[6]
    assert "Two people seen leaving" in texts[8]
    assert re.search(r"to CAD: note — Drone D1 on scene\. \(delivered \d\d:\d\d:\d\d\)", texts[7])
    # Without its flight on the stream the card still says where the call stands, and its
    # details show the stored decision.
    card = steps.call_card(story.call_id)
    assert card.locator(".line").inner_text() == "on scene"
    card.locator(".rec.ok").filter(has_text="Recommend D1").wait_for()
    assert "1.4 km" in card.locator("ul.reasons").inner_html()
    assert f"#{story.call_id}" in page.locator("#story-title").inner_text()
    steps.screenshot("story-01-timeline")

    # En route: the countdown comes from where the vehicle is now (1500 m out at 15 m/s: 1:40).
    now = datetime.now(UTC)
    live_service.publish(
        flight_message(
            story.flight_id,
            {
                "drone_id": "D1",
                "call_id": story.call_id,
                "state": "en_route",
                "target": {"lat": 38.8420, "lon": -104.7600},
                "route": [],
            },
            now,
        )
    )
    live_service.publish(
        drone_message(
            DroneFrame(
                drone_id="D1",
                available=True,
                last_seen=now,
                lat=38.8420 - 1500 / 111_194.93,
                lon=-104.7600,
                ground_speed_mps=15.0,
                link="connected",
                flight_id=story.flight_id,
            ),
            now,
        )
    )
    eta = page.locator("#story-eta")
    eta.wait_for()
    assert eta.inner_text() == "D1 on scene in 1:40 (from its position now)"
    page.wait_for_function(
        "id => document.querySelector(`[data-call-line='${id}']`).textContent === 'D1 in 1:40'",
        arg=story.call_id,
    )
    steps.screenshot("story-02-live-eta")

    # A view-only link for an officer, made, listed and revoked from the story.
    page.locator("#share-pin").fill("7391")
    page.locator('#share-form [data-action="share"]').click()
    url = page.locator("#share-created input.share-url")
    url.wait_for()
    assert re.fullmatch(
        re.escape(live_service.base_url) + r"/share/dfr_share_[A-Za-z0-9_\-]{43}", url.input_value()
    )
    row = page.locator('#share-list li[data-state="active"]')
    assert "PIN" in row.inner_text() and "0/5 watching" in row.inner_text()
    steps.screenshot("story-03-share-link")
    row.locator('[data-action="revoke"]').click()
    page.locator('#share-list li[data-state="revoked"]').wait_for()
    with live_service.http(Role.ANALYST) as desk:
        listed = desk.get(f"/api/v1/calls/{story.call_id}/shares").json()
    assert [(x["state"], x["pin_required"]) for x in listed["data"]] == [("revoked", True)]
