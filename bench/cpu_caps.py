"""CPU quotas for benchmarked processes (Linux cgroups, v2 or v1; needs root).

A process capped at a fraction of a core stands for a service instance on a machine of that size: a
set-up of several capped instances then measures how the service scales across machines, instead of
how the benchmark's own machine shares its cores.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_ROOT = Path("/sys/fs/cgroup")
_PERIOD_US = 100_000


def _layout() -> tuple[Path, str] | None:
    """(the cgroup hierarchy holding the cpu controller, "v2" or "v1"), or None."""
    controllers = _ROOT / "cgroup.controllers"
    if controllers.is_file() and "cpu" in controllers.read_text().split():
        return _ROOT, "v2"
    if (_ROOT / "cpu" / "cpu.cfs_quota_us").is_file():
        return _ROOT / "cpu", "v1"
    return None


def cpu_caps_unavailable() -> str | None:
    """Why processes cannot be capped here, or None when they can."""
    if _layout() is None:
        return "no cgroup cpu controller under /sys/fs/cgroup"
    if os.geteuid() != 0:
        return "capping CPU needs root (cgroups are written)"
    return None


class CpuCaps:
    """One cgroup per capped process, each limited to `cores` of CPU; `close()` removes them."""

    def __init__(self, cores: float, prefix: str) -> None:
        layout = _layout()
        if layout is None or cores <= 0:
            raise ValueError("no cgroup cpu controller, or a cap that is not positive")
        self.cores = cores
        self._base, self._version = layout
        self._prefix = prefix
        self._groups: list[Path] = []

    def cap(self, name: str, pid: int) -> None:
        """Move process `pid` (all its threads) into a new group capped at `cores`."""
        group = self._base / f"{self._prefix}-{name}"
        group.mkdir(exist_ok=True)
        self._groups.append(group)
        quota_us = round(self.cores * _PERIOD_US)
        if self._version == "v2":
            (group / "cpu.max").write_text(f"{quota_us} {_PERIOD_US}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(_PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota_us))
        (group / "cgroup.procs").write_text(str(pid))

    def close(self) -> None:
        """Move any process left back to the root group and remove the groups."""
        for group in reversed(self._groups):
            with contextlib.suppress(OSError):
                for pid in (group / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (self._base / "cgroup.procs").write_text(pid)
                group.rmdir()
        self._groups.clear()
