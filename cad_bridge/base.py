"""The one interface every outbound CAD adapter implements, and the HTTP outcome rules they share."""

from __future__ import annotations

from typing import ClassVar, Final, Protocol, runtime_checkable
from urllib.parse import quote

import httpx

from cad_bridge.errors import CadRejectedError, CadUnavailableError
from cad_bridge.models import OutboundEvent

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"


@runtime_checkable
class CadAdapter(Protocol):
    """Delivers outbound events to one agency's CAD."""

    name: str
    capabilities: frozenset[str]

    async def deliver(self, event: OutboundEvent) -> None:
        """Deliver `event` once, keyed by `event.event_id`.

        Returns when CAD accepted it (2xx) or already had it (409).
        Raises CadUnavailableError for 5xx, timeouts and refused connections (retry later),
        CadRejectedError for any other 4xx (dead letter).
        """
        ...


async def post_event(
    client: httpx.AsyncClient,
    url: str,
    *,
    event_id: str,
    body: bytes,
    content_type: str,
    token: str | None,
    timeout_s: float,
) -> None:
    """POST one event and classify the outcome (see CadAdapter.deliver)."""
    headers = {IDEMPOTENCY_HEADER: event_id, "Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException as exc:
        raise CadUnavailableError(f"CAD did not answer within {timeout_s} s") from exc
    except httpx.TransportError as exc:
        raise CadUnavailableError(f"CAD unreachable: {type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if 200 <= status < 300 or status == 409:
        return
    detail = response.text[:300]
    if 400 <= status < 500 and status not in (408, 429):
        raise CadRejectedError(f"CAD refused the event: {status} {detail}", status_code=status)
    raise CadUnavailableError(f"CAD answered {status} {detail}", status_code=status)


class HttpCadAdapter:
    """A CadAdapter that POSTs each event to `{base_url}/incidents/{cad_incident_id}/{path}`."""

    name: str
    capabilities: frozenset[str]
    path: ClassVar[str]

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
        return f"{self._base_url}/incidents/{quote(cad_incident_id, safe='')}/{self.path}"

    def encode(self, event: OutboundEvent) -> tuple[bytes, str]:
        """The request body for `event` and its content type."""
        raise NotImplementedError

    async def deliver(self, event: OutboundEvent) -> None:
        """See CadAdapter.deliver."""
        body, content_type = self.encode(event)
        await post_event(
            self._client,
            self.url_for(event.cad_incident_id),
            event_id=event.event_id,
            body=body,
            content_type=content_type,
            token=self._token,
            timeout_s=self._timeout_s,
        )
