"""Registration checks, coverage of a scene by a camera's view, the per-address window."""

from __future__ import annotations

import pytest

from cameras import (
    AddressWindow,
    CameraInputError,
    RateLimitedError,
    checked_email,
    checked_spec,
    coverage,
    hash_link_token,
    new_link_token,
    well_formed_link_token,
)
from geofence import GeoPoint, destination

SCENE = GeoPoint(38.8420, -104.7600)


def _spec(facing: float | None, fov: float | None, at: GeoPoint) -> object:
    return checked_spec(
        lat=at.lat_deg,
        lon=at.lon_deg,
        facing_deg=facing,
        fov_deg=fov,
        street_facing=True,
        records=[],
    )


@pytest.mark.parametrize(
    ("lat", "lon", "field"),
    [
        (91.0, 0.5, "lat"),
        (-90.5, 0.5, "lat"),
        (10.0, 181.0, "lon"),
        (float("nan"), 1.0, "lat"),
        (0.0, 0.0, "lat"),
    ],
)
def test_impossible_coordinates_are_refused(lat: float, lon: float, field: str) -> None:
    with pytest.raises(CameraInputError) as refused:
        checked_spec(
            lat=lat, lon=lon, facing_deg=None, fov_deg=None, street_facing=False, records=[]
        )
    assert refused.value.field == field


def test_a_camera_facing_the_scene_covers_it_and_one_facing_away_does_not() -> None:
    camera_at = destination(SCENE, 0.0, 100.0)  # 100 m north of the scene
    facing_south = checked_spec(
        lat=camera_at.lat_deg,
        lon=camera_at.lon_deg,
        facing_deg=180.0,
        fov_deg=90.0,
        street_facing=True,
        records=["street"],
    )
    facing_north = checked_spec(
        lat=camera_at.lat_deg,
        lon=camera_at.lon_deg,
        facing_deg=0.0,
        fov_deg=90.0,
        street_facing=True,
        records=["street"],
    )
    assert coverage(facing_south, SCENE).covers
    assert not coverage(facing_north, SCENE).covers
    assert 99.0 < coverage(facing_south, SCENE).distance_m < 101.0


def test_a_camera_of_unknown_facing_counts_as_covering() -> None:
    camera_at = destination(SCENE, 90.0, 200.0)
    spec = checked_spec(
        lat=camera_at.lat_deg,
        lon=camera_at.lon_deg,
        facing_deg=None,
        fov_deg=None,
        street_facing=False,
        records=[],
    )
    seen = coverage(spec, SCENE)
    assert seen.covers and not seen.facing_known


def test_unknown_record_choices_and_bad_emails_are_refused() -> None:
    with pytest.raises(CameraInputError, match="unknown choice"):
        checked_spec(
            lat=1.0,
            lon=1.0,
            facing_deg=None,
            fov_deg=None,
            street_facing=False,
            records=["bedroom"],
        )
    with pytest.raises(CameraInputError):
        checked_email("not an email")
    assert checked_email(" Ann@Example.ORG ") == "Ann@example.org"


def test_link_tokens_are_random_and_stored_only_as_hashes() -> None:
    a, b = new_link_token(), new_link_token()
    assert a != b and well_formed_link_token(a)
    assert not well_formed_link_token("dfrl_forged")
    assert hash_link_token(a) != a and len(hash_link_token(a)) == 64


def test_the_address_window_refuses_past_its_limit_until_the_window_moves() -> None:
    now = [0.0]
    window = AddressWindow(2, 60.0, clock=lambda: now[0])
    window.take("10.0.0.1")
    window.take("10.0.0.1")
    window.take("10.0.0.2")
    with pytest.raises(RateLimitedError) as refused:
        window.take("10.0.0.1")
    assert refused.value.retry_after_s == 60
    now[0] = 60.0
    window.take("10.0.0.1")
