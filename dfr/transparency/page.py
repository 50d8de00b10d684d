"""The portal's HTML page, rendered on the server: text escaped, charts as inline SVG, no script."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from dfr.transparency.charts import bar_chart
from dfr.transparency.portal import PortalFlight, PortalStats

DEFINITIONS = (
    (
        "Published flight",
        "a flight a supervisor has reviewed for publication, or one older than the agency's "
        "automatic publication delay, if it set one.",
    ),
    (
        "Response time",
        "from the moment the call was received in CAD to the drone's arrival over the scene.",
    ),
    (
        "Drone first on scene",
        "the drone arrived before the first officer's OnScene status in CAD; counted only for "
        "calls whose CAD sent officers' unit status to DFR.",
    ),
    (
        "Cleared without an officer",
        "the call was closed in CAD with no officer dispatched; counted only for calls whose CAD "
        "reported whether an officer was dispatched.",
    ),
    (
        "Path",
        "snapped to a grid of about 100 m, leaving out the part near each drone dock.",
    ),
)


def _share(part: int, known: int) -> str:
    if not known:
        return "not measured (no CAD unit status received for these calls)"
    return f"{part} of {known} ({100.0 * part / known:.0f}%)"


def _minutes(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def render_page(agency_name: str, flights: Sequence[PortalFlight], stats: PortalStats) -> str:
    """The whole page as HTML text."""
    rows = []
    for f in flights:
        cells = (
            f.date,
            f.time,
            f.call_category.replace("_", " "),
            f.purpose,
            _minutes(f.duration_s),
            "yes" if f.video_recorded else "no",
            f.outcome,
        )
        rows.append(
            f'<tr data-flight="{f.id}">' + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"
        )
    table = (
        '<table id="flights"><thead><tr><th>Date</th><th>Time</th><th>Call type</th>'
        "<th>Purpose</th><th>Duration</th><th>Video recorded</th><th>Outcome</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<p id="flights-empty">No flights have been published yet.</p>'
    )
    definitions = "".join(
        f"<dt>{escape(term)}</dt><dd>{escape(text)}</dd>" for term, text in DEFINITIONS
    )
    weekly = bar_chart("Flights per week", stats.per_week, empty="No published flights yet")
    response = bar_chart(
        "Response time (minutes)",
        stats.response_bins,
        empty="No published call flight has reached its scene yet",
    )
    title = escape(f"{agency_name}: drone flight log")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/transparency/portal.css">
</head>
<body>
<header><h1>{title}</h1>
<p>Every published flight of the agency's drone program. Download the log as
<a href="/transparency/flights.json">JSON</a> or <a href="/transparency/flights.csv">CSV</a>.</p>
</header>
<main>
<section id="figures"><h2>Outcomes</h2>
<ul>
<li>Published flights: <span id="flight-count">{stats.flights}</span></li>
<li>Median response time: {escape(_minutes(stats.median_response_s))}</li>
<li>Drone first on scene: {escape(_share(stats.drone_first, stats.drone_first_known))}</li>
<li>Calls cleared without an officer: {escape(_share(stats.cleared_without_officer, stats.cleared_known))}</li>
</ul>
<div class="charts"><figure>{weekly}<figcaption>Flights per week</figcaption></figure>
<figure>{response}<figcaption>Response time, CAD received to drone on scene</figcaption></figure></div>
</section>
<section id="log"><h2>Flights</h2>{table}</section>
<section id="definitions"><h2>Definitions</h2><dl>{definitions}</dl></section>
</main>
</body>
</html>
"""


PORTAL_CSS = """body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem;color:#111}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ccc;padding:.3rem .5rem;text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}svg.chart{max-width:100%;height:auto}
dt{font-weight:600}dd{margin:0 0 .5rem 1rem}
"""
