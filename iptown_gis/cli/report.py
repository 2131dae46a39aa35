"""``iptown report``: maps, report.html and the QGIS project for a run; PostGIS publishing."""

from __future__ import annotations

from pathlib import Path

import click

from iptown_gis.cli._common import IptownGroup, echo_json, progress_bar


@click.group(name="report", cls=IptownGroup)
def group() -> None:
    """Build what planners receive from a run folder, or publish it to PostGIS."""


@group.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "formats", multiple=True, type=click.Choice(["png", "pdf"]),
              help="Map formats (default: png and pdf; repeatable).")
@click.option("--dpi", type=click.IntRange(50, 600), default=None, help="PNG resolution (default 150).")
@click.option("--no-maps", is_flag=True, help="Skip the PNG/PDF maps.")
@click.option("--no-qgis", is_flag=True, help="Skip the QGIS project (QML styles are still written).")
@click.option("--no-web-map", is_flag=True, help="No interactive map in report.html.")
@click.option("--basemap", type=click.Choice(["none", "osm"]), default=None,
              help="Web-map background: none (offline, default) or osm (needs the internet).")
@click.option("--compare", "compare", multiple=True, type=click.Path(path_type=Path),
              help="Another run folder to compare key figures with (repeatable).")
@click.option("--title", default=None, help="Report title (default: the study name).")
def build(run_dir: Path, formats: tuple[str, ...], dpi: int | None, no_maps: bool, no_qgis: bool,
          no_web_map: bool, basemap: str | None, compare: tuple[Path, ...], title: str | None) -> None:
    """Write RUN_DIR/report.html, RUN_DIR/report/maps/*.png|pdf and RUN_DIR/iptown.qgz.

    The options of the run's [report] section are used when the scenario has one; the
    command-line options override them.
    """
    from iptown_gis.report import build_report, collect_run
    from iptown_gis.report.config import ReportConfig

    info = collect_run(run_dir)
    cfg = ReportConfig()
    raw = (info.parameters or {}).get("report")
    if isinstance(raw, dict):
        try:
            cfg = ReportConfig.model_validate({k: v for k, v in raw.items() if k in ReportConfig.model_fields})
        except Exception:
            cfg = ReportConfig()
    updates: dict = {}
    if formats:
        updates["formats"] = list(formats)
    if dpi is not None:
        updates["dpi"] = dpi
    if no_maps:
        updates["maps"] = False
    if no_qgis:
        updates["qgis_project"] = False
    if no_web_map:
        updates["web_map"] = False
    if basemap is not None:
        updates["basemap"] = basemap
    if compare:
        updates["compare"] = [str(p.resolve()) for p in compare]
    if title is not None:
        updates["title"] = title
    cfg = cfg.model_copy(update=updates)
    with progress_bar("iptown report build") as cb:
        res = build_report(config=cfg, info=info, progress=cb)
    echo_json({"html": str(res["html"]) if res["html"] else None, "maps": len(res["maps"]),
               "qgis_project": str(res["qgis_project"]) if res["qgis_project"] else None,
               "styles": len(res["styles"])})


@group.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", "url", required=True, metavar="postgresql://USER:PW@HOST:PORT/DB",
              help="The PostGIS database.")
@click.option("--schema", default="iptown", show_default=True, help="Schema to create for the layers.")
@click.option("--overwrite", is_flag=True, help="Replace the schema if it exists.")
def publish(run_dir: Path, url: str, schema: str, overwrite: bool) -> None:
    """Write every vector layer and table of RUN_DIR to a PostGIS schema in one transaction."""
    from iptown_gis.report import collect_run
    from iptown_gis.report.postgis import publish_run

    info = collect_run(run_dir)
    with progress_bar("iptown report publish") as cb:
        res = publish_run(info, url, schema=schema, overwrite=overwrite, progress=cb)
    echo_json(res)


@group.command(name="read")
@click.option("--from", "url", required=True, metavar="postgresql://...", help="The PostGIS database.")
@click.option("--schema", default="iptown", show_default=True)
@click.argument("table")
@click.argument("out", type=click.Path(path_type=Path))
def read_cmd(url: str, schema: str, table: str, out: Path) -> None:
    """Read SCHEMA.TABLE from PostGIS into the file OUT (.gpkg, .geojson, .csv, ...)."""
    from iptown_gis.io.postgis import read_layer
    from iptown_gis.io.vector import parse_layer_spec, write_vector

    df = read_layer(url, table, schema=schema)
    spec = parse_layer_spec(str(out))
    if hasattr(df, "geometry"):
        write_vector(df, spec.path, layer=spec.layer or table)
    else:
        df.to_csv(spec.path, index=False)
    echo_json({"rows": len(df), "out": str(spec)})
