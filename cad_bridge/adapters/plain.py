"""Plain JSON outbound adapter: `POST {base_url}/incidents/{cad_incident_id}/events`."""

from __future__ import annotations

import json
from typing import Final
from urllib.parse import quote

import httpx

from cad_bridge.base import post_event
from cad_bridge.models import OutboundEvent

CAPABILITIES: Final = frozenset({"notes-out", "unit-status-out", "cancel-out", "idempotency-key"})


class PlainJsonCadAdapter:
    """Sends events as the plain JSON event document."""

    name = "plain"
    capabilities = CAPABILITIES

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s

    def url_for(self, cad_incident_id: str) -> str:
        """Where events of `cad_incident_id` go."""
        return f"{self._base_url}/incidents/{quote(cad_incident_id, safe='')}/events"

    async def deliver(self, event: OutboundEvent) -> None:
        """See CadAdapter.deliver."""
        await post_event(
            self._client,
            self.url_for(event.cad_incident_id),
            event_id=event.event_id,
            body=json.dumps(event.plain_body(), separators=(",", ":")).encode(),
            content_type="application/json",
            token=self._token,
            timeout_s=self._timeout_s,
        )
