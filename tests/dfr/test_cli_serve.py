"""The real service on a real socket: token from the CLI, health, and data surviving a restart."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets import Subprotocol
from websockets.sync.client import connect as ws_connect

from tests.conftest import free_tcp_port

pytestmark = pytest.mark.integration
DFR = [sys.executable, "-m", "dfr"]


def _start(
    data_dir: Path, port: int, *options: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`dfr serve`; its stderr is piped, with its stdout too when `env` is given."""
    return subprocess.Popen(
        [*DFR, "serve", "--port", str(port), "--data-dir", str(data_dir), *options],
        stdout=subprocess.DEVNULL if env is None else subprocess.PIPE,
        stderr=subprocess.PIPE if env is None else subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("DFR_")} | (env or {}),
    )


def _wait_healthy(
    base: str,
    proc: subprocess.Popen[bytes],
    deadline_s: float = 60.0,
    verify: ssl.SSLContext | bool = True,
) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            output = proc.stderr or proc.stdout
            raise AssertionError(f"service exited: {output.read().decode() if output else ''}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2, verify=verify).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("service did not become healthy")


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def _create_token(
    data_dir: Path, role: str, name: str, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DFR, "token", "create", "--role", role, "--name", name, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_token_create_prints_only_the_token(data_dir: Path) -> None:
    out = _create_token(data_dir, "dispatcher", "desk-1")
    assert out.stdout.count("\n") == 1 and out.stdout.startswith("dfr_")
    again = _create_token(data_dir, "dispatcher", "desk-1", check=False)
    assert again.returncode != 0 and again.stdout == "" and "already exists" in again.stderr


def test_a_created_drone_survives_a_restart_served_over_tls(data_dir: Path, tmp_path: Path) -> None:
    token = _create_token(data_dir, "admin", "ops").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    port = free_tcp_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(data_dir, port)
    try:
        _wait_healthy(base, proc)
        dock = {"id": "hq", "name": "HQ", "lat": 38.83, "lon": -104.82, "alt_amsl_m": 1840}
        assert httpx.post(f"{base}/api/v1/docks", json=dock, headers=headers).status_code == 201
        drone = {"id": "R1", "dock_id": "hq", "mavlink_url": "udpin://127.0.0.1:24590"}
        assert httpx.post(f"{base}/api/v1/drones", json=drone, headers=headers).status_code == 201
        assert "strict-transport-security" not in httpx.get(f"{base}/api/v1/health").headers
    finally:
        _stop(proc, signal.SIGKILL)
    # The restart serves HTTPS (--tls-cert/--tls-key): same data, and HSTS on every answer.
    cert_file, key_file = _self_signed(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert_file))
    proc = _start(data_dir, port, "--tls-cert", str(cert_file), "--tls-key", str(key_file))
    base = f"https://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, verify=trusted)
        got = httpx.get(f"{base}/api/v1/drones/R1", headers=headers, verify=trusted)
        assert got.status_code == 200 and got.json()["dock_id"] == "hq"
        assert got.headers["strict-transport-security"].startswith("max-age=31536000")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
    finally:
        _stop(proc)


def test_version_flag_prints_the_version() -> None:
    out = subprocess.run(
        [*DFR, "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.startswith("dfr ")


@pytest.mark.parametrize("access_log", ["true", "false"])
def test_access_log_setting_decides_whether_each_request_is_logged(
    tmp_path: Path, access_log: str
) -> None:
    port = free_tcp_port()
    # uvicorn writes its access lines to stdout, everything else to stderr: both are read here.
    proc = _start(tmp_path / "data", port, env={"DFR_HTTP__ACCESS_LOG": access_log})
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/version-probe").status_code == 404
    finally:
        _stop(proc)
    log = proc.stdout.read().decode() if proc.stdout else ""
    assert "Application startup complete" in log
    assert ('"GET /api/v1/version-probe HTTP/1.1" 404' in log) is (access_log == "true")


@pytest.mark.parametrize("deflate", ["true", "false"])
def test_websocket_compression_is_offered_back_only_when_the_setting_allows_it(
    data_dir: Path, deflate: str
) -> None:
    token = _create_token(data_dir, "dispatcher", "console").stdout.strip()
    port = free_tcp_port()
    proc = _start(data_dir, port, env={"DFR_HTTP__WS_PER_MESSAGE_DEFLATE": deflate})
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        with ws_connect(
            f"ws://127.0.0.1:{port}/api/v1/stream",
            subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
            compression="deflate",
            open_timeout=10,
        ) as ws:
            assert ws.response is not None
            negotiated = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
            first = json.loads(ws.recv(timeout=10))
    finally:
        _stop(proc)
    assert ("permessage-deflate" in negotiated) is (deflate == "true")
    assert first and first[0]["type"] == "snapshot"
