"""Call intake: parse, store, decide — the one way a CAD call enters the service.

The HTTP endpoint and the EIDO conveyance subscription both hand their documents here: the
document is parsed by cad_bridge, stored idempotently (group commit), and a new or changed call
is submitted to the dispatcher, which decides for it (or ends its flight when CAD ended it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from cad_bridge import (
    CadCall,
    CadInputError,
    CallTypeMapper,
    parse_call,
    parse_eido,
    parse_eido_units,
)
from dfr.cad_ingest import AuditStamp, CallWriter, IngestResult
from dfr.cad_units import CadUnits
from dfr.dispatch.service import Dispatcher
from dfr.errors import InvalidInputError
from dfr.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class CallIntake:
    """Parses CAD documents, stores the calls and hands new or changed ones to the dispatcher."""

    writer: CallWriter
    dispatcher: Dispatcher
    mapper: CallTypeMapper
    default_agency_id: str
    max_payload_bytes: int
    metrics: Metrics
    #: Where the responder units an EIDO carries go (none: they are not read).
    units: CadUnits | None = None

    def parse(self, body: bytes, content_type: str) -> CadCall:
        """A posted EIDO or plain JSON document as a call (InvalidInputError names the field)."""
        try:
            return parse_call(
                body,
                default_agency=self.default_agency_id,
                mapper=self.mapper,
                content_type=content_type,
                max_bytes=self.max_payload_bytes,
            )
        except CadInputError as exc:
            raise InvalidInputError(exc.reason, field=exc.field) from exc

    @staticmethod
    def stamp(
        *,
        actor: str,
        role: str,
        token_hash: str,
        admitted: frozenset[str],
        path: str,
        client_address: str = "",
    ) -> AuditStamp:
        """Who posts a call: its token is checked again, and audited, in the call's transaction."""
        return AuditStamp(
            actor=actor,
            role=role,
            token_hash=token_hash,
            admitted=admitted,
            path=path,
            client_address=client_address,
        )

    async def store(self, call: CadCall, stamp: AuditStamp | None = None) -> IngestResult:
        """Store the call (returns once committed); a new or changed call goes to the dispatcher."""
        result = await self.writer.store(call, stamp)
        if result.created:
            self.metrics.calls_created.inc()
        elif result.changed:
            self.metrics.calls_changed.inc()
        else:
            self.metrics.calls_unchanged.inc()
        if result.created or result.changed:
            self.dispatcher.submit(result.call_id, ended=result.ended, priority=call.priority)
        if call.raw_format == "eido" and self.units is not None:
            await self._store_units(self.units, call)
        return result

    @staticmethod
    async def _store_units(units: CadUnits, call: CadCall) -> None:
        """The EIDO's responder units to the unit store; a failure there never fails the call."""
        try:
            positions = parse_eido_units(json.loads(call.raw_document))
            if positions:
                await units.report_eido(positions, call.cad_incident_id)
        except Exception:
            log.exception("the units of EIDO %s were not stored", call.cad_incident_id)

    async def receive_eido(self, document: dict[str, Any]) -> None:
        """An EIDO pushed over the conveyance subscription."""
        await self.store(parse_eido(document, agency=self.default_agency_id, mapper=self.mapper))
