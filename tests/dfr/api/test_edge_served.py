"""The edge on a real server: a 100 MB chunked anonymous POST cut off near 1 MiB, HSTS via a proxy."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator

import httpx
import psutil
import pytest

from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import create_app
from dfr.service import Run
from dfr.settings import Settings
from tests.dfr.console.conftest import LiveService, serving

pytestmark = pytest.mark.integration

MIB = 1_048_576
CHUNK_BYTES = 64 * 1024
TOTAL_BYTES = 100 * 1_000_000


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    data_dir = tmp_path_factory.mktemp("edge") / "data"
    settings = Settings(mode="test", data_dir=data_dir, fleet_file=DEMO_FLEET_FILE)
    with serving(create_app(settings, run=Run.NONE), "dfr-edge-service") as service:
        yield service


def _chunked_post(base_url: str, path: str) -> tuple[int, bytes]:
    """POST up to TOTAL_BYTES chunked, stopping once the answer starts; (bytes sent, answer)."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = f"{CHUNK_BYTES:x}\r\n".encode() + b" " * CHUNK_BYTES + b"\r\n"
    pending = memoryview(head + chunk)
    sent = 0
    answer = b""
    sock.setblocking(False)
    try:
        while sent < TOTAL_BYTES and not answer:
            readable, writable, _ = select.select([sock], [sock], [], 5)
            if readable:
                answer = sock.recv(65536)
            elif writable:
                n = sock.send(pending)
                sent += n
                pending = pending[n:] if n < len(pending) else memoryview(chunk)
        sock.setblocking(True)
        sock.settimeout(10)
        while not answer.rstrip().endswith(b"}"):
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    finally:
        sock.close()
    return sent, answer


def test_a_100_mb_chunked_anonymous_post_is_refused_after_about_1_mib(live: LiveService) -> None:
    me = psutil.Process()
    rss_before = me.memory_info().rss
    read_before = me.io_counters().read_chars
    sent, answer = _chunked_post(live.base_url, "/api/v1/flights")
    read_bytes = me.io_counters().read_chars - read_before
    rss_growth = me.memory_info().rss - rss_before
    assert sent < TOTAL_BYTES  # the answer came long before the body ended
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/problem+json" in head
    assert json.loads(body)["status"] == 413
    assert read_bytes < 2 * MIB
    assert rss_growth < 10 * MIB


def test_hsts_is_sent_when_a_trusted_proxy_says_the_request_came_over_tls(
    live: LiveService,
) -> None:
    # uvicorn believes X-Forwarded-Proto from 127.0.0.1 (FORWARDED_ALLOW_IPS by default).
    forwarded = httpx.get(
        f"{live.base_url}/api/v1/health", headers={"X-Forwarded-Proto": "https"}, timeout=10
    )
    assert forwarded.headers["strict-transport-security"].startswith("max-age=")
    plain = httpx.get(f"{live.base_url}/api/v1/health", timeout=10)
    assert "strict-transport-security" not in plain.headers
