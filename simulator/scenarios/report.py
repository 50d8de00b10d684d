"""Write a run's report: JUnit XML (CI), a JSON record, and one self-contained HTML page.

The HTML needs nothing from the network: styles inline, the map drawn as inline SVG.
"""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from simulator.scenarios.docs import ScenarioDoc, Severity, parse_scenario_text
from simulator.scenarios.errors import ScenarioDocumentationError
from simulator.scenarios.record import (
    CheckOutcome,
    CheckRecord,
    RunRecord,
    ScenarioOutcome,
    ScenarioRecord,
)

TRACK_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where a run's report was written."""

    junit: Path
    json: Path
    html: Path


def write_report(run: RunRecord, directory: Path) -> ReportFiles:
    """Write the three report files into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        directory / "junit.xml", directory / "report.json", directory / "report.html"
    )
    files.json.write_text(run.model_dump_json(indent=2), encoding="utf-8")
    files.junit.write_text(junit_xml(run), encoding="utf-8")
    files.html.write_text(html_page(run), encoding="utf-8")
    return files


# -- JUnit ----------------------------------------------------------------------------------------


def junit_xml(run: RunRecord) -> str:
    """One testsuite per run, one testcase per scenario; failed checks become the failure text."""
    suite = ET.Element(
        "testsuite",
        name=f"dfr-scenarios.{run.name}",
        tests=str(len(run.scenarios)),
        failures=str(sum(1 for s in run.scenarios if s.outcome is ScenarioOutcome.FAILED)),
        errors=str(
            sum(
                1
                for s in run.scenarios
                if s.outcome in (ScenarioOutcome.ERROR, ScenarioOutcome.NOT_IMPLEMENTED)
            )
        ),
        skipped=str(sum(1 for s in run.scenarios if s.outcome is ScenarioOutcome.SKIPPED)),
        time=f"{run.duration_s:.3f}",
        timestamp=run.started_at.isoformat(),
    )
    for scenario in run.scenarios:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=scenario.scenario_type.rpartition(".")[0],
            name=scenario.title,
            time=f"{scenario.duration_s:.3f}",
        )
        failed = scenario.failed_checks()
        if scenario.outcome in (ScenarioOutcome.ERROR, ScenarioOutcome.NOT_IMPLEMENTED):
            element = ET.SubElement(
                case, "error", message=(scenario.error or scenario.outcome.value)[:500]
            )
            element.text = scenario.error or ""
        elif scenario.outcome is ScenarioOutcome.SKIPPED:
            ET.SubElement(case, "skipped", message=(scenario.error or "skipped")[:500])
        elif failed:
            worst = max(failed, key=lambda c: list(Severity).index(c.severity))
            element = ET.SubElement(
                case, "failure", message=f"{worst.name}: {worst.summary}"[:500], type=worst.severity
            )
            element.text = "\n".join(
                f"[{c.severity}] {c.name}: {c.summary}\n{c.details}".rstrip() for c in failed
            )
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(
            f"{c.outcome.value:8} {c.severity.icon} {c.name}" for c in scenario.checks()
        )
    if run.aborted:
        ET.SubElement(suite, "system-err").text = f"run aborted: {run.aborted}"
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


# -- HTML -----------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#f5f6f8}
header{background:#1d2b3a;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
main{padding:18px 28px;max-width:1200px}section.scenario{background:#fff;border-radius:8px;
box-shadow:0 1px 3px #0002;margin:0 0 22px;padding:14px 20px}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:13px;font-weight:600;color:#fff}
.passed{background:#2e7d32}.failed{background:#c62828}.error{background:#6a1b9a}
.not_implemented{background:#757575}.not_run{background:#9e9e9e}.skipped{background:#8d6e00}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}td,th{border-bottom:1px solid #e3e6ea;
padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}th{background:#f0f2f5}
.check{margin:4px 0 4px 18px}.why{color:#c62828;margin-left:18px;white-space:pre-wrap}
.text{color:#444;margin:2px 0 6px 18px}h3{margin:14px 0 4px}h4{margin:8px 0 2px 8px}
.map{border:1px solid #ccd;background:#eef3f7;border-radius:6px}.err{white-space:pre-wrap;
background:#fdecea;border-radius:6px;padding:8px}.toc a{margin-right:12px}
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _md(text: str) -> str:
    """Narrative paragraphs: escape, keep **requirement** bold, `code`, and line breaks."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        if not para.strip():
            continue
        body = _esc(para)
        body = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", body)
        body = re.sub(r"`([^`]+)`", r"<code>\1</code>", body)
        out.append(f"<p>{body}</p>")
    return "".join(out)


def _badge(outcome: str) -> str:
    return f'<span class="badge {outcome}">{_esc(outcome.replace("_", " "))}</span>'


def html_page(run: RunRecord) -> str:
    """The whole report page."""
    verdict = "passed" if run.passed else "failed"
    rows = "".join(
        f'<tr><td><a href="#s{i}">{_esc(s.title)}</a></td><td>{_badge(s.outcome.value)}</td>'
        f"<td>{sum(1 for c in s.checks() if c.outcome is CheckOutcome.PASSED)}/"
        f"{len(s.checks())}</td><td>{s.duration_s:.1f} s</td></tr>"
        for i, s in enumerate(run.scenarios)
    )
    aborted = f'<p class="err">Run stopped early: {_esc(run.aborted)}</p>' if run.aborted else ""
    sections = "".join(_scenario_section(i, s) for i, s in enumerate(run.scenarios))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DFR scenario report: {_esc(run.name)}</title>
<style>{_CSS}</style></head><body>
<header><h1>DFR scenario report: {_esc(run.name)} {_badge(verdict)}</h1>
<div>Started {_esc(run.started_at.strftime("%Y-%m-%d %H:%M:%S UTC"))}, {run.duration_s:.1f} s,
simulator speed-up {run.speedup:g}x{", vehicles: " + _esc(", ".join(run.vehicles)) if run.vehicles else ""}</div>
</header><main>{aborted}
<table id="summary"><tr><th>Scenario</th><th>Outcome</th><th>Checks passed</th><th>Duration</th></tr>{rows}</table>
{sections}</main></body></html>
"""


def _doc_of(record: ScenarioRecord) -> ScenarioDoc | None:
    try:
        return parse_scenario_text(record.narrative, Path(record.doc_path))
    except ScenarioDocumentationError:
        return None


def _check_html(check: CheckRecord, text: str) -> str:
    who = f" ({_esc(', '.join(check.participants))})" if check.participants else ""
    reqs = ", ".join(f"<strong>{_esc(r)}</strong>" for r in check.requirements)
    why = ""
    if check.outcome is CheckOutcome.FAILED:
        why = f'<div class="why">{_esc(check.summary)}'
        why += f"\n{_esc(check.details)}</div>" if check.details else "</div>"
    return (
        f'<div class="check">{_badge(check.outcome.value)} {check.severity.icon} '
        f"<b>{_esc(check.name)}</b>{who} — {reqs}</div>{why}"
        f'<div class="text">{_md(text)}</div>'
    )


def _scenario_section(index: int, record: ScenarioRecord) -> str:
    doc = _doc_of(record)
    parts = [
        f'<section class="scenario" id="s{index}"><h2>{_esc(record.title)} {_badge(record.outcome.value)}</h2>',
        f"<div><code>{_esc(record.scenario_type)}</code>, {record.duration_s:.1f} s</div>",
    ]
    if record.error:
        parts.append(f'<div class="err">{_esc(record.error)}</div>')
    if doc is not None and doc.summary:
        parts.append(_md(doc.summary))
    if doc is not None and doc.resources:
        parts.append("<h3>Resources</h3><table>")
        parts += [
            f"<tr><td><code>{_esc(k)}</code></td><td>{_md(v)}</td></tr>"
            for k, v in doc.resources.items()
        ]
        parts.append("</table>")
    for case in record.cases:
        case_doc = doc.case(case.name) if doc else None
        parts.append(f"<h3>{_esc(case.name)} test case</h3>")
        if case_doc is not None and case_doc.text:
            parts.append(f'<div class="text">{_md(case_doc.text)}</div>')
        for step in case.steps:
            step_doc = case_doc.step(step.name) if case_doc else None
            timing = f" <small>at {step.started_at_s:.1f} s</small>" if step.started_at_s else ""
            parts.append(f"<h4>{_esc(step.name)} test step{timing}</h4>")
            if step_doc is not None and step_doc.text:
                parts.append(f'<div class="text">{_md(step_doc.text)}</div>')
            for check in step.checks:
                check_doc = step_doc.check(check.name) if step_doc else None
                parts.append(_check_html(check, check_doc.text if check_doc else ""))
    if record.cleanup is not None:
        parts.append("<h3>Cleanup</h3>")
        for check in record.cleanup.checks:
            check_doc = doc.cleanup.check(check.name) if doc and doc.cleanup else None
            parts.append(_check_html(check, check_doc.text if check_doc else ""))
    parts.append("<h3>Map</h3>")
    parts.append(map_svg(record))
    parts.append("<h3>Timeline</h3>")
    parts.append(_timeline(record))
    parts.append("</section>")
    return "".join(parts)


def _timeline(record: ScenarioRecord) -> str:
    rows: list[tuple[float, str]] = []
    for e in record.events:
        latency = (
            f"{e.latency_s:.2f} s after {_esc(e.latency_from or '')}"
            if e.latency_s is not None
            else ""
        )
        rows.append(
            (
                e.at_s,
                f"<tr><td>{e.at_s:.2f} s</td><td><b>{_esc(e.label)}</b></td>"
                f"<td>{_esc(e.detail)}</td><td>{latency}</td></tr>",
            )
        )
    for s in record.sleeps:
        what = "waited for" if s.kind == "wait" else "slept:"
        met = "" if s.met else " (not met)"
        rows.append(
            (
                s.at_s,
                f'<tr style="color:#666"><td>{s.at_s:.2f} s</td><td>{what} {_esc(s.reason)}{met}</td>'
                f"<td></td><td>{s.duration_s:.2f} s</td></tr>",
            )
        )
    if not rows:
        return "<p>No events were recorded.</p>"
    rows.sort(key=lambda r: r[0])
    return (
        '<table class="timeline"><tr><th>Time</th><th>Event</th><th>Detail</th><th>Latency</th></tr>'
        + "".join(r for _, r in rows)
        + "</table>"
    )


# -- map ------------------------------------------------------------------------------------------


def map_svg(record: ScenarioRecord, width: int = 720, height: int = 440) -> str:
    """Zones, docks, calls and flown tracks, projected equirectangular around their bounding box."""
    latlons: list[tuple[float, float]] = []
    for zone in record.zones:
        latlons += zone.vertices
    for track in record.tracks:
        latlons += [(p.lat, p.lon) for p in track.points]
    latlons += [(p.lat, p.lon) for p in record.points]
    if not latlons:
        return "<p>Nothing to draw: no zones, docks or tracks were recorded.</p>"
    lat_min = min(p[0] for p in latlons)
    lat_max = max(p[0] for p in latlons)
    lon_min = min(p[1] for p in latlons)
    lon_max = max(p[1] for p in latlons)
    lat_mid = (lat_min + lat_max) / 2
    m_per_deg_lat = 111_320.0
    m_per_deg_lon = m_per_deg_lat * math.cos(math.radians(lat_mid))
    span_x_m = max((lon_max - lon_min) * m_per_deg_lon, 200.0)
    span_y_m = max((lat_max - lat_min) * m_per_deg_lat, 200.0)
    margin = 30
    scale = min((width - 2 * margin) / span_x_m, (height - 2 * margin) / span_y_m)
    cx_lon = (lon_min + lon_max) / 2

    def xy(lat: float, lon: float) -> tuple[float, float]:
        x = width / 2 + (lon - cx_lon) * m_per_deg_lon * scale
        y = height / 2 - (lat - lat_mid) * m_per_deg_lat * scale
        return round(x, 1), round(y, 1)

    shapes: list[str] = []
    for zone in record.zones:
        pts = " ".join(f"{x},{y}" for x, y in (xy(a, b) for a, b in zone.vertices))
        shapes.append(
            f'<polygon points="{pts}" fill="#e53935" fill-opacity="0.22" stroke="#c62828">'
            f"<title>{_esc(zone.name)} ({_esc(zone.kind)})</title></polygon>"
        )
        lx, ly = xy(*zone.vertices[0])
        shapes.append(
            f'<text x="{lx}" y="{ly}" font-size="11" fill="#b71c1c">{_esc(zone.name)}</text>'
        )
    for i, track in enumerate(record.tracks):
        colour = TRACK_COLOURS[i % len(TRACK_COLOURS)]
        pts = " ".join(f"{x},{y}" for x, y in (xy(p.lat, p.lon) for p in track.points))
        shapes.append(
            f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2.2">'
            f"<title>{_esc(track.vehicle_id)} ({len(track.points)} points)</title></polyline>"
        )
        if track.points:
            x, y = xy(track.points[-1].lat, track.points[-1].lon)
            shapes.append(
                f'<text x="{x + 5}" y="{y - 5}" font-size="12" fill="{colour}">{_esc(track.vehicle_id)}</text>'
            )
    for point in record.points:
        x, y = xy(point.lat, point.lon)
        if point.kind == "dock":
            shapes.append(
                f'<rect x="{x - 5}" y="{y - 5}" width="10" height="10" fill="#263238">'
                f"<title>{_esc(point.label)}</title></rect>"
            )
        else:
            shapes.append(
                f'<circle cx="{x}" cy="{y}" r="6" fill="#fbc02d" stroke="#6d4c00">'
                f"<title>{_esc(point.label)}</title></circle>"
            )
        shapes.append(f'<text x="{x + 8}" y="{y + 4}" font-size="12">{_esc(point.label)}</text>')
    bar_m = _nice_length(span_x_m / 4)
    bar_px = bar_m * scale
    shapes.append(
        f'<line x1="{margin}" y1="{height - 12}" x2="{margin + bar_px:.1f}" y2="{height - 12}" '
        f'stroke="#000" stroke-width="2"/><text x="{margin}" y="{height - 16}" font-size="11">'
        f"{bar_m:g} m</text>"
    )
    return (
        f'<svg class="map" role="img" aria-label="map of {_esc(record.title)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">' + "".join(shapes) + "</svg>"
    )


def _nice_length(metres: float) -> float:
    exponent = 10 ** math.floor(math.log10(max(metres, 1.0)))
    for step in (1, 2, 5, 10):
        if step * exponent >= metres:
            return float(step * exponent)
    return float(10 * exponent)
