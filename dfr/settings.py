"""Service settings: one pydantic-settings object built once (env `DFR_*`, optional TOML file) and passed down."""

from __future__ import annotations

import os
import socket
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "changethis", "placeholder", "secret", "token", "xxx"}
)


class DatabaseSettings(BaseModel):
    """Where data is stored: a SQLite file (default, WAL) or PostgreSQL by URL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/dfr.sqlite3",
    )
    echo: bool = False


class CadSettings(BaseModel):
    """Outbound CAD connection of the default agency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = None
    format: Literal["plain", "eido"] = "plain"
    token: SecretStr | None = None
    timeout_s: float = Field(default=5.0, gt=0)
    eido_subscribe_url: str | None = None
    max_payload_bytes: int = Field(default=1_048_576, gt=0)


class FlightSettings(BaseModel):
    """MAVLink link and agency flight safety parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gcs_system_id: int = Field(default=245, ge=1, le=255)
    gcs_component_id: int = Field(default=190, ge=0, le=255)
    command_timeout_s: float = Field(default=3.0, gt=0)
    heartbeat_timeout_s: float = Field(
        default=3.5, gt=0, description="heartbeat age (vehicle seconds) at which the link is lost"
    )
    heartbeat_timeout_wall_s: float = Field(
        default=0.0,
        ge=0,
        description="wall seconds of silence also needed before a link is lost (0: none); with time"
        " sped up it keeps a simulator stalled for a moment from reading as a lost link",
    )
    max_alt_agl_m: float = Field(default=121.92, gt=0, description="policy maximum (400 ft AGL)")
    regulatory_max_alt_agl_m: float = Field(default=121.92, gt=0)
    dll_action: int = Field(
        default=2, description="NAV_DLL_ACT required before arming (2 = Return)"
    )
    dll_timeout_s: float = Field(default=10.0, ge=5, le=300)
    geofence_action: int = Field(default=3, description="GF_ACTION required (3 = Return)")
    rtl_return_alt_m: float = Field(default=60.0, gt=0)
    low_battery_action: int = Field(
        default=3, description="COM_LOW_BAT_ACT (3 = Return at critical)"
    )

    @model_validator(mode="after")
    def _ceiling_within_regulation(self) -> FlightSettings:
        if self.max_alt_agl_m > self.regulatory_max_alt_agl_m:
            raise ValueError(
                f"max_alt_agl_m {self.max_alt_agl_m} is above the regulatory maximum "
                f"{self.regulatory_max_alt_agl_m}"
            )
        return self


class WeatherSettings(BaseModel):
    """Where dispatch gets its weather: a METAR report, or a fixed observation (demo, test)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metar: str | None = Field(default=None, description="a METAR report of the agency's station")
    static_wind_mps: float | None = Field(
        default=None, ge=0, description="a fixed observation when no METAR is given (demo, test)"
    )
    static_gust_mps: float | None = Field(default=None, ge=0)
    static_visibility_m: float = Field(default=10_000.0, ge=0)


class TelemetrySettings(BaseModel):
    """Live stream fan-out limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_queue_size: int = Field(default=256, gt=0)


#: Loopback and the RFC 1918 private ranges: the agency's own networks unless configured otherwise.
DEFAULT_ALLOWED_NETWORKS: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("127.0.0.0/8"),
    IPv6Network("::1/128"),
    IPv4Network("10.0.0.0/8"),
    IPv4Network("172.16.0.0/12"),
    IPv4Network("192.168.0.0/16"),
)


class FleetSettings(BaseModel):
    """Where drones may be: the networks a drone's `mavlink_url` and `video_url` may name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # NoDecode: the environment gives a comma list, not JSON.
    allowed_networks: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        default=DEFAULT_ALLOWED_NETWORKS,
        description="CIDR list (comma-separated in the environment); loopback is always allowed",
    )

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return (
            [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else value
        )


class ConsoleSettings(BaseModel):
    """The web console: base map tiles (none = a plain grid, the map works without tiles)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tile_url: str | None = Field(
        default=None, description="XYZ tile URL template with {z}, {x} and {y}; none = grid only"
    )
    tile_attribution: str = Field(default="", max_length=500)
    tile_max_zoom: int = Field(default=19, ge=1, le=24)

    @model_validator(mode="after")
    def _template(self) -> ConsoleSettings:
        url = self.tile_url
        if url is not None and (
            not url.startswith(("http://", "https://", "/"))
            or not all(p in url for p in ("{z}", "{x}", "{y}"))
        ):
            raise ValueError(
                "console.tile_url must be an http(s) or /path template with {z} {x} {y}"
            )
        return self


class MapSettings(BaseModel):
    """The console's basemap: a PMTiles file this service serves, or a tile URL (none = a grid)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    basemap: str | None = Field(
        default=None,
        description="a .pmtiles file (`dfr map build`), or an http(s) tile URL template with "
        "{z} {x} {y} (.mvt/.pbf: vector, else raster); none = a plain grid",
    )
    attribution: str = Field(
        default="",
        max_length=500,
        description="credit shown on the map as plain text (default: the archive's own)",
    )
    max_zoom: int = Field(default=19, ge=1, le=24, description="deepest zoom of a tile URL")

    @field_validator("basemap", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _basemap_source(self) -> MapSettings:
        source = self.basemap
        if source is None:
            return self
        if source.startswith(("http://", "https://")):
            if not all(p in source for p in ("{z}", "{x}", "{y}")):
                raise ValueError("map.basemap: a tile URL needs {z}, {x} and {y}")
        elif not source.endswith(".pmtiles"):
            raise ValueError("map.basemap must be a .pmtiles file or an http(s) tile URL")
        elif not Path(source).is_file():
            raise ValueError(f"map.basemap {source} does not exist (build one: dfr map build)")
        return self

    @property
    def pmtiles_path(self) -> Path | None:
        """The basemap archive served by this service, if that is the basemap."""
        if self.basemap is None or self.basemap.startswith(("http://", "https://")):
            return None
        return Path(self.basemap).resolve()


class HttpSettings(BaseModel):
    """The HTTP edge: API docs, JSON and zone-import bounds, TLS (proxies: FORWARDED_ALLOW_IPS)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    docs: bool = Field(
        default=True, description="Swagger UI at /docs and /openapi.json; false hides both"
    )
    max_json_depth: int = Field(default=64, ge=2, le=1000)
    zone_import_max_bytes: int = Field(default=16 * 1_048_576, gt=0, le=256 * 1_048_576)
    zone_import_max_features: int = Field(default=5_000, gt=0)
    zone_import_max_vertices: int = Field(default=200_000, gt=0)
    tls_cert_file: Path | None = Field(default=None, description="PEM certificate: serve HTTPS")
    tls_key_file: Path | None = Field(default=None, description="PEM private key of tls_cert_file")
    hsts_max_age_s: int = Field(default=31_536_000, ge=0)
    access_log: bool = Field(
        default=True,
        description="a log line per HTTP request; false behind a balancer that logs them itself",
    )
    ws_per_message_deflate: bool = Field(
        default=True,
        description=(
            "compress WebSocket messages for clients that offer it (the live stream: about 6x "
            "fewer bytes); false spends no CPU on it, for consoles on a fast network"
        ),
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("http.tls_cert_file and http.tls_key_file are set together")
        for path in (self.tls_cert_file, self.tls_key_file):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS file {path} does not exist")
        return self


class MetricsSettings(BaseModel):
    """Who may scrape `/metrics`: an admin token, or anyone when `public` (a scraper without tokens)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    public: bool = False


class BusSettings(BaseModel):
    """The live bus between instances: a NATS server by URL, or (unset) in this process only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = Field(
        default=None, description="nats://host:port; unset = one instance, in-process bus"
    )

    @model_validator(mode="after")
    def _nats_url(self) -> BusSettings:
        if self.url is not None and not self.url.startswith(("nats://", "tls://")):
            raise ValueError("bus.url must be a nats:// or tls:// URL")
        return self


class ClusterSettings(BaseModel):
    """Drone link leases between instances (PostgreSQL): how long one lasts and how often it is renewed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lease_ttl_s: float = Field(
        default=3.0, gt=0, le=60, description="a holder silent this long loses its leases"
    )
    renew_interval_s: float = Field(default=1.0, gt=0, le=20)

    @model_validator(mode="after")
    def _renew_before_expiry(self) -> ClusterSettings:
        if self.renew_interval_s * 2 > self.lease_ttl_s:
            raise ValueError("cluster.renew_interval_s must be at most half of lease_ttl_s")
        return self


class SigningSettings(BaseModel):
    """MAVLink 2 signing of the drone links and the key that encrypts the drones' keys at rest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    required: bool = Field(
        default=True,
        description="refuse unsigned frames from a drone once it holds its key; false only for "
        "a vehicle not provisioned yet (anyone with its system id is then believed)",
    )
    key_encryption_key: SecretStr | None = Field(
        default=None,
        description="base64 of 32 bytes (AES-256-GCM) sealing the drones' keys; unset: one is "
        "generated once in data_dir/signing-kek (shared by instances on a shared data dir)",
    )
    rejected_alert_count: int = Field(default=20, ge=1, le=100_000)
    rejected_alert_window_s: float = Field(default=10.0, gt=0, le=3600)
    confirm_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="wait for a vehicle to sign with a new key"
    )


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class SmtpSettings(BaseModel):
    """The mail server owners' emails go through (none and no sink: nothing is emailed)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    host: str | None = Field(default=None, description="SMTP server host; none = no mail server")
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = Field(
        default="dfr@localhost",
        validation_alias=AliasChoices("from", "from_address"),
        max_length=254,
        description="the From address of every email (DFR_SMTP__FROM)",
    )
    starttls: bool = True
    timeout_s: float = Field(default=30.0, gt=0, le=300)
    sink: bool = Field(
        default=False,
        description="receive every email in a local SMTP sink instead (dfr demo, tests): /demo/mail",
    )


class CameraSettings(BaseModel):
    """The community camera registry: links, clip limits, registration throttle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    public_url: str | None = Field(
        default=None, description="the service's URL as owners reach it, for emailed links"
    )
    upload_link_days: int = Field(default=14, ge=1, le=365)
    confirm_link_days: int = Field(default=3, ge=1, le=60)
    max_clip_bytes: int = Field(default=2 * 1024**3, gt=0)
    chunk_bytes: int = Field(default=512 * 1024, ge=1024, le=64 * 1024**2)
    registrations_per_hour: int = Field(default=10, ge=1)
    default_radius_m: float = Field(default=300.0, gt=0, le=5000)
    live_check_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="how often open live views of integrated cameras are held to the owner's rules",
    )


class PrivacySettings(BaseModel):
    """The agency's privacy-in-transit policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transit_mode: bool = Field(
        default=True,
        description="en route and returning the camera looks at the horizon and nothing is recorded",
    )
    horizon_pitch_deg: float = Field(default=0.0, ge=-30.0, le=30.0)
    search_pitch_deg: float = Field(
        default=-45.0, ge=-90.0, le=0.0, description="where the camera looks once privacy is lifted"
    )


class Settings(BaseSettings):
    """Every setting of the service."""

    model_config = SettingsConfigDict(
        env_prefix="DFR_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    mode: Literal["production", "demo", "test"] = "production"
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    fleet_file: Path | None = None
    zones_file: Path | None = None
    speedup: float = Field(default=1.0, ge=1.0, le=50.0)
    database: DatabaseSettings = DatabaseSettings()
    cad: CadSettings = CadSettings()
    flight: FlightSettings = FlightSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    weather: WeatherSettings = WeatherSettings()
    console: ConsoleSettings = ConsoleSettings()
    map: MapSettings = MapSettings()
    fleet: FleetSettings = FleetSettings()
    http: HttpSettings = HttpSettings()
    metrics: MetricsSettings = MetricsSettings()
    bus: BusSettings = BusSettings()
    cluster: ClusterSettings = ClusterSettings()
    signing: SigningSettings = SigningSettings()
    smtp: SmtpSettings = SmtpSettings()
    cameras: CameraSettings = CameraSettings()
    privacy: PrivacySettings = PrivacySettings()
    instance_id: str = Field(
        default_factory=_default_instance_id,
        min_length=1,
        max_length=200,
        description="this instance's name in health, metrics and logs (default host-pid)",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per log line"
    )

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.mode == "production" and self.cad.base_url and self.cad.token is not None:
            if self.cad.token.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError("cad.token is a placeholder value; set a real CAD token")
        if self.fleet_file is not None and not self.fleet_file.is_file():
            raise ValueError(f"fleet_file {self.fleet_file} does not exist")
        return self

    @property
    def database_url(self) -> str:
        """The effective database URL."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'dfr.sqlite3').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("DFR_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from init overrides, then env vars, then the TOML file (if any)."""
    if config_file is not None:
        if not config_file.is_file():
            raise FileNotFoundError(f"settings file {config_file} does not exist")
        previous = os.environ.get("DFR_CONFIG_FILE")
        os.environ["DFR_CONFIG_FILE"] = str(config_file)
        try:
            return Settings(**overrides)
        finally:
            if previous is None:
                os.environ.pop("DFR_CONFIG_FILE", None)
            else:
                os.environ["DFR_CONFIG_FILE"] = previous
    return Settings(**overrides)
