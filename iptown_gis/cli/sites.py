"""``iptown sites``: rank candidate sites and choose k towns (p-median / MCLP with HiGHS)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from iptown_gis.cli._common import IptownGroup, echo_json, executor_options, make_executor, progress_bar

_MODELS = click.Choice(["rank", "mclp", "pmedian"], case_sensitive=False)


@click.group(name="sites", cls=IptownGroup)
def group() -> None:
    """Rank candidate sites for IP characteristic towns and choose k of them."""


def parse_standard(text: str | None, default_cost: str) -> tuple[float | None, str]:
    """``"45min"``, ``"1.5h"``, ``"5km"``, ``"5000m"`` or a bare number -> (value, cost kind).

    A bare number is in the unit of ``default_cost`` (minutes for ``time``, metres for ``length``).
    """
    from iptown_gis.errors import ParameterError

    if text is None:
        return None, default_cost
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not m:
        raise ParameterError(f"--standard {text!r}: give a number with an optional unit (45min, 1.5h, 5km, 5000m)")
    value, unit = float(m.group(1)), m.group(2).lower()
    if value <= 0:
        raise ParameterError(f"--standard must be positive, got {text!r}")
    if unit in ("", ):
        return value, default_cost
    if unit in ("min", "mins", "minute", "minutes"):
        return value, "time"
    if unit in ("h", "hr", "hour", "hours"):
        return value * 60.0, "time"
    if unit in ("m", "metre", "metres", "meter", "meters"):
        return value, "length"
    if unit in ("km", "kilometre", "kilometres"):
        return value * 1000.0, "length"
    raise ParameterError(f"--standard {text!r}: unknown unit {unit!r}; use min, h, m or km")


def _parse_weights(items: tuple[str, ...]) -> dict[str, float]:
    from iptown_gis.errors import ParameterError

    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ParameterError(f"--weight {item!r}: use NAME=NUMBER, e.g. --weight gdp=0.3") from None
    return out


def _context(scenario: Path | None, out_dir: Path, cb: Any, executor: Any = None) -> Any:
    """A study context with the stages before ``sites`` already run (network, neg, surfaces)."""
    from iptown_gis.io.atomic import ensure_writable_dir
    from iptown_gis.pipeline import StudyContext, run_stages
    from iptown_gis.progress import as_progress
    from iptown_gis.scenario import load_scenario

    scen = load_scenario(scenario)
    if not scen.has("sites"):
        from iptown_gis.errors import ScenarioError

        raise ScenarioError(f"{scen.source.name}: no [sites] section; add one (see docs/sites.md)")
    out = ensure_writable_dir(out_dir)
    # --out DIR means DIR: the sites files go there, the stages before it to DIR/<stage>/
    ctx = StudyContext(scenario=scen, out_dir=out, executor=executor, stage_dirs={"sites": out})
    prog = as_progress(cb)
    run_stages(ctx, before="sites", progress=prog.sub(0.0, 0.6))
    return ctx, prog


@group.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--weight", "weights", multiple=True, metavar="NAME=W",
              help="Override a criterion weight (repeatable).")
@executor_options
def rank(scenario: Path | None, out_dir: Path, weights: tuple[str, ...], scheduler: str | None,
         workers: int | None) -> None:
    """Rank the candidates of SCENARIO (default: the bundled Anhui study) into --out.

    Runs the network, NEG and surfaces stages the scenario has, computes every criterion,
    scores and ranks the candidates and reports how robust the ranks are to the weights.
    """
    from iptown_gis.sites.candidates import SITE_ID
    from iptown_gis.sites.stage import rank_stage, write_stage_outputs

    w = _parse_weights(weights)
    with make_executor(scheduler, workers) as ex, progress_bar("iptown sites rank") as cb:
        ctx, prog = _context(scenario, out_dir, cb, ex)
        res = rank_stage(ctx, prog.sub(0.6, 0.95), weights=w or None)
        write_stage_outputs(ctx, None)
    ranked = res.ranked
    assert ranked is not None  # rank_stage always ranks
    cols = [c for c in (SITE_ID, "score", "rank", "p_top_k", "rank_p05", "rank_p95") if c in ranked.columns]
    echo_json({"candidates": len(ranked), "criteria": res.criteria, "skipped": res.skipped,
               "top": ranked[cols].head(10).to_dict(orient="records"),
               "outputs": {k: str(v) for k, v in (res.paths or {}).items()}})


@group.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path))
@click.option("--k", "k", type=click.IntRange(min=1), default=None, help="Number of towns (default: scenario's).")
@click.option("--model", type=_MODELS, default=None, help="rank (greedy by score), mclp or pmedian.")
@click.option("--standard", default=None, metavar="METRES_OR_MINUTES",
              help="Coverage standard: 45min, 1.5h, 5km, 5000m; a bare number is in the --cost unit.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--candidates", "cand_spec", default=None, metavar="FILE[:LAYER]",
              help="Direct form: candidate points or polygons (any region).")
@click.option("--demand", "demand_spec", default=None, metavar="FILE[:LAYER]", help="Direct form: demand layer.")
@click.option("--weight-field", default=None, metavar="COL", help="Direct form: demand weight column.")
@click.option("--roads", "roads_spec", default=None, metavar="FILE[:LAYER]", help="Direct form: road lines.")
@click.option("--id-field", default=None, metavar="COL", help="Direct form: unique candidate id column.")
@click.option("--cost", type=click.Choice(["length", "time"]), default=None,
              help="Direct form: network cost (default: from --standard's unit, else length).")
@click.option("--min-spacing", type=float, default=None, help="Direct form: minimum cost between chosen towns.")
@click.option("--group-field", default=None, metavar="COL", help="Direct form: candidate group (prefecture) column.")
@click.option("--max-per-group", type=click.IntRange(min=1), default=None, help="Direct form: at most N per group.")
@click.option("--max-snap", type=float, default=10_000.0, show_default=True,
              help="Direct form: metres from a point to the roads before it is an error.")
@click.option("--time-limit", type=float, default=None, help="HiGHS time limit in seconds (default: none).")
@executor_options
def select(scenario: Path | None, k: int | None, model: str | None, standard: str | None, out_dir: Path,
           cand_spec: str | None, demand_spec: str | None, weight_field: str | None, roads_spec: str | None,
           id_field: str | None, cost: str | None, min_spacing: float | None, group_field: str | None,
           max_per_group: int | None, max_snap: float, time_limit: float | None, scheduler: str | None,
           workers: int | None) -> None:
    """Choose K towns: from SCENARIO (default: the bundled study), or directly from layers.

    \b
    Scenario form:  iptown sites select SCENARIO --k 3 --model mclp --out DIR
    Direct form:    iptown sites select --candidates seats.gpkg --demand places.gpkg
                      --weight-field population --roads roads.gpkg --k 3 --model pmedian
                      --id-field adcode --out DIR
    The direct form writes DIR/selected.csv (chosen ids and the objective), selected.geojson,
    assignment.csv and summary.json; the scenario form writes the sites files into DIR itself
    (the stages it runs first into DIR/<stage>/).
    """
    direct = [cand_spec, demand_spec, roads_spec]
    if any(v is not None for v in direct):
        if scenario is not None:
            raise click.UsageError("give either SCENARIO or --candidates/--demand/--roads, not both")
        if not all(v is not None for v in direct):
            raise click.UsageError("the direct form needs --candidates, --demand and --roads")
        if k is None:
            raise click.UsageError("the direct form needs --k")
        _select_direct(cand_spec, demand_spec, roads_spec, k=k, model=(model or "pmedian").lower(),  # type: ignore[arg-type]
                       standard=standard, out_dir=out_dir, weight_field=weight_field, id_field=id_field,
                       cost=cost, min_spacing=min_spacing, group_field=group_field,
                       max_per_group=max_per_group, max_snap=max_snap, time_limit=time_limit,
                       scheduler=scheduler, workers=workers)
        return
    from iptown_gis.sites.stage import select_stage, sites_config, write_stage_outputs

    with make_executor(scheduler, workers) as ex, progress_bar("iptown sites select") as cb:
        ctx, prog = _context(scenario, out_dir, cb, ex)
        cfg = sites_config(ctx)
        value, kind = parse_standard(standard, cfg.cost)
        if standard is not None and kind != cfg.cost:
            from iptown_gis.errors import ParameterError

            raise ParameterError(
                f"--standard {standard!r} is a {kind} but the scenario measures {cfg.cost}; "
                f"give it in {'minutes' if cfg.cost == 'time' else 'metres'}"
            )
        sel = select_stage(ctx, prog.sub(0.6, 0.9), k=k, model=model.lower() if model else None, standard=value)
        write_stage_outputs(ctx, sel)
    echo_json({"selection": sel.summary, "outputs": {kk: str(v) for kk, v in (ctx.sites.paths or {}).items()}})


def _select_direct(cand_spec: str, demand_spec: str, roads_spec: str, *, k: int, model: str,
                   standard: str | None, out_dir: Path, weight_field: str | None, id_field: str | None,
                   cost: str | None, min_spacing: float | None, group_field: str | None,
                   max_per_group: int | None, max_snap: float, time_limit: float | None,
                   scheduler: str | None = None, workers: int | None = None) -> None:
    import json

    import numpy as np

    from iptown_gis.errors import ColumnError, ParameterError
    from iptown_gis.io.atomic import atomic_path, ensure_writable_dir
    from iptown_gis.io.vector import read_vector, write_vector
    from iptown_gis.network import build_network
    from iptown_gis.sites.candidates import SITE_ID, candidates_from_layer
    from iptown_gis.sites.select import json_default
    from iptown_gis.sites.workflow import demand_points, select_on_network

    value, kind = parse_standard(standard, cost or "length")
    if cost is not None and standard is not None and kind != cost:
        raise ParameterError(f"--standard {standard!r} is a {kind}, but --cost is {cost}")
    if model == "rank":
        raise ParameterError("the direct form chooses with a location model: use --model pmedian or mclp")
    if model == "mclp" and value is None:
        raise ParameterError("--model mclp needs --standard (e.g. 30min or 20km)")
    out = ensure_writable_dir(out_dir)
    with make_executor(scheduler, workers) as ex, progress_bar("iptown sites select") as cb:
        from iptown_gis.progress import as_progress

        prog = as_progress(cb)
        cand_raw = read_vector(cand_spec, name=f"--candidates {cand_spec!r}", geom_types=("Point", "Polygon"))
        crs = cand_raw.crs
        cands = candidates_from_layer(cand_raw, id_field=id_field, name=f"--candidates {cand_spec!r}")
        demand = read_vector(demand_spec, name=f"--demand {demand_spec!r}", crs=crs)
        if demand.crs != crs:
            demand = demand.to_crs(crs)
        demand = demand_points(demand)
        if weight_field is not None:
            if weight_field not in demand.columns:
                raise ColumnError(f"--weight-field {weight_field!r}: the demand layer has no such column; columns "
                                  f"are: {', '.join(str(c) for c in demand.columns if c != demand.geometry.name)}")
            w = demand[weight_field].to_numpy(dtype=float)
        else:
            w = np.ones(len(demand))
        if group_field is not None and group_field not in cands.columns:
            raise ColumnError(f"--group-field {group_field!r}: the candidates have no such column")
        if max_per_group is not None and group_field is None:
            raise ParameterError("--max-per-group needs --group-field")
        roads = read_vector(roads_spec, name=f"--roads {roads_spec!r}", crs=crs, geom_types=("LineString",))
        prog.update(0.05, "building the network")
        net = build_network(roads.to_crs(crs) if roads.crs != crs else roads)
        opts: dict[str, Any] = {"max_snap_distance": max_snap, "largest_component": True}
        prog.update(0.2, "network costs")
        sel = select_on_network(cands, k=k, model=model, network=net, demand=demand,  # type: ignore[arg-type]
                                demand_weights=w, cost=kind, standard=value, min_spacing=min_spacing,
                                prefecture_field=group_field, max_per_prefecture=max_per_group,
                                time_limit=time_limit, network_options={**opts, "executor": ex},
                                spacing_options=opts, progress=prog.sub(0.2, 0.95))
    s = sel.summary
    s["cost_unit"] = "min" if kind == "time" else "m"
    table = sel.selected.copy()
    ll = table.to_crs(4326)
    table["lon"] = np.round(ll.geometry.x.to_numpy(), 6)
    table["lat"] = np.round(ll.geometry.y.to_numpy(), 6)
    for key in ("model", "objective", "status", "gap"):
        table[key] = s.get(key)
    keep = ["choice", SITE_ID, *(c for c in ("demand_served", "demand_covered") if c in table.columns),
            "objective", "model", "status", "gap", "lon", "lat"]
    write_vector(table[[*keep, table.geometry.name]], out / "selected.csv")
    write_vector(table, out / "selected.geojson")
    if sel.assignment is not None:
        with atomic_path(out / "assignment.csv") as tmp:
            sel.assignment.to_csv(tmp, index=False)
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(s, indent=2, ensure_ascii=False, default=json_default), encoding="utf-8")
    echo_json({"selected": s["selected_ids"], "objective": s.get("objective"), "status": s.get("status"),
               "gap": s.get("gap"), "out": str(out / "selected.csv")})
