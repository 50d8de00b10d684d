"""Weather at the docks: a fixed observation for the service, wind for the simulated fleet."""

from __future__ import annotations

from pydantic import BaseModel, Field

from simulator.scenarios.resources.base import SPEC_CONFIG, Resource


class WeatherSpec(BaseModel):
    """Weather at the docks during a scenario."""

    model_config = SPEC_CONFIG

    wind_speed_mps: float = Field(default=3.0, ge=0, le=60)
    wind_from_deg: float = Field(default=270.0, ge=0, lt=360)
    gust_mps: float = Field(default=0.0, ge=0, le=80)
    visibility_m: float = Field(default=10_000.0, gt=0)
    station: str = "KCOS"


class Weather(Resource[WeatherSpec]):
    """Weather data: given to the service as a fixed observation and to the simulated fleet as wind."""

    type_name = "Weather"
    spec_type = WeatherSpec

    def metar(self) -> str:
        """A METAR report of this weather (wind in knots, visibility in statute miles)."""
        w = self.spec
        kt = round(w.wind_speed_mps / 0.514444)
        gust = f"G{round(w.gust_mps / 0.514444):02d}" if w.gust_mps > w.wind_speed_mps else ""
        vis_sm = min(10, round(w.visibility_m / 1609.344))
        return f"METAR {w.station} 121200Z {round(w.wind_from_deg):03d}{kt:02d}{gust}KT {vis_sm}SM CLR 20/05 A3000"
