"""Scenario narratives: structure, severities and requirement ids, with file:line in errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenarios.docs import Severity, parse_scenario_text
from simulator.scenarios.errors import ScenarioDocumentationError

GOOD = """# Good test scenario

Summary.

## Resources
### fleet
Drones.

## Launch test case
### Ingest call test step
#### 🛑 Incident ingested check
If late, **dfr.cad.IngestAccepted** is not met.
#### ☢ Everything broken check
**dfr.service.Healthy**
#### ℹ️ Nice to have check
**dfr.service.Healthy**
"""


def test_parses_cases_steps_checks_severities_and_requirements() -> None:
    doc = parse_scenario_text(GOOD, Path("good.md"))
    assert doc.title == "Good" and list(doc.resources) == ["fleet"]
    step = doc.cases[0].steps[0]
    assert [(c.name, c.severity) for c in step.checks] == [
        ("Incident ingested", Severity.HIGH),
        ("Everything broken", Severity.CRITICAL),
        ("Nice to have", Severity.LOW),
    ]
    assert step.checks[0].requirements == ("dfr.cad.IngestAccepted",)
    assert doc.cleanup is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# Bad\n", "must end with 'test scenario'"),
        (
            "# A test scenario\n## X test case\n### S test step\n#### Nope check\n**dfr.a.B**\n",
            ":4:",
        ),
        (
            "# A test scenario\n## X test case\n### S test step\n#### 🛑 C check\nno id\n",
            "names no",
        ),
        (
            "# A test scenario\n## X test case\n### S test step\n#### 🛑 C check\n**bad id**\n",
            "not a requirement id",
        ),
        ("# A test scenario\n## X test case\n", "has no step"),
        ("# A test scenario\n## X test case\n#### 🛑 C check\n**dfr.a.B**\n", "inside a test step"),
    ],
)
def test_malformed_narratives_are_refused_with_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ScenarioDocumentationError, match=message) as info:
        parse_scenario_text(text, Path("bad.md"))
    assert "bad.md" in str(info.value)
