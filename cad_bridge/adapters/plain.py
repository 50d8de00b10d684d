"""Plain JSON outbound adapter: `POST {base_url}/incidents/{cad_incident_id}/events`."""

from __future__ import annotations

import json
from typing import Final

from cad_bridge.base import HttpCadAdapter
from cad_bridge.models import OutboundEvent

CAPABILITIES: Final = frozenset({"notes-out", "unit-status-out", "cancel-out", "idempotency-key"})


class PlainJsonCadAdapter(HttpCadAdapter):
    """Sends events as the plain JSON event document."""

    name = "plain"
    capabilities = CAPABILITIES
    path = "events"

    def encode(self, event: OutboundEvent) -> tuple[bytes, str]:
        """The plain JSON event document."""
        return json.dumps(event.plain_body(), separators=(",", ":")).encode(), "application/json"
