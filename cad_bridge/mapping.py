"""Call-type mapping: a CAD nature code (APCO 2.103.2 common incident type) to a DFR category.

Each agency may override or extend the APCO default table; a code found nowhere maps to
"unmapped" (the call is still accepted and shown).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

UNMAPPED: Final = "unmapped"

#: APCO common incident types -> DFR categories used by dispatch policy tables.
APCO_DEFAULT_CATEGORIES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ASSAULT": "violent_crime",
        "FIGHT": "violent_crime",
        "ROBBERY": "violent_crime",
        "SHOOTING": "violent_crime",
        "STABBING": "violent_crime",
        "WEAPON": "violent_crime",
        "DOMESTIC": "violent_crime",
        "KIDNAP": "violent_crime",
        "BURGLARY": "property_crime",
        "THEFT": "property_crime",
        "VEHSTLN": "property_crime",
        "VANDALISM": "property_crime",
        "TRESPASS": "property_crime",
        "SUSP": "suspicious",
        "PROWLER": "suspicious",
        "SHOTS": "suspicious",
        "WELFARE": "welfare",
        "MISSING": "missing_person",
        "911H": "welfare",
        "DISTURB": "disturbance",
        "NOISE": "disturbance",
        "ALARM": "alarm",
        "ALARMB": "alarm",
        "ALARMR": "alarm",
        "MVA": "traffic",
        "MVC": "traffic",
        "HITRUN": "traffic",
        "TRAFFIC": "traffic",
        "FIRE": "fire",
        "BRUSH": "fire",
        "STRUCFIRE": "fire",
        "MEDICAL": "medical",
        "OVERDOSE": "medical",
        "NONEMERG": "non_emergency",
    }
)


def normalise_code(code: str) -> str:
    """CAD codes compare case- and space-insensitively."""
    return code.strip().upper()


class CallTypeMapper:
    """Category lookup: the agency's own table first, then the APCO default table."""

    def __init__(
        self,
        per_agency: Mapping[str, Mapping[str, str]] | None = None,
        default: Mapping[str, str] = APCO_DEFAULT_CATEGORIES,
    ) -> None:
        self._default = {normalise_code(k): v for k, v in default.items()}
        self._agencies = {
            agency: {normalise_code(k): v for k, v in table.items()}
            for agency, table in (per_agency or {}).items()
        }

    def category(self, agency: str, call_type: str) -> str:
        """The DFR category of `call_type` for `agency`, or "unmapped"."""
        code = normalise_code(call_type)
        table = self._agencies.get(agency)
        if table is not None and code in table:
            return table[code]
        return self._default.get(code, UNMAPPED)

    def with_agency(self, agency: str, table: Mapping[str, str]) -> CallTypeMapper:
        """A mapper where `agency` additionally uses `table` (overriding the default)."""
        merged = {a: dict(t) for a, t in self._agencies.items()}
        merged.setdefault(agency, {}).update({normalise_code(k): v for k, v in table.items()})
        return CallTypeMapper(merged, self._default)
