"""The dispatcher's whole flow in real headless Chromium against the real service and simulated drones.

Sign in, see a CAD call arrive with its recommendation, launch it with the keyboard alone (L, then
Enter to confirm), watch the drone move on the map, open the call's story, cancel the call (C, Enter),
and see it leave the queue while the drone flies home and the story tells every step with its time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import create_app
from dfr.models import Role
from dfr.settings import Settings
from simulator.scenarios.ports import free_udp_pair
from tests.conftest import free_tcp_port
from tests.dfr.console.conftest import ARTIFACTS, LiveService, require_leaflet, serving
from tests.dfr.console.test_console_browser import ConsoleSteps

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.sim]
SPEEDUP = 20.0


@pytest.fixture
def flow_service(tmp_path: Path) -> Iterator[LiveService]:
    require_leaflet()
    fleet_file = tmp_path / "fleet.toml"
    text = DEMO_FLEET_FILE.read_text()
    used: set[int] = set()
    for i in range(4):
        # Each drone's port and its vehicle side (port + 40) are free and outside PX4's ranges.
        port = free_udp_pair(used)
        text = text.replace(f"udpin://127.0.0.1:{24540 + i}", f"udpin://127.0.0.1:{port}")
    fleet_file.write_text(text)
    control_port = free_tcp_port()
    sim = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from simulator.cli import main; main()",
            "fleet",
            "--fleet",
            str(fleet_file),
            "--speedup",
            str(SPEEDUP),
            "--gcs-base-port",
            "0",
            "--control-port",
            str(control_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("DFR_")},
    )
    settings = Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=fleet_file,
        speedup=SPEEDUP,
        weather={"static_wind_mps": 3.0},
    )
    try:
        with serving(create_app(settings), "dfr-flow-service") as service:
            yield service
    finally:
        sim.send_signal(signal.SIGINT)
        try:
            sim.wait(timeout=20)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()


def _wait_until(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_dispatcher_launches_by_keyboard_watches_the_drone_reads_the_story_and_cancels(
    flow_service: LiveService, browser_page: Any
) -> None:
    steps = ConsoleSteps(browser_page, flow_service)
    me = steps.sign_in(Role.DISPATCHER)
    assert me["may"]["launch"] and me["may"]["cancel"]
    with flow_service.http(Role.DISPATCHER) as desk:
        _wait_until(
            lambda: (
                sum(
                    1
                    for d in desk.get("/api/v1/drones").json()["data"]
                    if browser_page.evaluate("id => !!window.dfrConsole.droneLatLng(id)", d["id"])
                )
                == 4
            ),
            60,
            "the four drones on the map",
        )
        live = {d["id"]: d["live"] for d in desk.get("/api/v1/drones").json()["data"]}
        assert all(v is not None and v["link"] in ("connected", "degraded") for v in live.values())
        assert all(v["armed"] is False and v["lat"] is not None for v in live.values())
        with flow_service.http(Role.CAD) as cad:
            response = cad.post(
                "/api/v1/cad/incidents",
                json={
                    "cad_incident_id": "CSPD-26-004711",
                    "agency": "cspd",
                    "call_type": "SUSP",
                    "call_type_text": "Suspicious person in a parking lot",
                    "priority": 3,
                    "location": {"lat": 38.8450, "lon": -104.7600, "address": "3150 N Powers Blvd"},
                    "received_at": "2026-11-21T18:00:00Z",
                    "status": "Active",
                    "flags": {"outdoor": True},
                },
            )
        assert response.status_code == 202, response.text
        call_id = int(response.json()["id"])
        card = steps.call_card(call_id)
        card.locator('[data-action="launch"]').wait_for(timeout=60_000)
        assert "Suspicious person" in card.inner_text()
        assert re.fullmatch(r"D[12] in \d+:\d\d", card.locator(".line").inner_text())
        steps.screenshot("flow-01-call-recommended")

        # The keyboard alone: select the call, L, and Enter in the confirm bar.
        browser_page.locator("body").focus()
        browser_page.keyboard.press("ArrowDown")
        assert card.get_attribute("aria-selected") == "true"
        browser_page.keyboard.press("l")
        browser_page.locator("#confirm-bar").wait_for()
        browser_page.keyboard.press("Enter")
        flight = _wait_until(
            lambda: next(
                (f for f in desk.get("/api/v1/flights").json()["data"] if f["call_id"] == call_id),
                None,
            ),
            30,
            "the flight of the launched call",
        )
        drone_id = flight["drone_id"]
        _wait_until(
            lambda: desk.get(f"/api/v1/drones/{drone_id}").json()["flight_id"] == flight["id"],
            30,
            "the drone's record naming its flight",
        )
        start = browser_page.evaluate("id => window.dfrConsole.droneLatLng(id)", drone_id)
        browser_page.wait_for_function(
            "([id, lat, lon]) => { const p = window.dfrConsole.droneLatLng(id);"
            " return p && (Math.abs(p.lat - lat) > 0.002 || Math.abs(p.lon - lon) > 0.002); }",
            arg=[drone_id, start["lat"], start["lon"]],
            timeout=90_000,
        )
        steps.screenshot("flow-02-drone-en-route")
        assert desk.get(f"/api/v1/calls/{call_id}").json()["lifecycle"] in (
            "dispatched",
            "on_scene",
        )

        # Enter opens the call's story; C and Enter cancel the call.
        browser_page.keyboard.press("Enter")
        browser_page.locator('#story li[data-step="en_route"]').wait_for(timeout=30_000)
        browser_page.keyboard.press("c")
        browser_page.keyboard.press("Enter")
        card.wait_for(state="detached", timeout=30_000)
        detail = desk.get(f"/api/v1/calls/{call_id}").json()
        assert detail["lifecycle"] == "cancelled"
        assert [o["kind"] for o in detail["outbound"]].count("cancel") == 1
        _wait_until(
            lambda: (
                desk.get(f"/api/v1/flights/{flight['id']}").json()["state"]
                in ("returning", "landed", "completed")
            ),
            60,
            "the drone turning home",
        )
        browser_page.locator('#story li[data-step="returning"]').wait_for(timeout=30_000)
        shown = browser_page.locator("#story li").evaluate_all(
            "els => els.map(e => e.dataset.step)"
        )
        for step in (
            "received",
            "decided",
            "launched",
            "en_route",
            "cad",
            "cancelled",
            "returning",
        ):
            assert step in shown, (step, shown)
        # Their order is checked where time is not sped up (test_call_queue_browser): here the
        # service clock, which stamps decisions and flight events, runs 20 times faster than wall time.
        assert shown[0] == "received"
        for text in browser_page.locator("#story li").all_inner_texts():
            assert re.match(r"\d\d:\d\d:\d\d ", text), text
        steps.screenshot("flow-03-cancelled")
    assert (ARTIFACTS / "flow-03-cancelled.png").exists()
