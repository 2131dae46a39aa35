"""What planners receive: maps, a self-contained HTML report, a QGIS project, PostGIS.

>>> from iptown_gis.report import build_report
>>> build_report("out")            # doctest: +SKIP  (maps, out/report.html, out/iptown.qgz)

The functions work generically over the outputs a run registered (``manifest.json``), so a
report can be rebuilt for any run folder; see ``docs/report.md``.
"""

from iptown_gis.report.build import build_report, load_context
from iptown_gis.report.catalogue import Item, RunInfo, catalogue, collect_run
from iptown_gis.report.config import ReportConfig

__all__ = ["Item", "ReportConfig", "RunInfo", "build_report", "catalogue", "collect_run", "load_context"]
