"""The HTTP edge: every error a problem+json document (bodies too large, too deep or not UTF-8, zone
documents past their bounds, ids past 64 bits, unknown paths, unhandled failures), security
headers on every response, and the API docs served from this origin."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient

from dfr.api.params import INT64_MAX
from dfr.auth import create_token
from dfr.db import session_scope
from dfr.errors import MalformedBodyError
from dfr.fleet import DEMO_FLEET_FILE
from dfr.json_limits import body_text, json_depth
from dfr.main import create_app
from dfr.models import Role
from dfr.security_headers import content_security_policy, tile_origin
from dfr.service import Run
from dfr.settings import HttpSettings, Settings
from geofence import document_size

MIB = 1_048_576
#: Small zone-import bounds, so a few squares pass them.
LIMITS = HttpSettings(zone_import_max_features=3, zone_import_max_vertices=12)
DEEP = b"[" * 100_000 + b"]" * 100_000


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    headers = response.headers
    assert headers["content-type"] == "application/problem+json"
    body: dict[str, object] = json.loads(response.content)
    assert body["status"] == status
    return body


async def _broken() -> None:
    raise RuntimeError("secret-internal-detail")


async def _bare_error() -> Response:
    return Response(status_code=405, headers={"Allow": "DELETE"})


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data_dir = tmp_path_factory.mktemp("edge-errors") / "data"
    settings = Settings(mode="test", data_dir=data_dir, fleet_file=DEMO_FLEET_FILE, http=LIMITS)
    app = create_app(settings, run=Run.NONE)
    app.add_api_route("/api/v1/broken", _broken, methods=["GET"])
    app.add_api_route("/api/v1/bare-error", _bare_error, methods=["PATCH"])
    return app


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def auth(app: FastAPI, client: TestClient) -> dict[Role, dict[str, str]]:
    tokens = {}
    with session_scope(app.state.service.engine) as session:
        for role in Role:
            _, secret = create_token(session, f"edge-{role.value}", role)
            tokens[role] = {"Authorization": f"Bearer {secret}"}
    return tokens


def _square(i: int) -> dict[str, object]:
    lon, lat = -104.8 + i * 0.001, 38.8
    ring = [[lon, lat], [lon + 0.0005, lat], [lon + 0.0005, lat + 0.0005], [lon, lat + 0.0005]]
    ring.append(ring[0])
    return {
        "type": "Feature",
        "properties": {"id": f"z{i}", "name": f"zone {i}", "kind": "exclusion"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def test_json_depth_counts_brackets_outside_strings() -> None:
    assert json_depth(b"1") == 0
    assert json_depth(b'{"a": [1, {"b": "[[[[{{"}]}') == 3
    assert json_depth(b'["\\"[[", []]') == 2
    assert json_depth(DEEP) == 100_000


def test_body_text_refuses_invalid_utf8_and_deep_json() -> None:
    assert body_text(b'{"a": [1]}', max_depth=2) == '{"a": [1]}'
    with pytest.raises(MalformedBodyError, match="not UTF-8"):
        body_text(b'{"a": "\xff"}', max_depth=64)
    with pytest.raises(MalformedBodyError, match="nested 65 levels deep; the limit is 64"):
        body_text(b"[" * 65 + b"]" * 65, max_depth=64)
    assert body_text(b"CEILING,WKT\n", max_depth=1) == "CEILING,WKT\n"


def test_body_text_with_brackets_in_strings_beyond_the_limit_is_judged_by_its_real_depth() -> None:
    shallow = b'{"note": "' + b"[{" * 40 + b'"}'
    assert body_text(shallow, max_depth=2) == shallow.decode()
    with pytest.raises(MalformedBodyError, match="nested 3 levels deep; the limit is 2"):
        body_text(b'{"a": [{"b": 1}]}', max_depth=2)


def test_document_size_counts_features_and_positions() -> None:
    document = {"type": "FeatureCollection", "features": [_square(0), _square(1)]}
    size = document_size(json.dumps(document))
    assert (size.features, size.vertices) == (2, 10)
    assert document_size("CEILING,LATITUDE,LONGITUDE\n100,38.8,-104.8\n").features == 1


def test_json_nested_100000_deep_is_a_400_problem(
    client: TestClient, auth: dict[Role, dict[str, str]]
) -> None:
    for path, role in (("/api/v1/cad/incidents", Role.CAD), ("/api/v1/zones/import", Role.ADMIN)):
        headers = {**auth[role], "Content-Type": "application/json"}
        body = _problem(client.post(path, content=DEEP, headers=headers), 400)
        assert "nested 100000 levels deep; the limit is 64" in str(body["detail"]), path


def test_invalid_utf8_zone_document_is_a_400_problem(
    client: TestClient, auth: dict[Role, dict[str, str]]
) -> None:
    headers = {**auth[Role.ADMIN], "Content-Type": "application/json"}
    before = client.get("/api/v1/zones", headers=auth[Role.ADMIN]).json()
    response = client.post("/api/v1/zones/import", content=b'{"a": "\xc3\x28"}', headers=headers)
    assert "not UTF-8" in str(_problem(response, 400)["detail"])
    assert client.get("/api/v1/zones", headers=auth[Role.ADMIN]).json() == before


def test_zone_imports_past_the_feature_or_vertex_limit_are_refused_naming_it(
    client: TestClient, auth: dict[Role, dict[str, str]]
) -> None:
    headers = auth[Role.ADMIN]
    four = {"type": "FeatureCollection", "features": [_square(i) for i in range(4)]}
    body = _problem(client.post("/api/v1/zones/import", json=four, headers=headers), 422)
    assert "4 features; the limit is 3 (http.zone_import_max_features)" in str(body["detail"])
    three = {"type": "FeatureCollection", "features": [_square(i) for i in range(3)]}
    body = _problem(client.post("/api/v1/zones/import", json=three, headers=headers), 422)
    assert "15 vertices; the limit is 12 (http.zone_import_max_vertices)" in str(body["detail"])
    two = {"type": "FeatureCollection", "features": [_square(i) for i in range(2)]}
    assert client.post("/api/v1/zones/import", json=two, headers=headers).status_code == 201


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(client: TestClient) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(MIB + 1)}
    response = client.post("/api/v1/flights", content=b"{}", headers=headers)
    assert "limit is 1048576" in str(_problem(response, 413)["detail"])


def test_a_chunked_body_over_the_limit_is_a_413_problem_whatever_the_route(
    client: TestClient, auth: dict[Role, dict[str, str]]
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 65_536

    for path, headers in (
        ("/api/v1/flights", {}),  # a model body: FastAPI reads it before authentication
        ("/api/v1/cad/incidents", auth[Role.CAD]),  # read by hand after authentication
        ("/api/v1/zones/import", auth[Role.ADMIN]),  # a larger limit of its own
    ):
        sent = {**headers, "Content-Type": "application/json"}
        response = client.post(path, content=chunks(), headers=sent)
        if path.endswith("/zones/import"):
            # 2.5 MiB of spaces: within the import's 16 MiB, read whole, then no zone document.
            _problem(response, 422)
        else:
            assert "more than 1048576 bytes" in str(_problem(response, 413)["detail"]), path


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/calls/9223372036854775808",
        "/api/v1/calls/9223372036854775808/decision",
        "/api/v1/flights/99999999999999999999999",
        "/api/v1/flights/-9223372036854775809/snapshots",
    ],
)
def test_ids_beyond_64_bits_are_a_422_problem(
    client: TestClient, auth: dict[Role, dict[str, str]], path: str
) -> None:
    role = Role.ANALYST if path.endswith("snapshots") else Role.ADMIN
    body = _problem(client.get(path, headers=auth[role]), 422)
    assert "9223372036854775807" in str(body["detail"]) or "-9223372036854775808" in str(
        body["detail"]
    )


def test_the_largest_64_bit_id_is_a_404_problem(
    client: TestClient, auth: dict[Role, dict[str, str]]
) -> None:
    _problem(client.get(f"/api/v1/calls/{INT64_MAX}", headers=auth[Role.ADMIN]), 404)
    _problem(client.delete(f"/api/v1/tokens/{INT64_MAX}", headers=auth[Role.ADMIN]), 404)


def test_unknown_paths_and_methods_are_problems(client: TestClient) -> None:
    _problem(client.get("/api/v1/nothing-here"), 404)
    _problem(client.get("/nothing-here"), 404)
    _problem(client.put("/api/v1/health"), 405)


def test_an_unhandled_failure_is_a_500_problem_that_tells_nothing_internal(
    client: TestClient,
) -> None:
    response = client.get("/api/v1/broken")
    body = _problem(response, 500)
    assert "secret-internal-detail" not in response.text
    assert body["instance"] == "/api/v1/broken"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_error_a_route_answers_without_a_body_becomes_a_problem(client: TestClient) -> None:
    response = client.patch("/api/v1/bare-error")
    assert _problem(response, 405)["detail"] == "Method Not Allowed"
    assert response.headers["allow"] == "DELETE"


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; media-src 'self' blob:; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@pytest.mark.parametrize(
    "path", ["/", "/console/index.html", "/docs", "/api/v1/health", "/api/v1/calls", "/nowhere"]
)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert "strict-transport-security" not in headers


def test_hsts_only_on_requests_that_arrived_over_tls(client: TestClient) -> None:
    over_tls = client.get("https://testserver/api/v1/health").headers
    assert over_tls["strict-transport-security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize(
    ("tile_url", "origin"),
    [
        (None, None),
        ("/tiles/{z}/{x}/{y}.png", None),
        ("https://tile.example.org/{z}/{x}/{y}.png", "https://tile.example.org"),
        ("https://{s}.tile.example.org:8443/{z}/{x}/{y}.png", "https://*.tile.example.org:8443"),
        ("http://{region}.maps.example/{z}/{x}/{y}", "http:"),
    ],
)
def test_a_remote_base_map_adds_only_its_origin_to_img_src(
    tile_url: str | None, origin: str | None
) -> None:
    assert tile_origin(tile_url) == origin
    policy = content_security_policy(tile_url)
    expected = "img-src 'self' data: blob:" + ("" if origin is None else f" {origin}")
    assert f"{expected};" in policy
    assert "script-src 'self';" in policy and "unsafe" not in policy


def test_the_docs_page_loads_swagger_ui_from_this_origin_with_no_inline_script(
    client: TestClient,
) -> None:
    page = client.get("/docs").text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts and all(body.strip() == "" and 'src="docs/assets/' in a for a, body in scripts)
    assert "http" not in page.lower().replace("http-equiv", "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "init.js"):
        response = client.get(f"/docs/assets/{asset}")
        assert response.status_code == 200, asset
    assert client.get("/redoc").status_code == 404


def test_docs_off_hides_the_page_and_the_description(tmp_path: Path) -> None:
    settings = Settings(
        mode="test", data_dir=tmp_path, fleet_file=DEMO_FLEET_FILE, http=HttpSettings(docs=False)
    )
    client = TestClient(create_app(settings, run=Run.NONE))  # no lifespan: routes only
    for path in ("/docs", "/openapi.json", "/docs/assets/swagger-ui-bundle.js"):
        _problem(client.get(path), 404)
