"""``iptown network``: build networks, OD cost matrices and isochrones from any region's data."""

from __future__ import annotations

from pathlib import Path

import click

from iptown_gis.cli._common import (
    IptownGroup,
    echo_json,
    executor_options,
    make_executor,
    memory_budget_option,
    output_path,
    progress_bar,
)


@click.group("network", cls=IptownGroup)
def group() -> None:
    """Transport networks: build, OD cost matrices, isochrones."""


def _road_options(func):  # type: ignore[no-untyped-def]
    opts = [
        click.option("--roads", required=True, metavar="FILE[:LAYER]",
                     help="Road lines (Shapefile/GeoPackage/GeoJSON)."),
        click.option("--railways", metavar="FILE[:LAYER]", default=None,
                     help="Rail lines, joined to roads at --stations."),
        click.option("--stations", metavar="FILE[:LAYER]", default=None, help="Road<->rail transfer points."),
        click.option("--crs", default=None, help="Metric CRS (default: the roads' own, else their UTM zone)."),
        click.option("--default-speed", type=float, default=60.0, show_default=True,
                     help="km/h for roads without class or speed."),
        click.option("--speed", "speed_overrides", multiple=True, metavar="CLASS=KMH",
                     help="Override a class speed (repeatable), e.g. --speed 国道=80."),
        click.option("--length-field", default=None, help="Edge length column (default: geometry length)."),
        click.option("--length-unit", type=click.Choice(["m", "km", "mi", "ft"]), default="km", show_default=True),
        click.option("--snap-tolerance", type=float, default=1.0, show_default=True,
                     help="Join line ends closer than this (m)."),
        click.option("--split-crossings", is_flag=True, help="Split lines at shared interior vertices."),
        click.option("--transfer-penalty", type=float, default=15.0, show_default=True,
                     help="Minutes per road<->rail transfer."),
    ]
    for o in reversed(opts):
        func = o(func)
    return func


def _speeds(pairs: tuple[str, ...]) -> dict[str, float]:
    from iptown_gis.errors import ParameterError

    out = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        try:
            out[k.strip()] = float(v)
        except ValueError:
            sep = ""
        if not sep or not k.strip():
            raise ParameterError(f"--speed {p!r}: write CLASS=KMH, e.g. --speed primary=70")
    return out


def _build(roads, railways, stations, crs, default_speed, speed_overrides, length_field, length_unit,
           snap_tolerance, split_crossings, transfer_penalty, cb):
    from iptown_gis.network import build_network

    return build_network(roads, railways=railways, stations=stations, crs=crs, default_speed_kmh=default_speed,
                         speeds=_speeds(speed_overrides), length_field=length_field, length_unit=length_unit,
                         snap_tolerance=snap_tolerance, split_crossings=split_crossings,
                         transfer_penalty_min=transfer_penalty, progress=cb)


@group.command("build")
@_road_options
@click.option("--out", required=True, type=click.Path(path_type=Path), callback=output_path("geopackage"),
              help="Output GeoPackage (nodes, edges).")
def build_cmd(out, **kw):
    """Build a network from road (and rail) lines and write it as a GeoPackage."""
    from iptown_gis.network import write_network

    with progress_bar("network build") as cb:
        net = _build(**kw, cb=cb)
        write_network(net, out)
    k, lab = net.components()
    echo_json({"nodes": net.n_nodes, "edges": net.n_edges, "components": k,
               "largest_component_nodes": int((lab == 0).sum()), "crs": net.crs.to_string(), "out": str(out)})


@group.command("od")
@_road_options
@click.option("--origins", required=True, metavar="FILE[:LAYER]", help="Origin points.")
@click.option("--destinations", metavar="FILE[:LAYER]", default=None, help="Destination points (default: origins).")
@click.option("--id-field", default=None, help="Unique id column of the points (default: row number).")
@click.option("--weight", type=click.Choice(["length", "time"]), default="time", show_default=True,
              help="Cost: length (metres) or time (minutes).")
@click.option("--snap", type=click.Choice(["node", "edge"]), default="node", show_default=True)
@click.option("--access-speed", type=float, default=30.0, show_default=True, help="km/h on the access legs.")
@click.option("--max-snap", type=float, default=10000.0, show_default=True,
              help="Report points farther than this from the network (m).")
@click.option("--drop-far", is_flag=True, help="Drop points beyond --max-snap instead of failing.")
@click.option("--cutoff", type=float, default=None, help="Largest cost to compute (farther pairs are empty).")
@click.option("--largest-component", is_flag=True, help="Snap points to the largest connected component only.")
@click.option("--out", required=True, type=click.Path(path_type=Path), callback=output_path("matrix"),
              help="Output .csv (long: origin_id,destination_id,cost), .parquet or .npz.")
@click.option("--method", type=click.Choice(["auto", "core", "plain", "overlay"]), default="auto",
              show_default=True, help="Shortest-path method; 'overlay' = exact many-to-many for large point sets.")
@memory_budget_option(help="Memory per Dask worker (default 4GB).")
@executor_options
def od_cmd(origins, destinations, id_field, weight, snap, access_speed, max_snap, drop_far, cutoff,
           largest_component, out, method, memory_budget, scheduler, workers, **kw):
    """OD cost matrix between points, access legs included (metres or minutes)."""
    from iptown_gis.network import load_points, od_matrix

    suffix = out.suffix.lower()  # checked by output_path("matrix") as --out is parsed
    with make_executor(scheduler, workers, memory_budget) as ex, progress_bar("network od") as cb:
        net = _build(**kw, cb=None)
        o = load_points(origins, name="origins", crs=net.crs)
        d = load_points(destinations, name="destinations", crs=net.crs) if destinations else None
        od = od_matrix(net, o, d, id_field=id_field, weight=weight, snap=snap, access_speed_kmh=access_speed,
                       max_snap_distance=max_snap, drop_far=drop_far, cutoff=cutoff,
                       largest_component=largest_component, method=method, executor=ex, progress=cb)
        {".csv": od.to_csv, ".parquet": od.to_parquet, ".npz": od.to_npz}[suffix](out)
    echo_json({"origins": od.shape[0], "destinations": od.shape[1], "weight": weight, "unit": od.unit,
               "unreachable_pairs": od.n_unreachable,
               "max_snap_m": float(max(od.meta["origin_snap_m"].max(), od.meta["destination_snap_m"].max())),
               "out": str(out)})


@group.command("isochrones")
@_road_options
@click.option("--centres", required=True, metavar="FILE[:LAYER]", help="Centre points.")
@click.option("--id-field", default=None, help="Id column of the centres.")
@click.option("--bands", default="15,30,60", show_default=True, help="Comma-separated cost bands.")
@click.option("--weight", type=click.Choice(["length", "time"]), default="time", show_default=True)
@click.option("--buffer", "buffer_m", type=float, default=1000.0, show_default=True,
              help="Corridor half-width around reachable roads (m).")
@click.option("--access-speed", type=float, default=30.0, show_default=True)
@click.option("--max-snap", type=float, default=10000.0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), callback=output_path("layer"),
              help="Output .gpkg / .geojson / .shp.")
@memory_budget_option(help="Memory per Dask worker (default 4GB).")
@executor_options
def isochrones_cmd(centres, id_field, bands, weight, buffer_m, access_speed, max_snap, out, memory_budget,
                   scheduler, workers, **kw):
    """Service-area polygons (travel-time or distance bands) around centres."""
    from iptown_gis.errors import ParameterError
    from iptown_gis.io.vector import write_vector
    from iptown_gis.network import load_points
    from iptown_gis.network.isochrones import isochrones

    try:
        band_list = [float(b) for b in bands.split(",") if b.strip()]
    except ValueError:
        raise ParameterError(f"--bands {bands!r}: give numbers separated by commas, e.g. 15,30,60") from None
    with make_executor(scheduler, workers, memory_budget) as ex, progress_bar("network isochrones") as cb:
        net = _build(**kw, cb=None)
        c = load_points(centres, name="centres", crs=net.crs)
        gdf = isochrones(net, c, bands=band_list, weight=weight, id_field=id_field, buffer_m=buffer_m,
                         access_speed_kmh=access_speed, max_snap_distance=max_snap, executor=ex, progress=cb)
        write_vector(gdf, out, layer="isochrones")
    echo_json({"polygons": len(gdf), "bands": band_list, "out": str(out)})
