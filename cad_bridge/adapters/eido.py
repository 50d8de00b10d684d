"""EIDO outbound adapter: `POST {base_url}/incidents/{cad_incident_id}/eido` with an EIDO document."""

from __future__ import annotations

import json
from typing import Final
from urllib.parse import quote

import httpx

from cad_bridge.base import post_event
from cad_bridge.eido import EIDO_MEDIA_TYPE, EIDO_VERSION, event_to_eido
from cad_bridge.models import OutboundEvent

CAPABILITIES: Final = frozenset(
    {"notes-out", "unit-status-out", "cancel-out", "idempotency-key", "eido-1.0"}
)


class EidoCadAdapter:
    """Sends each event as an EIDO 1.0 document (see cad_bridge.eido.event_to_eido)."""

    name = "eido"
    capabilities = CAPABILITIES

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 5.0,
        issuing_element: str = "dfr.local",
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s
        self._issuing_element = issuing_element

    def url_for(self, cad_incident_id: str) -> str:
        """Where EIDO documents of `cad_incident_id` go."""
        return f"{self._base_url}/incidents/{quote(cad_incident_id, safe='')}/eido"

    async def deliver(self, event: OutboundEvent) -> None:
        """See CadAdapter.deliver."""
        document = event_to_eido(event, issuing_element=self._issuing_element)
        await post_event(
            self._client,
            self.url_for(event.cad_incident_id),
            event_id=event.event_id,
            body=json.dumps(document, separators=(",", ":")).encode(),
            content_type=f'{EIDO_MEDIA_TYPE}; version="{EIDO_VERSION}"',
            token=self._token,
            timeout_s=self._timeout_s,
        )
