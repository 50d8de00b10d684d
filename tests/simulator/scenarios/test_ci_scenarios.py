"""`dfr-sim scenario run` on the CI configuration, and bad input at the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_udp_ports

CLI = [sys.executable, "-c", "from simulator.cli import main; main()", "scenario", "run"]
REPORT_DIR = Path("test-artifacts") / "scenarios"


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_ci_suite_passes_and_writes_the_report() -> None:
    result = subprocess.run(
        [*CLI, "simulator/scenarios/configs/ci.yaml", "--report-dir", str(REPORT_DIR)],
        capture_output=True,
        text=True,
        timeout=590,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((REPORT_DIR / "report.json").read_text())
    assert record["scenarios"] and all(s["outcome"] == "passed" for s in record["scenarios"])
    assert (REPORT_DIR / "junit.xml").read_text().count("<testcase") == len(record["scenarios"])


@pytest.mark.integration
def test_bad_config_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("resources:\n  fleet:\n    resource_type: Nope\n", encoding="utf-8")
    result = subprocess.run([*CLI, str(bad)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"{bad}:3" in result.stderr.replace("\n", "") or "bad.yaml:3" in result.stderr


@pytest.mark.integration
def test_unknown_scenario_exits_2(tmp_path: Path) -> None:
    result = subprocess.run([*CLI, "no_such_scenario"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no_such_scenario" in result.stderr


@pytest.mark.integration
def test_a_vehicle_url_that_never_answers_exits_2_naming_it() -> None:
    silent = [f"udpin://127.0.0.1:{port}" for port in free_udp_ports(4)]
    # The wait is the operator's to choose; 2 s of silence proves the refusal as well as 30 s.
    argv = [*CLI, "priority_call_launch", "--vehicle-timeout", "2"]
    for url in silent:
        argv += ["--vehicle", url]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    # Compared without white space: the console wraps long lines at any space.
    expected = f"--vehicle {silent[0]}: no MAVLink heartbeat within 2 s"
    assert "".join(expected.split()) in "".join(result.stderr.split())


@pytest.mark.integration
def test_fault_scenarios_against_external_vehicles_are_skipped_with_the_reason(
    tmp_path: Path,
) -> None:
    # Skipped before any resource starts: the (silent) vehicle URL is never contacted.
    silent = f"udpin://127.0.0.1:{free_udp_ports(1)[0]}"
    argv = [*CLI, "link_loss", "low_battery", "--vehicle", silent, "--report-dir", str(tmp_path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "passed (2 skipped)" in result.stderr
    record = json.loads((tmp_path / "report.json").read_text())
    assert [s["outcome"] for s in record["scenarios"]] == ["skipped", "skipped"]
    assert (tmp_path / "junit.xml").read_text().count("<skipped") == 2
