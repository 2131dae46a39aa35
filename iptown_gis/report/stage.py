"""The ``report`` stage: the last one; maps, ``report.html`` and ``iptown.qgz`` from what exists."""

from __future__ import annotations

import logging

from iptown_gis.pipeline import StudyContext
from iptown_gis.progress import Progress
from iptown_gis.report.build import build_report
from iptown_gis.report.catalogue import RunInfo
from iptown_gis.report.config import ReportConfig
from iptown_gis.stage_results import ReportResult

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(ctx: StudyContext, progress: Progress) -> None:
    """Build the report of the running study from ``ctx.outputs`` and the typed stage results.

    Registers every file it writes (``stage="report"``) and sets ``ctx.report``, a
    :class:`~iptown_gis.stage_results.ReportResult` (``html``, ``maps``, ``qgis_project``,
    ``styles``, ``postgis``). When the earlier stages wrote
    nothing the stage logs a warning and does nothing (``iptown report build`` on such a folder
    is an error instead).
    """
    cfg = ctx.scenario.section("report") or ReportConfig()
    info = RunInfo.from_context(ctx)
    info.outputs = [o for o in info.outputs if (ctx.out_dir / o["path"]).exists()]
    if not info.outputs:
        log.warning("report: the earlier stages wrote no outputs; no report")
        ctx.report = ReportResult()
        return
    res = build_report(config=cfg, info=info, ctx=ctx, progress=progress.sub(0.0, 0.9))
    for p in res["maps"]:
        ctx.add_output(p, stage="report", kind="figure", description=f"map {p.stem} ({p.suffix[1:].upper()})")
    for p in res["styles"]:
        if str(p).startswith(str(ctx.out_dir)):
            ctx.add_output(p, stage="report", kind="style", description=f"QGIS style of {p.stem}")
    if res["qgis_project"] is not None:
        ctx.add_output(res["qgis_project"], stage="report", kind="project", description="QGIS project")
    if res["html"] is not None:
        ctx.add_output(res["html"], stage="report", kind="report", description="HTML report")
    res["postgis"] = None
    if cfg.postgis:
        from iptown_gis.report.postgis import publish_run

        progress.update(0.9, "publishing to PostGIS")
        res["postgis"] = publish_run(info, cfg.postgis, schema=cfg.postgis_schema, overwrite=cfg.postgis_overwrite)
    ctx.report = ReportResult.from_dict(res)
