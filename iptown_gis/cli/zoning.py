"""``iptown zoning``: "one body, two wings" layouts."""

from __future__ import annotations

import re
from pathlib import Path

import click

from iptown_gis.cli._common import echo_json, output_path, progress_bar
from iptown_gis.errors import ParameterError

_AREA = re.compile(r"^\s*([0-9.eE+-]+)\s*(km2|ha|m2)\s*$")


def _size(text: str, what: str) -> tuple[float, str]:
    """A size: a cell count (``120``) or an area (``3km2``, ``250ha``, ``40000m2``)."""
    m = _AREA.match(text)
    try:
        if m:
            v = float(m.group(1)) * {"km2": 1e6, "ha": 1e4, "m2": 1.0}[m.group(2)]
            return v, "area"
        return float(text), "cells"
    except ValueError:
        raise ParameterError(f"--{what} {text!r}: give a cell count (120) or an area (3km2, 250ha, 40000m2)") from None


@click.group("zoning")
def group() -> None:
    """Lay out a town as "one body, two wings" (body with seven IP modules, two wings)."""


@group.command("optimise")
@click.option("--cells", "cells_spec", required=True, help="Cell polygons FILE[:LAYER] (grid or parcels).")
@click.option("--body", required=True, help="Body size: cells (N) or area (e.g. 3km2, 250ha).")
@click.option("--wing-east", required=True, help="East wing (cultural copyright) size.")
@click.option("--wing-west", required=True, help="West wing (industrial property) size.")
@click.option("--suit-body", required=True, help="Suitability column for the body.")
@click.option("--suit-east", required=True, help="Suitability column for the east wing.")
@click.option("--suit-west", required=True, help="Suitability column for the west wing.")
@click.option("--exclude", default=None, help="Column: truthy = excluded cell.")
@click.option("--axis-bearing", type=float, default=90.0, show_default=True,
              help="Bearing (deg) from the west wing towards the east wing.")
@click.option("--tolerance", type=float, default=0.0, show_default=True, help="Relative size tolerance.")
@click.option("--compactness", type=float, default=0.0, show_default=True, help="Compactness weight.")
@click.option("--method", type=click.Choice(["exact", "heuristic", "auto"]), default="auto", show_default=True)
@click.option("--time-limit", type=float, default=60.0, show_default=True, help="Seconds.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--modules/--no-modules", default=False, show_default=True, help="Also lay out the 7 modules.")
@click.option("--crs", default=None, help="Metric CRS when the cells are in degrees (default: UTM).")
@click.option("--largest-component", is_flag=True, help="Exclude usable cells outside the largest connected area.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), callback=output_path(folder=True),
              help="Output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def optimise(cells_spec: str, body: str, wing_east: str, wing_west: str, suit_body: str, suit_east: str,
             suit_west: str, exclude: str | None, axis_bearing: float, tolerance: float, compactness: float,
             method: str, time_limit: float, seed: int, modules: bool, crs: str | None, largest_component: bool,
             out_dir: Path, as_json: bool) -> None:
    """Optimise a layout on given cells and write layout.geojson/.gpkg, summary.json, a map, styles."""
    from iptown_gis.io.vector import read_vector
    from iptown_gis.zoning import ZoningModel, cells_from_polygons, layout_modules, write_layout

    sizes = [_size(body, "body"), _size(wing_east, "wing-east"), _size(wing_west, "wing-west")]
    kinds = {k for _, k in sizes}
    if len(kinds) > 1:
        raise ParameterError("give all three sizes as cell counts or all as areas, not a mix")
    gdf = read_vector(cells_spec, name="cells", crs=crs, geom_types=("Polygon",))
    cells = cells_from_polygons(gdf, exclude=exclude)
    if largest_component:
        cells.keep_largest_component()
    model = ZoningModel.districts(
        cells, suit_body=suit_body, suit_east=suit_east, suit_west=suit_west, body=sizes[0][0],
        wing_east=sizes[1][0], wing_west=sizes[2][0], tolerance=tolerance, measure=kinds.pop(),
        axis_bearing=axis_bearing, compactness_weight=compactness)
    with progress_bar("zoning optimise") as cb:
        model.solve(method=method, time_limit=time_limit, seed=seed, progress=cb)
        mm = mlab = None
        if modules:
            assert model.labels_ is not None
            mm, mlab = layout_modules(cells, model.labels_, method="heuristic", time_limit=time_limit, seed=seed)
    write_layout(out_dir, cells, model, module_model=mm, module_labels=mlab)
    if as_json:
        echo_json(model.summary())
    else:
        click.echo(f"{model.method_}: objective {model.objective_:.6g}, bound {model.bound_:.6g}, gap "
                   f"{model.gap_:.3g}, status {model.status_}, {model.time_:.1f} s; wrote {out_dir}")


@group.command("layout")
@click.argument("scenario", required=False, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), callback=output_path(folder=True),
              help="Output folder.")
@click.option("--with-upstream", is_flag=True,
              help="Run the network, surfaces and sites stages first (otherwise the documented fallbacks).")
def layout(scenario: Path | None, out_dir: Path, with_upstream: bool) -> None:
    """Lay out the town of SCENARIO's [zoning] section (default: the bundled Anhui study) into --out.

    Writes layout.geojson/.gpkg, summary.json, layout.png and the QML styles into --out itself
    (a second and later chosen town into --out/town_<no>/) and a manifest.json of the run.
    """
    from iptown_gis.errors import ScenarioError
    from iptown_gis.pipeline import run_scenario
    from iptown_gis.scenario import load_scenario

    scen = load_scenario(scenario)
    if not scen.has("zoning"):
        raise ScenarioError(f"{scen.source.name}: no [zoning] section")
    stages = ["network", "neg", "surfaces", "sites", "zoning"] if with_upstream else ["zoning"]
    with progress_bar("zoning layout") as cb:
        # --out DIR means DIR: the layout files go there (towns 2.. to DIR/town_<no>/, the stages before
        # zoning of --with-upstream to DIR/<stage>/)
        manifest = run_scenario(scen, out_dir, stages=stages, progress=cb, stage_dirs={"zoning": out_dir})
    click.echo(f"layout written to {out_dir} in {manifest['timings_s']['total']:.1f} s")
