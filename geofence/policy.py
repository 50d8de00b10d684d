"""The agency's airspace policy: altitude limits and the safety margin on top of the zones."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from geofence.geo import FEET_TO_M

#: The FAA Part 107 limit, used as the default policy maximum.
PART107_MAX_AGL_M: Final = 400 * FEET_TO_M


@dataclass(frozen=True, slots=True)
class AirspacePolicy:
    """The agency's limits on top of the zones."""

    max_alt_agl_m: float = PART107_MAX_AGL_M
    min_safe_alt_agl_m: float = 30.0
    margin_m: float = 30.0  # horizontal safety margin around every exclusion
    ground_amsl_m: float | None = None  # ground elevation, to read AMSL zone limits; None: unknown

    def __post_init__(self) -> None:
        if not 0 < self.min_safe_alt_agl_m <= self.max_alt_agl_m:
            raise ValueError("need 0 < min_safe_alt_agl_m <= max_alt_agl_m")
        if self.margin_m < 0 or not math.isfinite(self.margin_m):
            raise ValueError("margin_m must be >= 0")
