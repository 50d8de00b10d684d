"""Several `dfr serve` instances as one service: the live bus between them and the hub bridge."""

from dfr.cluster.bus import (
    BusSubscription,
    Handler,
    InProcessBus,
    LiveBus,
    NatsBus,
    Responder,
    open_bus,
    subject_token,
    token_text,
)
from dfr.cluster.errors import (
    BusError,
    BusNoRespondersError,
    BusRemoteError,
    BusTimeoutError,
    BusUnavailableError,
    InvalidSubjectError,
)
from dfr.cluster.hub_bridge import HubBridge, live_subject

__all__ = [
    "BusError",
    "BusNoRespondersError",
    "BusRemoteError",
    "BusSubscription",
    "BusTimeoutError",
    "BusUnavailableError",
    "Handler",
    "HubBridge",
    "InProcessBus",
    "InvalidSubjectError",
    "LiveBus",
    "NatsBus",
    "Responder",
    "live_subject",
    "open_bus",
    "subject_token",
    "token_text",
]
