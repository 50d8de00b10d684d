"""Calls a dead instance stored but never decided are decided once, by the instance holding `recovery`.

The instance that stores a call decides it (`calls.received_by`). If it dies in between, the call
would wait forever: the recovery holder claims such calls with a compare-and-set on `received_by`
(so a second sweep, or a second holder after a takeover, finds them claimed) and submits them to
its own dispatcher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, exists, or_, select, update
from sqlalchemy.engine import Engine

from dfr.cluster.leases import LeaseStore
from dfr.models import Call, CallLifecycle, Decision, ServiceInstance
from lifecycle import TaskOwner

log = logging.getLogger(__name__)

_CALLS: Table = Call.__table__  # type: ignore[attr-defined]
_DECISIONS: Table = Decision.__table__  # type: ignore[attr-defined]
_INSTANCES: Table = ServiceInstance.__table__  # type: ignore[attr-defined]
#: Calls older than this are history, not work: never recovered.
RECOVERY_WINDOW = timedelta(hours=1)
SWEEP_INTERVAL_S = 2.0


def claim_orphaned_calls(
    engine: Engine, instance_id: str, live: list[str], now: datetime
) -> list[int]:
    """Claim for `instance_id` the undecided new calls of instances not in `live`, or stored by
    an earlier run of an instance that has restarted since under the same id (blocking)."""
    c, i = _CALLS.c, _INSTANCES.c
    undecided = ~exists().where(_DECISIONS.c.call_id == c.id)
    restarted_since = exists().where(i.id == c.received_by, i.started_at > c.created_at)
    orphaned = or_(c.received_by.not_in(live), restarted_since)
    with engine.begin() as conn:
        rows = conn.execute(
            select(c.id, c.received_by).where(
                c.received_by.is_not(None),
                c.lifecycle == CallLifecycle.NEW,
                c.created_at > now - RECOVERY_WINDOW,
                undecided,
                orphaned,
            )
        ).all()
        claimed = []
        for row in rows:
            won = conn.execute(
                update(_CALLS)
                .where(c.id == row.id, c.received_by == row.received_by)
                .values(received_by=instance_id)
            ).rowcount
            if won:
                claimed.append(int(row.id))
    return claimed


class CallRecovery(TaskOwner):
    """Sweeps for orphaned calls while this instance holds the `recovery` lease."""

    def __init__(
        self,
        *,
        engine: Engine,
        store: LeaseStore,
        holds_recovery: Callable[[], bool],
        submit: Callable[[int], None],
        interval_s: float = SWEEP_INTERVAL_S,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._store = store
        self._holds = holds_recovery
        self._submit = submit
        self._interval_s = interval_s
        self.recovered = 0

    async def _start(self) -> None:
        self._spawn(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:
                log.exception("recovery sweep failed")
            await asyncio.sleep(self._interval_s)

    async def sweep_once(self) -> list[int]:
        """Claim and submit the orphaned calls now (when holding the lease)."""
        if not self._holds():
            return []
        store = self._store
        now = datetime.now(UTC)
        live = await asyncio.to_thread(store.live_instances, now)
        claimed = await asyncio.to_thread(
            claim_orphaned_calls, self._engine, store.instance_id, live, now
        )
        for call_id in claimed:
            log.warning("deciding call %s, stored by an instance that stopped", call_id)
            self._submit(call_id)
        self.recovered += len(claimed)
        return claimed
