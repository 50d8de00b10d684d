"""The package layering of DESIGN.md holds (import-linter contracts in pyproject.toml), with no import circles."""

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


PACKAGES = (
    "geofence",
    "lifecycle",
    "flight",
    "cad_bridge",
    "telemetry",
    "cameras",
    "dfr",
    "simulator",
)


def test_no_module_of_the_project_is_in_an_import_circle() -> None:
    graph = grimp.build_graph(*PACKAGES)
    circles = sorted(
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported in graph.modules
        and graph.find_shortest_chain(importer=imported, imported=importer) is not None
    )
    assert circles == []
