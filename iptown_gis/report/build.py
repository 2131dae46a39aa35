"""Build everything planners receive from a run: maps, ``report.html``, ``iptown.qgz``."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from iptown_gis.errors import DataNotFoundError, IptownError
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.report.catalogue import RunInfo, catalogue, collect_run
from iptown_gis.report.config import ReportConfig
from iptown_gis.study.labels import humanise

__all__ = ["build_report", "load_context"]

log = logging.getLogger(__name__)


def load_context(info: RunInfo, names: Sequence[str], *, ctx: Any = None) -> list[tuple[str, Any, str]]:
    """Context layers ``(name, GeoDataFrame in the study CRS, "FILE|layername=L")`` for the maps.

    From the running study (``ctx.layer``) or from the run's scenario file; inputs the scenario
    does not define are skipped (logged).

    Parameters
    ----------
    info
        The run: its ``scenario_path`` (read when there is no ``ctx``) and ``crs`` (the study
        CRS the layers are projected to; else the scenario's ``[study] crs``).
    names
        Names of scenario inputs to show as map context (e.g. ``["roads", "counties"]``).
    ctx
        The running :class:`~iptown_gis.pipeline.StudyContext` (``None``: read the inputs
        from the scenario file).

    Returns
    -------
    list of (str, geopandas.GeoDataFrame, str)
        One entry per layer read, in the order of ``names``; empty when the scenario cannot be
        read. A layer that fails to read is skipped with a warning, not raised.
    """
    out: list[tuple[str, Any, str]] = []
    scen = getattr(ctx, "scenario", None)
    if scen is None and info.scenario_path is not None and Path(info.scenario_path).is_file():
        from iptown_gis.scenario import load_scenario

        try:
            scen = load_scenario(info.scenario_path, check=False)
        except IptownError as exc:
            log.warning("report: cannot read the run's scenario %s: %s", info.scenario_path, exc)
    if scen is None:
        return out
    for name in names:
        if name not in scen.inputs:
            log.info("report: context layer %r is not an input of the scenario; skipped", name)
            continue
        try:
            if ctx is not None:
                gdf = ctx.layer(name)
            else:
                from iptown_gis.crs.metric import to_metric
                from iptown_gis.io.vector import read_vector

                inp = scen.input(name)
                gdf = read_vector(scen.input_path(name), layer=inp.layer, metric=False, name=f"input {name!r}")
                gdf = to_metric(gdf, crs=info.crs or scen.study.crs, name=f"input {name!r}")
        except IptownError as exc:
            log.warning("report: context layer %r skipped: %s", name, exc)
            continue
        inp = scen.input(name)
        uri = str(scen.input_path(name).resolve()) + (f"|layername={inp.layer}" if inp.layer else "")
        out.append((name, gdf, uri))
    return out


def build_report(
    run_dir: str | os.PathLike[str] | None = None,
    *,
    config: ReportConfig | None = None,
    info: RunInfo | None = None,
    ctx: Any = None,
    progress: ProgressCallback | Progress | None = None,
) -> dict[str, Any]:
    """Maps (PNG, PDF), ``report.html`` and ``iptown.qgz`` for a run.

    Parameters
    ----------
    run_dir
        A finished run folder (with ``manifest.json``); or ``None`` with ``info`` given.
    config
        The ``[report]`` options (default: the defaults of :class:`ReportConfig`).
    info
        The run as a :class:`RunInfo` (the pipeline stage passes the live context's).
    ctx
        The running :class:`~iptown_gis.pipeline.StudyContext`, for its input layers.
    progress
        Progress/cancellation callback.

    Returns
    -------
    dict
        ``{"html": Path|None, "maps": [Path, ...], "qgis_project": Path|None,
        "styles": [Path, ...], "layers": [str, ...]}``.

    Raises
    ------
    DataNotFoundError
        The run folder is missing or has no outputs to present.
    """
    cfg = config or ReportConfig()
    prog = as_progress(progress)
    if info is None:
        if run_dir is None:
            raise DataNotFoundError("build_report needs a run folder (or a RunInfo)")
        info = collect_run(run_dir)
    items = catalogue(info)
    presentable = [it for it in items if it.role != "summary"]
    if not presentable:
        raise DataNotFoundError(
            f"run folder {str(info.out_dir)!r} has no maps, layers or tables to report on: run the "
            "network, surfaces, sites or zoning stages first"
        )
    out = info.out_dir
    prog.update(0.02, "context layers")
    context = load_context(info, cfg.context_layers, ctx=ctx)
    ctx_gdfs = [g for _, g, _ in context]
    result: dict[str, Any] = {"html": None, "maps": [], "qgis_project": None, "styles": [], "layers": []}
    maps: list[dict[str, Any]] = []
    links: list[tuple[str, str]] = []
    # The QGIS project is written by a QGIS subprocess: start it first, in a thread that only
    # waits for that process, and draw the maps meanwhile (the two use different cores).
    pool = None
    project = None
    if cfg.qgis_project:
        from iptown_gis.report.qgis_project import write_qgis_project, write_qml_styles

        prog.update(0.03, "QGIS styles and project")
        styles = write_qml_styles(items)
        result["styles"] = sorted(set(styles.values()))
        extent = None
        if ctx_gdfs and ctx_gdfs[0] is not None and len(ctx_gdfs[0]) and info.crs:
            extent = [float(v) for v in ctx_gdfs[0].to_crs(info.crs).total_bounds]  # open on the province
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="iptown-qgz")
        project = pool.submit(write_qgis_project, items, out / "iptown.qgz", styles=styles, crs=info.crs,
                              title=info.title, context=[(humanise(n), uri) for n, _, uri in context],
                              extent=extent)
    try:
        if cfg.maps and cfg.formats:
            from iptown_gis.report.maps import make_maps

            maps = make_maps(items, out / "report" / "maps", context=ctx_gdfs, crs=info.crs, formats=cfg.formats,
                             dpi=cfg.dpi, attribution=cfg.attribution, progress=prog.sub(0.05, 0.6))
            result["maps"] = [f for m in maps for f in m["files"]]
        if project is not None:
            prog.update(0.6, "QGIS project")
            qgz = project.result()
            result["qgis_project"] = qgz
            if qgz is not None:
                links.append(("QGIS project (open in QGIS 3.22+)", "iptown.qgz"))
    finally:
        if pool is not None:  # on an error: let the QGIS process finish before the run is rolled back
            pool.shutdown(wait=True)
    if cfg.html:
        from iptown_gis.report.html import write_html_report

        compare = []
        for other in cfg.compare:
            p = Path(other)
            if not p.is_absolute() and info.scenario_path is not None:
                p = Path(info.scenario_path).parent / p
            oi = collect_run(p)
            compare.append((p.name, oi, catalogue(oi)))
        html_path = write_html_report(
            info, items, maps, out / "report.html", title=cfg.title or info.title,
            context=[(n.replace("_", " ").capitalize(), g) for n, g, _ in context[:1]], web=cfg.web_map,
            basemap=cfg.basemap, attribution=cfg.attribution, max_table_rows=cfg.max_table_rows,
            compare=compare, extra_links=links, progress=prog.sub(0.75, 1.0))
        result["html"] = html_path
    prog.update(1.0, "report done")
    return result
