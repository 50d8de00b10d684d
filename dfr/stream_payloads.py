"""The payloads dfr publishes on the live stream (schema in telemetry/STREAM.md)."""

from __future__ import annotations

from typing import Any

from dfr.dispatch.policy import DispatchDecision
from dfr.dispatch.rules import RuleVerdict
from dfr.models import Call, CallPublic, Flight


def flight_data(row: Flight) -> dict[str, Any]:
    """`flight` payload: state and the planned path as [[lat, lon], ...]."""
    route: list[list[float]] = []
    legs = (row.plan or {}).get("legs") or {}
    for feature in legs.get("features", []):
        geometry = feature.get("geometry") or {}
        if geometry.get("type") != "LineString":
            continue
        for lon, lat in geometry.get("coordinates", []):
            point = [lat, lon]
            if not route or route[-1] != point:
                route.append(point)
    return {
        "drone_id": row.drone_id,
        "call_id": row.call_id,
        "state": row.state,
        "state_reason": row.state_reason,
        "route": route,
        "target": {"lat": row.target_lat, "lon": row.target_lon},
        "eta_s": (row.plan or {}).get("summary", {}).get("eta_s"),
        "started_at": None if row.started_at is None else row.started_at.isoformat(),
        "ended_at": None if row.ended_at is None else row.ended_at.isoformat(),
    }


def call_data(call: Call, *, flight_id: int | None = None) -> dict[str, Any]:
    """`call` payload: the public call fields (and its flight when it has one)."""
    data = CallPublic.model_validate(call).model_dump(mode="json")
    data.pop("id", None)
    if flight_id is not None:
        data["flight_id"] = flight_id
    return data


def _verdict(v: RuleVerdict) -> str:
    if not v.checked:
        return "warn"
    return "pass" if v.passed else "fail"


def decision_data(decision: DispatchDecision) -> dict[str, Any]:
    """`decision` payload: the recommendation and every rule's verdict with its reason."""
    rules: list[dict[str, Any]] = [
        {"rule": str(v.rule), "verdict": _verdict(v), "reason": v.reason}
        for v in decision.call_rules
    ]
    for d in decision.drones:
        rules.extend(
            {
                "rule": str(v.rule),
                "verdict": _verdict(v),
                "reason": v.reason,
                "drone_id": d.drone_id,
            }
            for v in d.rules
        )
    return {
        "eligible": decision.eligible,
        "recommended_drone_id": None
        if decision.recommended is None
        else decision.recommended.drone_id,
        "runner_up_drone_id": None if decision.runner_up is None else decision.runner_up.drone_id,
        "eta_s": decision.eta_s,
        "summary": decision.summary,
        "auto_launch": decision.auto_launch,
        "rules": rules,
    }
