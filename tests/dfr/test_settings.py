"""Settings come from init, env (DFR_*, nested with __) and an optional TOML file; unsafe ones refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dfr.settings import Settings, load_settings


def test_env_vars_set_nested_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DFR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DFR_CAD__BASE_URL", "http://cad.example:8080")
    monkeypatch.setenv("DFR_CAD__FORMAT", "eido")
    monkeypatch.setenv("DFR_DATABASE__URL", "sqlite:////tmp/x.sqlite3")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.cad.base_url == "http://cad.example:8080" and settings.cad.format == "eido"
    assert settings.database_url == "sqlite:////tmp/x.sqlite3"


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/dfr.sqlite3"


def test_placeholder_cad_token_refuses_to_start_outside_demo_mode() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(cad={"base_url": "http://cad:1", "token": "changeme"})
    assert Settings(mode="demo", cad={"base_url": "http://cad:1", "token": "changeme"})


def test_ceiling_above_regulatory_maximum_is_refused() -> None:
    with pytest.raises(ValidationError, match="regulatory"):
        Settings(flight={"max_alt_agl_m": 150.0})


def test_missing_fleet_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        Settings(fleet_file=tmp_path / "nope.toml")


def test_toml_file_supplies_settings_below_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "dfr.toml"
    config.write_text('port = 9123\n[cad]\nbase_url = "http://file:1"\nformat = "eido"\n')
    monkeypatch.setenv("DFR_CAD__FORMAT", "plain")
    settings = load_settings(config)
    assert settings.port == 9123
    assert settings.cad.base_url == "http://file:1"
    assert settings.cad.format == "plain"  # env wins over the file


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(colour="blue")  # type: ignore[call-arg]
