"""The README's "Who may call what" table and the roles the routes declare agree, both ways."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute, APIWebSocketRoute

from dfr.auth import declared_roles
from dfr.main import API_PREFIX, ROUTERS
from dfr.models import Role

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "### Who may call what"
ROW = re.compile(r"^\|\s*`(?P<method>[A-Z]+) (?P<path>/\S+)`\s*\|(?P<cells>.*)\|\s*$")


def _readme_table() -> dict[str, frozenset[Role]]:
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"README has no {SECTION!r} section"
    lines = text.split(SECTION, 1)[1].splitlines()
    header = next(line for line in lines if line.startswith("| endpoint"))
    roles = [Role(c.strip()) for c in header.strip("|").split("|")[1:]]
    assert set(roles) == set(Role), f"the table's columns {roles} are not every role"
    table: dict[str, frozenset[Role]] = {}
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        match = ROW.match(line)
        assert match, f"unreadable row: {line}"
        cells = [c.strip() for c in match["cells"].split("|")]
        assert len(cells) == len(roles) and set(cells) <= {"", "✓"}, line
        key = f"{match['method']} {match['path']}"
        assert key not in table, f"{key} appears twice"
        table[key] = frozenset(r for r, c in zip(roles, cells, strict=True) if c == "✓")
    return table


def _code_table() -> dict[str, frozenset[Role]]:
    table: dict[str, frozenset[Role]] = {}
    for route in (r for router in ROUTERS for r in router.routes):
        if not isinstance(route, APIRoute | APIWebSocketRoute):
            continue
        roles = declared_roles(route.dependant)
        if roles is None:
            continue  # public: listed in dfr.auth.PUBLIC_PATHS and tested there
        methods = (
            sorted((route.methods or set()) - {"HEAD"}) if isinstance(route, APIRoute) else ["WS"]
        )
        for method in methods:
            table[f"{method} {API_PREFIX}{route.path}"] = roles
    return table


def test_readme_role_table_matches_the_declared_roles_of_every_route() -> None:
    readme, code = _readme_table(), _code_table()
    assert sorted(set(code) - set(readme)) == [], "routes missing from the README table"
    assert sorted(set(readme) - set(code)) == [], "README rows for routes that do not exist"
    differ = {
        key: (sorted(r.value for r in readme[key]), sorted(r.value for r in code[key]))
        for key in code
        if readme[key] != code[key]
    }
    assert differ == {}, "README (left) and code (right) disagree"
