"""Outbound CAD adapters, one module per wire format."""

from cad_bridge.adapters.eido import EidoCadAdapter
from cad_bridge.adapters.plain import PlainJsonCadAdapter

__all__ = ["EidoCadAdapter", "PlainJsonCadAdapter"]
