"""Simulated residents: they register cameras with the service, confirm by the emailed links, and
answer some footage requests by uploading a generated clip, all over HTTP only.

The mailbox is the service's demo SMTP sink (`GET /api/v1/demo/mail`, a tester token): the
residents read their email there, as real residents read theirs.
"""

from simulator.residents.run import Resident, Residents, ResidentsConfig, generated_clip

__all__ = ["Resident", "Residents", "ResidentsConfig", "generated_clip"]
