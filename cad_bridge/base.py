"""The one interface every outbound CAD adapter implements, and the HTTP outcome rules they share."""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

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
