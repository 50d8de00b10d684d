"""The deployment files (deploy/, scripts/cluster.sh) still match the service they deploy.

Offline checks only: the systemd units parse and run what they should, every variable of the
example environment is a real setting that validates, nginx and HAProxy proxy the real live-stream
and health routes, the cluster script is valid bash, and its rendered nginx.conf passes `nginx -t`
where nginx is installed.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from pydantic import BaseModel, ValidationError

from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import API_PREFIX, ROUTERS
from dfr.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CLUSTER_SCRIPT = ROOT / "scripts" / "cluster.sh"
EXAMPLE_ENV = DEPLOY / "env" / "example.env"
INSTANCE_UNIT = DEPLOY / "systemd" / "dfr@.service"

#: Variables of example.env that are not DFR settings, and why they are there.
NON_DFR_VARIABLES = {"FORWARDED_ALLOW_IPS"}  # uvicorn: which proxies' X-Forwarded-* to trust
#: What every instance of a deployment must set (the rest have working defaults).
REQUIRED_IN_EXAMPLE = {
    "DFR_INSTANCE_ID",
    "DFR_HOST",
    "DFR_PORT",
    "DFR_DATA_DIR",
    "DFR_DATABASE__URL",
    "DFR_BUS__URL",
    "DFR_FLEET_FILE",
    "DFR_CAD__BASE_URL",
    "DFR_CAD__TOKEN",
}
PLACEHOLDER = "changeme"
_ASSIGNMENT = re.compile(r"^(?P<commented>#)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def _unit(path: Path) -> configparser.ConfigParser:
    # systemd allows a key twice (lists); strict=False keeps the last, which is enough here.
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def _env_lines() -> list[tuple[bool, str, str]]:
    """(commented, name, value) of every assignment in example.env, commented-out ones too."""
    found = []
    for line in EXAMPLE_ENV.read_text(encoding="utf-8").splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            found.append((match["commented"] is not None, match["name"], match["value"]))
    return found


def _substituted(name: str, value: str) -> str:
    if name == "DFR_FLEET_FILE":
        return str(DEMO_FLEET_FILE)  # the settings check that the fleet file exists
    return value.replace(PLACEHOLDER, "a-real-secret-0123456789")


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith("DFR_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def _setting_exists(name: str) -> bool:
    model: type[BaseModel] = Settings
    parts = name.removeprefix("DFR_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if i < len(parts) - 1:
            if not is_model:
                return False
            model = annotation  # type: ignore[assignment]
        elif is_model:
            return False  # a group of settings, not one setting
    return True


# ----------------------------------------------------------------------------- systemd


def test_instance_unit_runs_dfr_serve_with_the_instance_env_file_and_restarts_always() -> None:
    unit = _unit(INSTANCE_UNIT)
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == "dfr"
    assert argv[1:] == ["serve"]
    assert service["EnvironmentFile"] == "/etc/dfr/%i.env"
    assert service["Restart"] == "always"
    assert service["User"] not in ("", "root")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_instance_unit_is_hardened_and_may_write_the_example_data_dir() -> None:
    service = _unit(INSTANCE_UNIT)["Service"]
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "yes"
    writable = [Path(p.lstrip("-")) for p in service["ReadWritePaths"].split()]
    data_dir = Path(next(v for _, n, v in _env_lines() if n == "DFR_DATA_DIR"))
    assert any(data_dir == p or p in data_dir.parents for p in writable), (data_dir, writable)


def test_nats_unit_runs_nats_server_with_a_config_file() -> None:
    service = _unit(DEPLOY / "systemd" / "nats-server.service")["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == "nats-server"
    assert "--config" in argv or "-c" in argv


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is missing")
def test_systemd_knows_every_key_of_the_instance_unit(tmp_path: Path) -> None:
    # verify needs an executable ExecStart: point it at this venv's dfr.
    dfr = Path(shutil.which("dfr", path=str(Path(sys.executable).parent)) or "/bin/true")
    text = INSTANCE_UNIT.read_text(encoding="utf-8")
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={dfr}", text, flags=re.MULTILINE)
    unit = tmp_path / "dfr@a.service"
    unit.write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    assert complaints == []


# ----------------------------------------------------------------------------- environment


def test_every_variable_of_the_example_env_is_a_real_setting() -> None:
    names = {name for _, name, _ in _env_lines()}
    unknown = sorted(
        n
        for n in names
        if n not in NON_DFR_VARIABLES and not (n.startswith("DFR_") and _setting_exists(n))
    )
    assert unknown == []
    assert REQUIRED_IN_EXAMPLE <= {name for commented, name, _ in _env_lines() if not commented}


def test_the_example_env_with_its_placeholders_filled_in_is_valid_production_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    active = {n: _substituted(n, v) for c, n, v in _env_lines() if not c and n.startswith("DFR_")}
    settings = _settings_from(active, monkeypatch)
    assert settings.mode == "production"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.bus.url is not None and settings.bus.url.startswith("nats://")
    assert settings.instance_id == active["DFR_INSTANCE_ID"]


def test_each_optional_setting_of_the_example_env_is_valid_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    active = {n: _substituted(n, v) for c, n, v in _env_lines() if not c and n.startswith("DFR_")}
    optional = [(n, v) for c, n, v in _env_lines() if c and n.startswith("DFR_")]
    assert optional
    for name, value in optional:
        try:
            _settings_from({**active, name: _substituted(name, value)}, monkeypatch)
        except ValidationError as exc:
            pytest.fail(f"#{name}={value}: {exc}")


def test_the_example_env_unedited_is_refused_for_its_placeholder_cad_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unedited = {n: v for c, n, v in _env_lines() if not c and n.startswith("DFR_")}
    unedited["DFR_FLEET_FILE"] = str(DEMO_FLEET_FILE)
    with pytest.raises(ValidationError, match="cad.token is a placeholder"):
        _settings_from(unedited, monkeypatch)


# ----------------------------------------------------------------------------- balancers


def _api_paths(kind: type) -> list[str]:
    return [
        API_PREFIX + route.path
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, kind)
    ]


def _nginx_locations(text: str) -> dict[str, str]:
    """Prefix (and `=` exact) locations of nginx.conf, each with its block's text."""
    blocks = {}
    for match in re.finditer(r"^\s*location\s+(=\s*)?(/\S*)\s*\{", text, flags=re.MULTILINE):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        blocks[("=" if match[1] else "") + match[2]] = text[match.end() : end - 1]
    return blocks


def _nginx_block_for(path: str, locations: dict[str, str]) -> str:
    if "=" + path in locations:
        return locations["=" + path]
    prefixes = [loc for loc in locations if not loc.startswith("=") and path.startswith(loc)]
    assert prefixes, f"no nginx location serves {path}"
    return locations[max(prefixes, key=len)]


def test_nginx_upgrades_every_websocket_route_of_the_api_with_long_reads() -> None:
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    locations = _nginx_locations(text)
    stream_paths = _api_paths(APIWebSocketRoute)
    assert f"{API_PREFIX}/stream" in stream_paths
    for path in stream_paths:
        block = _nginx_block_for(path, locations)
        assert "proxy_pass http://dfr_instances;" in block, path
        assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", block), path
        assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", block), path
        read_timeout = re.search(r"proxy_read_timeout\s+(\d+)s;", block)
        assert read_timeout and int(read_timeout[1]) >= 600, path
    assert re.search(r"map\s+\$http_upgrade\s+\$connection_upgrade", text)
    assert "proxy_http_version 1.1;" in text


def test_nginx_serves_the_api_console_and_health_from_the_instances_with_passive_checks() -> None:
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    locations = _nginx_locations(text)
    for path in [f"{API_PREFIX}/health", f"{API_PREFIX}/calls", "/", "/docs"]:
        assert "proxy_pass http://dfr_instances;" in _nginx_block_for(path, locations), path
    upstream = re.search(r"upstream\s+dfr_instances\s*\{(?P<body>[^}]*)\}", text)
    assert upstream
    servers = re.findall(r"^\s*server\s+(\S+)(.*);", upstream["body"], flags=re.MULTILINE)
    assert len(servers) >= 2
    assert all("max_fails=" in rest and "fail_timeout=" in rest for _, rest in servers)
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto"):
        assert f"proxy_set_header {header} " in text


def test_haproxy_checks_the_real_health_route_and_keeps_streams_open() -> None:
    text = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
    health = f"{API_PREFIX}/health"
    assert health in _api_paths(APIRoute)
    assert "option httpchk" in text
    assert re.search(rf"http-check send meth GET uri {re.escape(health)}\b", text)
    assert re.search(r"^\s*timeout tunnel\s+\S+", text, flags=re.MULTILINE)
    assert len(re.findall(r"^\s*server\s+\S+\s+\S+\s+check\b", text, flags=re.MULTILINE)) >= 2


# ----------------------------------------------------------------------------- cluster script


def test_cluster_script_is_valid_bash() -> None:
    done = subprocess.run(
        ["bash", "-n", str(CLUSTER_SCRIPT)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_cluster_script_is_shellcheck_clean() -> None:
    done = subprocess.run(
        ["shellcheck", str(CLUSTER_SCRIPT)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout


def _rendered_nginx(cluster_dir: Path) -> str:
    done = subprocess.run(
        ["bash", str(CLUSTER_SCRIPT), "nginx-conf"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "DFR_CLUSTER_DIR": str(cluster_dir)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cluster_renders_nginx_conf_for_its_local_instances(tmp_path: Path) -> None:
    text = _rendered_nginx(tmp_path)
    upstream = re.search(r"upstream\s+dfr_instances\s*\{(?P<body>[^}]*)\}", text)
    assert upstream
    servers = re.findall(r"^\s*server\s+(\S+)\s", upstream["body"], flags=re.MULTILINE)
    assert servers == ["127.0.0.1:8101", "127.0.0.1:8102"]
    assert re.search(r"^\s*listen 127\.0\.0\.1:8100;", text, flags=re.MULTILINE)
    assert f"pid {tmp_path}/run/nginx.pid;" in text
    # Everything else is the shipped file: the stream location survives rendering.
    assert (
        _nginx_locations(text).keys()
        == _nginx_locations((DEPLOY / "nginx.conf").read_text(encoding="utf-8")).keys()
    )


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_rendered_nginx_conf_passes_nginx_t(tmp_path: Path) -> None:
    for made_by_cluster_up in ("logs", "run", "nginx"):
        (tmp_path / made_by_cluster_up).mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(_rendered_nginx(tmp_path), encoding="utf-8")
    done = subprocess.run(
        [
            "nginx",
            "-t",
            "-e",
            str(tmp_path / "logs" / "nginx-error.log"),
            "-p",
            str(tmp_path),
            "-c",
            str(conf),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
