"""Flights: plan, launch, reassign, command, observe and adopt drones' flights, every change stored."""

from dfr.flights.book import TransitionSink
from dfr.flights.commands import PilotCommand
from dfr.flights.records import items_from_json, items_to_json
from dfr.flights.remote import RemoteFlights
from dfr.flights.service import FlightService

__all__ = [
    "FlightService",
    "PilotCommand",
    "RemoteFlights",
    "TransitionSink",
    "items_from_json",
    "items_to_json",
]
