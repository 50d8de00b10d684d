"""Logs as JSON lines: one object per line with time, level, logger, message and the ids passed."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dfr.log_format import JsonFormatter, configure_logging


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("dfr.test_log_format")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_a_record_with_a_call_id_is_one_json_line(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("call %s: decided", 42, extra={"call_id": 42, "drone_id": "D1"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"] == "call 42: decided"
    assert entry["level"] == "INFO" and entry["logger"] == "dfr.test_log_format"
    assert entry["call_id"] == 42 and entry["drone_id"] == "D1"
    assert "flight_id" not in entry
    assert entry["time"].endswith("+00:00")


def test_an_exception_stays_inside_its_line(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logger.exception("dispatch of call %s failed", 7, extra={"call_id": 7})
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["call_id"] == 7 and "RuntimeError: boom" in entry["exception"]


def test_the_command_line_logs_json_when_asked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFR_")}
    env["DFR_LOG_FORMAT"] = "json"
    code = (
        "import logging, sys\n"
        "from dfr.cli import app\n"
        "sys.argv = ['dfr', 'db', 'upgrade', '--data-dir', sys.argv[1]]\n"
        "try:\n"
        "    app()\n"
        "except SystemExit:\n"
        "    pass\n"
        "logging.getLogger('dfr.probe').info('probe', extra={'call_id': 3})\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    entries = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    probe = [e for e in entries if e["logger"] == "dfr.probe"]
    assert probe and probe[0]["call_id"] == 3


def test_outbound_http_requests_are_not_logged_a_line_each() -> None:
    root, httpx_log = logging.getLogger(), logging.getLogger("httpx")
    before = root.level, httpx_log.level
    try:
        root.setLevel(logging.INFO)
        configure_logging("text")
        assert logging.getLogger("dfr").isEnabledFor(logging.INFO)
        assert not httpx_log.isEnabledFor(logging.INFO)
        assert httpx_log.isEnabledFor(logging.WARNING)
    finally:
        root.setLevel(before[0])
        httpx_log.setLevel(before[1])
