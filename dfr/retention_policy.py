"""The agency's retention policy: the fleet file's `[retention]` table (how long media is kept).

    [retention]
    preset = "illinois"      # optional: fills what is not set below
    recordings_days = 30     # flight video (segments and manifest); unset: kept
    snapshots_days = 30      # stills marked on a flight; unset: as recordings_days
    telemetry_days = 365     # flight path (track points); unset: kept
    audit_days = 730         # audit rows; unset: kept; never below 365 (AUDIT_FLOOR_DAYS)

A recording under an active hold (evidence, training; `POST /api/v1/recordings/{id}/holds`) is
kept, with its snapshots and its flight path, whatever the policy says.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Audit rows younger than this are never purged (the database itself refuses it).
AUDIT_FLOOR_DAYS = 365

#: Illinois, Drones as First Responders Act (725 ILCS 167/20): information gathered is destroyed
#: within 30 days unless it is evidence of a crime or part of an ongoing investigation (a hold).
PRESETS: dict[str, dict[str, int]] = {
    "illinois": {"recordings_days": 30, "snapshots_days": 30},
}


class RetentionPolicy(BaseModel):
    """How many days each kind of record is kept (None: kept until removed by hand)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: Literal["illinois"] | None = None
    recordings_days: int | None = Field(default=None, ge=1, le=36_500)
    snapshots_days: int | None = Field(default=None, ge=1, le=36_500)
    telemetry_days: int | None = Field(default=None, ge=1, le=36_500)
    audit_days: int | None = Field(default=None, ge=AUDIT_FLOOR_DAYS, le=36_500)

    def effective(self) -> RetentionPolicy:
        """The policy with its preset's values filled in where the file sets none."""
        given = self.model_dump(exclude_none=True)
        merged = {**PRESETS.get(self.preset or "", {}), **given}
        if "snapshots_days" not in merged and "recordings_days" in merged:
            merged["snapshots_days"] = merged["recordings_days"]
        return RetentionPolicy.model_validate(merged)
