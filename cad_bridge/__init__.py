"""CAD wire formats (NENA EIDO and plain JSON), inbound validation, outbound adapters, outbox delivery."""

from cad_bridge.adapters import EidoCadAdapter, PlainJsonCadAdapter
from cad_bridge.base import IDEMPOTENCY_HEADER, CadAdapter
from cad_bridge.conveyance import EidoSubscriber
from cad_bridge.eido import (
    EIDO_MEDIA_TYPE,
    dfr_priority_to_eido,
    eido_priority_to_dfr,
    eido_schema,
    event_to_eido,
    parse_eido,
    validate_eido,
)
from cad_bridge.errors import (
    CadDeliveryError,
    CadError,
    CadInputError,
    CadRejectedError,
    CadUnavailableError,
    ConveyanceError,
    EidoSchemaError,
)
from cad_bridge.inbound import decode_json, looks_like_eido, parse_call
from cad_bridge.lanes import LanedTransport
from cad_bridge.mapping import APCO_DEFAULT_CATEGORIES, UNMAPPED, CallTypeMapper
from cad_bridge.models import (
    EVENT_CANCELLED,
    TERMINAL_STATUSES,
    UNIT_CANCELLED_EN_ROUTE,
    CadCall,
    CadIncident,
    CadNote,
    CallFlags,
    Disposition,
    EventKind,
    OutboundEvent,
    UnitReport,
    UnitStatus,
)
from cad_bridge.outbox import (
    MAX_PARALLEL_INCIDENTS,
    Backoff,
    Delivered,
    OutboxDelivery,
    OutboxRecord,
    OutboxStore,
)
from cad_bridge.pidf import PidfLocation, parse_pidf, pidf_point
from cad_bridge.plain import PlainCall, parse_plain
from cad_bridge.units import CadUnitPosition, parse_eido_units

__all__ = [
    "APCO_DEFAULT_CATEGORIES",
    "EIDO_MEDIA_TYPE",
    "EVENT_CANCELLED",
    "IDEMPOTENCY_HEADER",
    "MAX_PARALLEL_INCIDENTS",
    "TERMINAL_STATUSES",
    "UNIT_CANCELLED_EN_ROUTE",
    "UNMAPPED",
    "Backoff",
    "CadAdapter",
    "CadCall",
    "CadDeliveryError",
    "CadError",
    "CadIncident",
    "CadInputError",
    "CadNote",
    "CadRejectedError",
    "CadUnitPosition",
    "CadUnavailableError",
    "CallFlags",
    "CallTypeMapper",
    "ConveyanceError",
    "Delivered",
    "Disposition",
    "EidoCadAdapter",
    "EidoSchemaError",
    "EidoSubscriber",
    "EventKind",
    "LanedTransport",
    "OutboundEvent",
    "OutboxDelivery",
    "OutboxRecord",
    "OutboxStore",
    "PidfLocation",
    "PlainCall",
    "PlainJsonCadAdapter",
    "UnitReport",
    "UnitStatus",
    "decode_json",
    "dfr_priority_to_eido",
    "eido_priority_to_dfr",
    "eido_schema",
    "event_to_eido",
    "looks_like_eido",
    "parse_call",
    "parse_eido",
    "parse_eido_units",
    "parse_pidf",
    "parse_plain",
    "pidf_point",
    "validate_eido",
]
