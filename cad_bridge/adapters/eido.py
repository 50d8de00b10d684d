"""EIDO outbound adapter: `POST {base_url}/incidents/{cad_incident_id}/eido` with an EIDO document."""

from __future__ import annotations

import json
from typing import Final

import httpx

from cad_bridge.base import HttpCadAdapter
from cad_bridge.eido import EIDO_MEDIA_TYPE, EIDO_VERSION, event_to_eido
from cad_bridge.models import OutboundEvent

CAPABILITIES: Final = frozenset(
    {"notes-out", "unit-status-out", "cancel-out", "idempotency-key", "eido-1.0"}
)


class EidoCadAdapter(HttpCadAdapter):
    """Sends each event as an EIDO 1.0 document (see cad_bridge.eido.event_to_eido)."""

    name = "eido"
    capabilities = CAPABILITIES
    path = "eido"

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 5.0,
        issuing_element: str = "dfr.local",
    ) -> None:
        super().__init__(client, base_url, token=token, timeout_s=timeout_s)
        self._issuing_element = issuing_element

    def encode(self, event: OutboundEvent) -> tuple[bytes, str]:
        """The event as an EIDO document."""
        document = event_to_eido(event, issuing_element=self._issuing_element)
        body = json.dumps(document, separators=(",", ":")).encode()
        return body, f'{EIDO_MEDIA_TYPE}; version="{EIDO_VERSION}"'
