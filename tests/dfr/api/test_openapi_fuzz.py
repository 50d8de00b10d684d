"""Schemathesis over the whole OpenAPI description against a real served app: no input, valid or
not, gets a server error, and every answer has a documented status and media type.

Bounded: a fixed number of derandomized examples per operation and generation mode, failures
recorded rather than shrunk. Nothing is excluded: the whole service runs, but its drones are
addresses where nothing answers, so an operation that would fly one or watch its camera is
refused (4xx, documented) instead of acting. DELETE operations run last, so deleting a fixture
(or the token the run uses) does not starve the operations after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from dfr.main import create_app
from dfr.models import Role
from dfr.service import Run
from dfr.settings import Settings
from tests.conftest import free_udp_ports
from tests.dfr.console.conftest import LiveService, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

EXAMPLES_PER_OPERATION = 3
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def _fleet_file(directory: Path) -> Path:
    """One dock and two drones on free loopback ports: nothing answers there, nothing flies."""
    mavlink_a, mavlink_b, video_a, video_b = free_udp_ports(4)
    path = directory / "fleet.toml"
    path.write_text(
        '[agency]\nid = "cspd"\nname = "CSPD"\ntimezone = "America/Denver"\n\n'
        '[[docks]]\nid = "hq"\nname = "HQ"\nlat = 38.8339\nlon = -104.747\n'
        "alt_amsl_m = 1840.0\n\n"
        + "".join(
            f'[[drones]]\nid = "D{i}"\nname = "Drone {i}"\ndock = "hq"\n'
            f'mavlink_url = "udpin://127.0.0.1:{mavlink}"\n'
            f'video_url = "udp://127.0.0.1:{video}"\n\n'
            for i, (mavlink, video) in enumerate(((mavlink_a, video_a), (mavlink_b, video_b)), 1)
        )
    )
    return path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    directory = tmp_path_factory.mktemp("fuzz")
    service_settings = Settings(
        mode="test", data_dir=directory / "data", fleet_file=_fleet_file(directory)
    )
    # Every part runs (dispatch, links, CAD delivery, recordings), so no answer is a 503 for a
    # part left out; the drones never answer on their links, so nothing can fly.
    with serving(create_app(service_settings, run=Run.ALL), "dfr-fuzz-service") as service:
        yield service


def _order(operation: Any) -> tuple[bool, bool, str]:
    return (operation.method.upper() == "DELETE", "/tokens" in operation.path, operation.label)


def _fuzz(
    operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]
) -> tuple[int, list[str]]:
    """Send the operation's generated cases; (requests sent, failures of the checks)."""
    failures: list[str] = []
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        nonlocal sent
        sent += 1
        try:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)
        except (Exception, FailureGroup) as exc:  # recorded, not shrunk: the run stays bounded
            failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:800]}")

    try:
        fuzz()
    except Unsatisfiable:
        pass  # nothing of the operation can be made invalid (negative mode, no parameters)
    return sent, failures


def test_fuzzed_requests_to_every_operation_get_no_5xx_and_documented_answers(
    live: LiveService,
) -> None:
    description = httpx.get(f"{live.base_url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(description)
    headers = {"Authorization": f"Bearer {live.token(Role.ADMIN)}"}
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=_order)
    assert len(operations) >= 40
    failures: list[str] = []
    requests = 0
    for operation in operations:
        for mode in MODES:
            sent, failed = _fuzz(operation, mode, live.base_url, headers)
            requests += sent
            failures.extend(failed)
    print(f"{len(operations)} operations, {requests} requests")
    assert not failures, "\n\n".join(failures)
