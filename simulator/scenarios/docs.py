"""Scenario narratives: parse a scenario's `.md` into its resources, test cases, steps and checks.

The structure (convention 10)::

    # <Title> test scenario
    ## Resources
    ### <resource parameter name>
    ## <Name> test case
    ### <Name> test step
    #### <severity icon> <Name> check
    ## Cleanup
    ### <severity icon> <Name> check

Bold text (`**dfr.area.Name**`) inside a check's paragraph names the requirements it proves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path

from simulator.scenarios.errors import ScenarioDocumentationError

_VS16 = "\ufe0f"  # emoji presentation selector, present or not depending on the editor
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
REQUIREMENT_ID = re.compile(r"^dfr\.[a-z_]+\.[A-Z][A-Za-z0-9]+$")


class Severity(StrEnum):
    """How much a failed check matters (the icons of interuss uss_qualifier)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def icon(self) -> str:
        """The icon used in narratives."""
        return _ICONS[self]

    @property
    def stops_scenario(self) -> bool:
        """A failure ends the scenario (high) or the whole run (critical)."""
        return self in (Severity.HIGH, Severity.CRITICAL)


_ICONS: dict[Severity, str] = {
    Severity.LOW: "ℹ️",
    Severity.MEDIUM: "⚠️",
    Severity.HIGH: "🛑",
    Severity.CRITICAL: "☢",
}
_SEVERITY_BY_ICON: dict[str, Severity] = {
    icon.replace(_VS16, ""): sev for sev, icon in _ICONS.items()
}


@dataclass(frozen=True, slots=True)
class CheckDoc:
    """One documented check."""

    name: str
    severity: Severity
    requirements: tuple[str, ...]
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class StepDoc:
    """One documented test step and its checks."""

    name: str
    text: str
    line: int
    checks: tuple[CheckDoc, ...]

    def check(self, name: str) -> CheckDoc | None:
        """The check of that name in this step, if declared."""
        return next((c for c in self.checks if c.name == name), None)


@dataclass(frozen=True, slots=True)
class CaseDoc:
    """One documented test case and its steps."""

    name: str
    text: str
    line: int
    steps: tuple[StepDoc, ...]

    def step(self, name: str) -> StepDoc | None:
        """The step of that name in this case, if declared."""
        return next((s for s in self.steps if s.name == name), None)


@dataclass(frozen=True, slots=True)
class ScenarioDoc:
    """A parsed scenario narrative."""

    path: Path
    title: str
    summary: str
    resources: dict[str, str]
    cases: tuple[CaseDoc, ...]
    cleanup: StepDoc | None
    source: str = field(repr=False)

    def case(self, name: str) -> CaseDoc | None:
        """The test case of that name, if declared."""
        return next((c for c in self.cases if c.name == name), None)

    def all_checks(self) -> list[CheckDoc]:
        """Every declared check, cleanup included, in document order."""
        checks = [c for case in self.cases for s in case.steps for c in s.checks]
        if self.cleanup is not None:
            checks.extend(self.cleanup.checks)
        return checks


def parse_severity(text: str) -> tuple[Severity, str] | None:
    """Split a check heading into its severity and the rest, or None without a known icon."""
    stripped = text.replace(_VS16, "").strip()
    for icon, severity in _SEVERITY_BY_ICON.items():
        if stripped.startswith(icon):
            return severity, stripped[len(icon) :].strip()
    return None


def _strip_suffix(text: str, suffix: str, path: Path, line: int) -> str:
    if not text.endswith(suffix) or len(text) == len(suffix):
        raise ScenarioDocumentationError(
            f"{path}:{line}: heading {text!r} must end with {suffix!r}"
        )
    return text[: -len(suffix)].strip()


def _requirements(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.strip() for m in _BOLD.findall(text)))


def parse_scenario_doc(path: Path) -> ScenarioDoc:
    """Parse and structurally validate a scenario narrative; errors name the file and line."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioDocumentationError(f"{path}: cannot read the narrative: {exc}") from exc
    return parse_scenario_text(source, path)


def parse_scenario_text(source: str, path: Path) -> ScenarioDoc:
    """Parse narrative text (see the module docstring for the structure)."""
    title: str | None = None
    summary: list[str] = []
    resources: dict[str, list[str]] = {}
    # Mutable skeleton: (name, line, text lines, children)
    cases: list[tuple[str, int, list[str], list[tuple[str, int, list[str], list[_RawCheck]]]]] = []
    cleanup_checks: list[_RawCheck] | None = None
    cleanup_line = 0
    cleanup_text: list[str] = []
    section: str | None = None  # "resources" | "case" | "cleanup"
    text_sink: list[str] = summary
    in_fence = False

    for number, raw in enumerate(source.splitlines(), start=1):
        if raw.lstrip().startswith("```"):
            in_fence = not in_fence
            text_sink.append(raw)
            continue
        match = None if in_fence else _HEADING.match(raw)
        if match is None:
            text_sink.append(raw)
            continue
        level, heading = len(match.group(1)), match.group(2)
        where = f"{path}:{number}"
        if level == 1:
            if title is not None:
                raise ScenarioDocumentationError(f"{where}: a second top-level heading")
            title = _strip_suffix(heading, "test scenario", path, number)
            text_sink = summary
        elif title is None:
            raise ScenarioDocumentationError(
                f"{where}: the first heading must be '# ... test scenario'"
            )
        elif level == 2:
            if heading == "Resources":
                section, text_sink = "resources", []
            elif heading == "Cleanup":
                section = "cleanup"
                cleanup_checks, cleanup_line, cleanup_text = [], number, []
                text_sink = cleanup_text
            else:
                name = _strip_suffix(heading, "test case", path, number)
                section = "case"
                cases.append((name, number, [], []))
                text_sink = cases[-1][2]
        elif level == 3:
            if section == "resources":
                resources[heading.strip()] = []
                text_sink = resources[heading.strip()]
            elif section == "case":
                name = _strip_suffix(heading, "test step", path, number)
                cases[-1][3].append((name, number, [], []))
                text_sink = cases[-1][3][-1][2]
            elif section == "cleanup":
                assert cleanup_checks is not None
                raw_check = _raw_check(heading, path, number)
                cleanup_checks.append(raw_check)
                text_sink = raw_check.text
            else:
                raise ScenarioDocumentationError(f"{where}: a ### heading outside a section")
        elif level == 4:
            if section != "case" or not cases or not cases[-1][3]:
                raise ScenarioDocumentationError(
                    f"{where}: a check (####) must sit inside a test step (###)"
                )
            raw_check = _raw_check(heading, path, number)
            cases[-1][3][-1][3].append(raw_check)
            text_sink = raw_check.text
        else:
            raise ScenarioDocumentationError(f"{where}: heading level {level} is not used")

    if title is None:
        raise ScenarioDocumentationError(f"{path}: no '# ... test scenario' heading")
    built_cases = tuple(
        CaseDoc(
            name=name,
            line=line,
            text=_para(text),
            steps=tuple(
                StepDoc(
                    name=s_name,
                    line=s_line,
                    text=_para(s_text),
                    checks=tuple(c.build() for c in s_checks),
                )
                for s_name, s_line, s_text, s_checks in steps
            ),
        )
        for name, line, text, steps in cases
    )
    cleanup = (
        None
        if cleanup_checks is None
        else StepDoc(
            name="Cleanup",
            line=cleanup_line,
            text=_para(cleanup_text),
            checks=tuple(c.build() for c in cleanup_checks),
        )
    )
    doc = ScenarioDoc(
        path=path,
        title=title,
        summary=_para(summary),
        resources={k: _para(v) for k, v in resources.items()},
        cases=built_cases,
        cleanup=cleanup,
        source=source,
    )
    _validate_structure(doc)
    return doc


@dataclass(slots=True)
class _RawCheck:
    name: str
    severity: Severity
    line: int
    text: list[str]

    def build(self) -> CheckDoc:
        paragraph = _para(self.text)
        return CheckDoc(
            name=self.name,
            severity=self.severity,
            requirements=_requirements(paragraph),
            text=paragraph,
            line=self.line,
        )


def _raw_check(heading: str, path: Path, line: int) -> _RawCheck:
    parsed = parse_severity(heading)
    if parsed is None:
        raise ScenarioDocumentationError(
            f"{path}:{line}: check heading {heading!r} must start with a severity icon "
            f"({', '.join(s.icon for s in Severity)})"
        )
    severity, rest = parsed
    return _RawCheck(_strip_suffix(rest, "check", path, line), severity, line, [])


def _para(lines: list[str]) -> str:
    return "\n".join(lines).strip()


def _validate_structure(doc: ScenarioDoc) -> None:
    where = str(doc.path)
    if not doc.cases:
        raise ScenarioDocumentationError(f"{where}: no test case (## ... test case)")
    seen_cases: set[str] = set()
    for case in doc.cases:
        if case.name in seen_cases:
            raise ScenarioDocumentationError(f"{where}:{case.line}: test case {case.name!r} twice")
        seen_cases.add(case.name)
        if not case.steps:
            raise ScenarioDocumentationError(
                f"{where}:{case.line}: test case {case.name!r} has no step"
            )
        seen_steps: set[str] = set()
        for step in case.steps:
            if step.name in seen_steps:
                raise ScenarioDocumentationError(f"{where}:{step.line}: step {step.name!r} twice")
            seen_steps.add(step.name)
            _validate_checks(where, step)
    if doc.cleanup is not None:
        _validate_checks(where, doc.cleanup)


def _validate_checks(where: str, step: StepDoc) -> None:
    seen: set[str] = set()
    for check in step.checks:
        if check.name in seen:
            raise ScenarioDocumentationError(f"{where}:{check.line}: check {check.name!r} twice")
        seen.add(check.name)
        if not check.requirements:
            raise ScenarioDocumentationError(
                f"{where}:{check.line}: check {check.name!r} names no **requirement**"
            )
        for req in check.requirements:
            if not REQUIREMENT_ID.match(req):
                raise ScenarioDocumentationError(
                    f"{where}:{check.line}: {req!r} is not a requirement id (dfr.<area>.<Name>)"
                )


@cache
def _cached_doc(path: Path, mtime_ns: int) -> ScenarioDoc:
    return parse_scenario_doc(path)


def load_scenario_doc(path: Path) -> ScenarioDoc:
    """Parse a narrative, reusing the previous parse while the file is unchanged."""
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError as exc:
        raise ScenarioDocumentationError(f"{path}: narrative missing: {exc}") from exc
    return _cached_doc(path, mtime_ns)
