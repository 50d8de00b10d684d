"""Errors raised by cad_bridge; HTTP statuses for them are assigned only by the caller (dfr/api).

CadError
 ├── CadInputError             an inbound document is refused, nothing of it stored (field, reason)
 │    └── EidoSchemaError      an EIDO document fails the published NENA schema
 ├── CadDeliveryError          an outbound event did not reach CAD (carries CAD's answer status)
 │    ├── CadUnavailableError  5xx, 408, 429, timeout, refused connection: retry later
 │    └── CadRejectedError     CAD refused the event (other 4xx than 408/409/429): dead letter
 └── ConveyanceError           the EIDO conveyance peer broke the NENA-STA-024 exchange
"""

from __future__ import annotations


class CadError(Exception):
    """Root of every cad_bridge error."""


class CadInputError(CadError):
    """An inbound CAD document is refused; nothing of it may be stored."""

    def __init__(self, reason: str, *, field: str = "body") -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}")


class EidoSchemaError(CadInputError):
    """An EIDO document does not validate against the NENA EIDO JSON schema."""


class CadDeliveryError(CadError):
    """An outbound event was not delivered; `status_code` is CAD's answer, if it answered."""

    def __init__(self, reason: str, *, status_code: int | None = None) -> None:
        self.reason = reason
        self.status_code = status_code
        super().__init__(reason)


class CadUnavailableError(CadDeliveryError):
    """CAD could not take the event now (5xx, timeout, refused); the event is retried."""


class CadRejectedError(CadDeliveryError):
    """CAD refused the event itself (4xx other than 409); retrying cannot help."""


class ConveyanceError(CadError):
    """The EIDO conveyance peer answered outside NENA-STA-024 or refused the subscription."""
