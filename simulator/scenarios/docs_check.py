"""Keep scenario code, narratives, requirement documents and CI configs in step.

Checked for every scenario of a directory (a `.py` with a `.md` beside it):

- the narrative parses (headings, severities, requirement ids);
- `## Resources` names exactly the constructor's parameters;
- `## Cleanup` exists if and only if `cleanup()` is overridden;
- every requirement id is defined (`<tt>id</tt>`) in `simulator/requirements/*.md`;
- every test case, step and check name the code uses is declared, and, once the scenario is
  implemented, every declared one is used;
- a CI configuration lists only implemented scenarios.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from simulator.scenarios.config import (
    CONFIG_DIR,
    STANDARD_DIR,
    load_config,
    resolve_scenario,
    scenario_parameters,
)
from simulator.scenarios.docs import ScenarioDoc, parse_scenario_doc
from simulator.scenarios.errors import ScenarioError
from simulator.scenarios.framework import overrides_cleanup

REQUIREMENTS_DIR = Path(__file__).resolve().parent.parent / "requirements"
_TT = re.compile(r"<tt>\s*([^<\s]+)\s*</tt>")
_NOT_IMPLEMENTED = "ScenarioNotImplementedError"


@dataclass(frozen=True, slots=True)
class DocProblem:
    """One mismatch, naming the file (and line where known)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def defined_requirements(directory: Path = REQUIREMENTS_DIR) -> dict[str, str]:
    """Requirement id -> the file defining it."""
    found: dict[str, str] = {}
    for path in sorted(directory.glob("*.md")):
        for req in _TT.findall(path.read_text(encoding="utf-8")):
            found.setdefault(req, str(path))
    return found


@dataclass(frozen=True, slots=True)
class _Usage:
    cases: set[str]
    steps: set[str]
    checks: set[str]
    not_implemented: bool
    dynamic: list[str]


def _usage(source: str, path: Path) -> _Usage:
    tree = ast.parse(source, filename=str(path))
    usage = _Usage(set(), set(), set(), False, [])
    targets = {
        "begin_test_case": usage.cases,
        "begin_test_step": usage.steps,
        "check": usage.checks,
    }
    not_implemented = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == _NOT_IMPLEMENTED:
                not_implemented = True
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        bucket = targets.get(node.func.attr)
        if bucket is None or not node.args:
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            bucket.add(first.value)
        else:
            usage.dynamic.append(
                f"{path}:{node.lineno}: {node.func.attr}() with a non-literal name"
            )
    return _Usage(usage.cases, usage.steps, usage.checks, not_implemented, usage.dynamic)


def is_implemented(py_path: Path) -> bool:
    """False while the scenario's code raises ScenarioNotImplementedError (docs-first)."""
    return not _usage(py_path.read_text(encoding="utf-8"), py_path).not_implemented


def check_scenario(py_path: Path, requirements: dict[str, str]) -> list[DocProblem]:
    """Problems of one scenario pair."""
    md_path = py_path.with_suffix(".md")
    problems: list[DocProblem] = []
    if not md_path.is_file():
        return [DocProblem(str(py_path), "no narrative (.md) beside the scenario")]
    try:
        doc = parse_scenario_doc(md_path)
        scenario_type = resolve_scenario(str(py_path))
    except ScenarioError as exc:
        return [DocProblem(str(md_path), str(exc))]
    params = set(scenario_parameters(scenario_type))
    documented = set(doc.resources)
    md = str(md_path)
    problems += [
        DocProblem(md, f"resource {name!r} is a constructor parameter but not under ## Resources")
        for name in sorted(params - documented)
    ]
    problems += [
        DocProblem(md, f"## Resources names {name!r}, which the constructor does not take")
        for name in sorted(documented - params)
    ]
    if overrides_cleanup(scenario_type) != (doc.cleanup is not None):
        problems.append(
            DocProblem(
                md,
                "## Cleanup must exist exactly when cleanup() is overridden "
                f"(cleanup overridden: {overrides_cleanup(scenario_type)})",
            )
        )
    problems += [
        DocProblem(
            f"{md}:{check.line}", f"requirement {req} is not defined in {REQUIREMENTS_DIR}/*.md"
        )
        for check in doc.all_checks()
        for req in check.requirements
        if req not in requirements
    ]
    problems += _code_vs_doc(py_path, md_path, doc)
    return problems


def _code_vs_doc(py_path: Path, md_path: Path, doc: ScenarioDoc) -> list[DocProblem]:
    usage = _usage(py_path.read_text(encoding="utf-8"), py_path)
    problems = [DocProblem(d.split(": ", 1)[0], d.split(": ", 1)[1]) for d in usage.dynamic]
    cases = {c.name for c in doc.cases}
    steps = {s.name for c in doc.cases for s in c.steps}
    checks = {c.name for c in doc.all_checks()}
    for kind, used, declared in (
        ("test case", usage.cases, cases),
        ("test step", usage.steps, steps),
        ("check", usage.checks, checks),
    ):
        problems += [
            DocProblem(str(py_path), f"{kind} {name!r} is used but not declared in {md_path.name}")
            for name in sorted(used - declared)
        ]
        if not usage.not_implemented:
            problems += [
                DocProblem(
                    str(md_path), f"{kind} {name!r} is declared but the code never performs it"
                )
                for name in sorted(declared - used)
            ]
    return problems


def check_directory(directory: Path = STANDARD_DIR) -> list[DocProblem]:
    """Problems of every scenario pair in a directory (orphan narratives included)."""
    requirements = defined_requirements()
    problems = [
        DocProblem(str(md), "narrative without a scenario (.py) beside it")
        for md in sorted(directory.glob("*.md"))
        if not md.with_suffix(".py").is_file()
    ]
    for py in sorted(directory.glob("*.py")):
        if py.name == "__init__.py":
            continue
        problems += check_scenario(py, requirements)
    return problems


def check_ci_config(path: Path = CONFIG_DIR / "ci.yaml") -> list[DocProblem]:
    """A CI configuration must list only implemented scenarios."""
    try:
        plan = load_config(path)
    except ScenarioError as exc:
        return [DocProblem(str(path), str(exc))]
    problems = []
    for entry in plan.scenarios:
        source = Path(entry.scenario_type.doc_path()).with_suffix(".py")
        if not is_implemented(source):
            problems.append(
                DocProblem(entry.where, f"{entry.scenario_type.type_name()} is not implemented yet")
            )
    return problems


def main() -> int:
    """`python -m simulator.scenarios.docs_check`: print problems, exit 1 if any."""
    import sys

    problems = check_directory() + check_ci_config()
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
