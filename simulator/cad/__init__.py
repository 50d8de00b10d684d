"""A simulated CAD server (independent of the service's code)."""

from simulator.cad.documents import eido_document, incident_tracking_id, plain_document
from simulator.cad.incidents import CallGenerator, SimIncident, within_reach
from simulator.cad.server import CadState, DfrPoster, Outage, Publisher, SimulatedCad

__all__ = [
    "CadState",
    "CallGenerator",
    "DfrPoster",
    "Outage",
    "Publisher",
    "SimIncident",
    "SimulatedCad",
    "eido_document",
    "incident_tracking_id",
    "plain_document",
    "within_reach",
]
