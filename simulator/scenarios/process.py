"""Child processes of a run (service, simulated fleet, simulated CAD): started in their own process
group, logged to a file, and always ended (TERM, then KILL) so nothing is left running."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import httpx

from simulator.scenarios.errors import ResourceStartError
from simulator.scenarios.ports import free_port, udp_port_free

# The port helpers stay importable here: the e2e rig takes them from this module.
__all__ = [
    "ChildProcess",
    "dfr_sim_command",
    "free_port",
    "http_ok",
    "python_module_command",
    "udp_port_free",
]

log = logging.getLogger(__name__)


def python_module_command(module: str, *args: str) -> list[str]:
    """`python -m module args...` with this interpreter (works without the console scripts)."""
    return [sys.executable, "-m", module, *args]


def dfr_sim_command(*args: str) -> list[str]:
    """`dfr-sim args...` with this interpreter."""
    return [sys.executable, "-c", "from simulator.cli import main; main()", *args]


class ChildProcess:
    """One child process with its log file; `stop()` ends its whole process group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The process id while running."""
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        """True while the process has not exited."""
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        """Start the process (its output goes to the log file)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f"$ {' '.join(self.argv)}\n".encode())
            out.flush()
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=self._env,
                start_new_session=True,
            )
        log.info("%s started (pid %s)", self.name, self._proc.pid)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the process's output, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_ready(
        self, ready: Callable[[], Awaitable[bool]], timeout_s: float, what: str
    ) -> None:
        """Poll `ready` until true; raise ResourceStartError naming the process if it dies or times out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if not self.running:
                raise ResourceStartError(
                    f"{self.name} exited with code {self.returncode} before {what}; "
                    f"its log ({self.log_path}) ends with:\n{self.log_tail()}"
                )
            with contextlib.suppress(Exception):
                if await ready():
                    return
            await asyncio.sleep(0.1)
        raise ResourceStartError(
            f"{self.name} did not reach {what} within {timeout_s:.0f} s; "
            f"its log ({self.log_path}) ends with:\n{self.log_tail()}"
        )

    @property
    def returncode(self) -> int | None:
        """Exit code once exited."""
        return None if self._proc is None else self._proc.returncode

    async def stop(self, sig: int = signal.SIGTERM, grace_s: float = 10.0) -> None:
        """Signal the process group, wait up to `grace_s`, then SIGKILL it."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            _signal_group(proc.pid, sig)
            try:
                async with asyncio.timeout(grace_s):
                    await proc.wait()
            except TimeoutError:
                log.warning("%s ignored signal %s; killing", self.name, sig)
        # Children of the child (uvicorn workers, helpers) share its group: end them all.
        _signal_group(proc.pid, signal.SIGKILL)
        if proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await proc.wait()
        self._proc = None

    async def kill(self) -> None:
        """SIGKILL at once (a crash, not a shutdown)."""
        await self.stop(signal.SIGKILL, grace_s=5.0)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    """True when GET url answers 2xx."""
    # Readiness is polled ten times a second while processes start on the same cores: a client
    # for plain HTTP skips loading the CA bundle, which costs tens of milliseconds of CPU each.
    verify = not url.startswith("http://")
    async with httpx.AsyncClient(timeout=timeout_s, verify=verify) as client:
        try:
            response = await client.get(url)
        except httpx.HTTPError:
            return False
    return response.is_success
