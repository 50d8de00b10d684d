"""The agency's publication rules for the transparency portal (the fleet file's `[transparency]`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TransparencyPolicy(BaseModel):
    """When a flight is published and how much of its path is shown.

    [transparency]
    auto_publish_after_days = 30   # 0: only flights a supervisor marked reviewed
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_publish_after_days: int = Field(default=0, ge=0, le=3650)
    #: The path is snapped to a grid this coarse, so no point is an exact position.
    path_grid_m: float = Field(default=100.0, ge=50.0, le=5000.0)
    #: Path points this near a dock are left out (where the drones live is not the public's map).
    dock_trim_m: float = Field(default=300.0, ge=0.0, le=5000.0)
