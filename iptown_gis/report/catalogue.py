"""What a run produced: registered outputs sorted into map layers, tables, figures and facts.

The report works generically over the outputs the earlier stages registered with
:meth:`iptown_gis.pipeline.StudyContext.add_output` (dicts with ``path``, ``stage``, ``kind``,
``description``), or, for a finished run folder, over ``manifest.json``. Each output becomes
one or more :class:`Item` with a *role* deciding how it is drawn:

``surface``
    a continuous raster (market potential, kernel density, ...);
``hotspots``
    a raster or vector of local statistics (Gi*, local Moran, clusters), drawn diverging;
``sites``
    ranked candidates (a ``rank`` or ``score`` column);
``layout``
    "one body, two wings" districts and modules (``district`` / ``module`` columns);
``vector``
    any other layer (networks, zonal statistics, NEG regions);
``table``, ``figure``, ``summary``
    CSV tables, PNG/SVG figures, JSON summaries.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iptown_gis.errors import DataNotFoundError
from iptown_gis.stage_results import StageResults, result_items
from iptown_gis.study.labels import layer_title

__all__ = ["Item", "RunInfo", "catalogue", "collect_run"]

log = logging.getLogger(__name__)

RASTER_SUFFIXES = {".tif", ".tiff"}
VECTOR_SUFFIXES = {".gpkg", ".geojson", ".shp", ".fgb", ".parquet"}
FIGURE_SUFFIXES = {".png", ".svg", ".jpg", ".jpeg"}
HOTSPOT_WORDS = ("hotspot", "hot_spot", "hot spot", "gistar", "gi_star", "gi*", "getis", "lisa",
                 "moran", "cluster")
LAYOUT_COLUMNS = ("district", "module")
SITE_COLUMNS = ("rank", "score")
#: Folders and files the report itself writes (never treated as inputs to the report).
OWN_PREFIXES = ("report/", "report.html", "iptown.qgz")


@dataclass
class Item:
    """One presentable thing of a run (a layer, a table, a figure, a summary)."""

    path: Path
    role: str
    stage: str = ""
    kind: str = ""
    description: str = ""
    layer: str | None = None
    columns: list[str] = field(default_factory=list)
    geom_type: str | None = None
    n_features: int | None = None

    @property
    def key(self) -> str:
        """A short unique name: ``stem`` or ``stem_layer`` (``town_2_stem...`` in a town's folder)."""
        stem = self.path.stem
        if re.fullmatch(r"town_\d+", self.path.parent.name):
            stem = f"{self.path.parent.name}_{stem}"
        return f"{stem}_{self.layer}" if self.layer and self.layer != stem else stem

    @property
    def title(self) -> str:
        """The planner's title (:mod:`iptown_gis.study.labels`), else from the description or names."""
        known = layer_title(self.stage, self.path, self.layer)
        town = re.match(r"town (\d+) \((.*)\) layout", self.description or "")
        if known and town:  # one layout per chosen town: say which
            return f"Town {town.group(1)}, {town.group(2)}: {known.split(': ', 1)[-1]}"
        if known:
            return known
        if self.description:
            text = self.description.strip().rstrip(".")
            base = text[:1].upper() + text[1:]
            if self.layer and self.layer != self.path.stem and \
                    self.layer.replace("_", " ").lower() not in base.lower().replace("_", " "):
                base = f"{base}: {self.layer}"
            return base
        words = self.key.replace("_", " ").replace("-", " ")
        return words[:1].upper() + words[1:]

    @property
    def is_map_layer(self) -> bool:
        return self.role in ("surface", "hotspots", "sites", "layout", "vector")

    @property
    def is_raster(self) -> bool:
        return self.path.suffix.lower() in RASTER_SUFFIXES


@dataclass
class RunInfo:
    """A run as the report sees it."""

    out_dir: Path
    title: str
    crs: str | None = None
    scenario_path: Path | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    timings: dict[str, Any] = field(default_factory=dict)
    started: str | None = None
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_context(cls, ctx: Any) -> RunInfo:
        """From a running :class:`~iptown_gis.pipeline.StudyContext` (before the manifest)."""
        scen = ctx.scenario
        params = {"study": scen.study.model_dump(),
                  **{k: v.model_dump(mode="json") for k, v in scen.sections.items()}}
        stages = [*list(ctx.timings), "report"]
        info = cls(out_dir=Path(ctx.out_dir), title=scen.study.name, crs=scen.study.crs,
                   scenario_path=Path(scen.source), parameters=params, outputs=list(ctx.outputs),
                   stages=stages, timings=dict(ctx.timings))
        info.facts = result_facts(ctx.stage_results)
        return info


def collect_run(run_dir: str | os.PathLike[str]) -> RunInfo:
    """Describe a finished run folder from its ``manifest.json`` (or its files, when none).

    Raises
    ------
    DataNotFoundError
        The folder does not exist, or holds no outputs the report can present.
    """
    d = Path(run_dir)
    if not d.is_dir():
        raise DataNotFoundError(f"run folder {str(d)!r} does not exist: give the --out folder of `iptown run`")
    man_path = d / "manifest.json"
    if man_path.is_file():
        try:
            man = json.loads(man_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataNotFoundError(f"{str(man_path)!r} is not a readable manifest: {exc}") from exc
        outputs = [o for o in man.get("outputs", []) if not _is_own(o.get("path", ""))]
        scen = man.get("scenario", {}) or {}
        info = RunInfo(
            out_dir=d, title=str(scen.get("name") or d.name), crs=man.get("crs"),
            scenario_path=Path(scen["path"]) if scen.get("path") else None,
            parameters=man.get("parameters", {}), outputs=outputs,
            stages=list(man.get("stages", [])), timings=dict(man.get("timings_s", {})),
            started=man.get("started"),
        )
    else:
        outputs = []
        for p in sorted(d.rglob("*")):
            rel = p.relative_to(d).as_posix()
            if not p.is_file() or p.name.startswith(".") or _is_own(rel):
                continue
            suffix = p.suffix.lower()
            if suffix in RASTER_SUFFIXES | VECTOR_SUFFIXES | FIGURE_SUFFIXES | {".csv", ".json"}:
                stage = rel.split("/")[0] if "/" in rel else ""
                outputs.append({"path": rel, "stage": stage, "kind": "", "description": ""})
        info = RunInfo(out_dir=d, title=d.name, outputs=outputs,
                       stages=sorted({str(o["stage"]) for o in outputs if o["stage"]}))
    existing = [o for o in info.outputs if (d / o["path"]).exists()]
    missing = [o["path"] for o in info.outputs if not (d / o["path"]).exists()]
    if missing:
        log.warning("%s: %d registered output(s) are missing: %s", d, len(missing), ", ".join(missing[:5]))
    info.outputs = existing
    if not existing:
        raise DataNotFoundError(
            f"run folder {str(d)!r} has no outputs to report on (no surfaces, sites, layouts or "
            "tables): run `iptown run --out DIR` first, then `iptown report build DIR`"
        )
    return info


def _is_own(rel: str) -> bool:
    rel = rel.replace(os.sep, "/")
    return rel.startswith(OWN_PREFIXES) or rel.endswith(".qml") or rel == "manifest.json"


def _has_hotspot_word(*texts: str) -> bool:
    low = " ".join(texts).lower()
    return any(w in low for w in HOTSPOT_WORDS)


def _vector_items(base: Path, out: dict[str, Any]) -> list[Item]:
    import pyogrio

    try:
        layers = [str(r[0]) for r in pyogrio.list_layers(base)] if base.suffix.lower() == ".gpkg" else [None]
    except Exception as exc:  # unreadable file: skip it, say so
        log.warning("report: cannot open %s: %s", base, exc)
        return []
    items = []
    for layer in layers:
        try:
            meta = pyogrio.read_info(base, layer=layer)
        except Exception as exc:
            log.warning("report: cannot read %s:%s: %s", base, layer, exc)
            continue
        cols = [str(c) for c in meta["fields"]]
        gtype = meta.get("geometry_type")
        if not gtype:
            items.append(Item(base, "table", out.get("stage", ""), out.get("kind", ""),
                              out.get("description", ""), layer, cols, None, int(meta.get("features", 0))))
            continue
        kind = str(out.get("kind", ""))
        low = [c.lower() for c in cols]
        if kind == "layout" or _is_layout(base, layer, cols):
            role = "layout"
        elif any(c in low for c in SITE_COLUMNS):
            role = "sites"
        elif _has_hotspot_word(base.stem, layer or "", str(out.get("description", ""))):
            role = "hotspots"
        else:
            role = "vector"
        items.append(Item(base, role, out.get("stage", ""), kind, out.get("description", ""), layer,
                          cols, str(gtype), int(meta.get("features", 0))))
    return items


#: Values that mark a "one body, two wings" layout (not e.g. an administrative 'district' name).
LAYOUT_VALUES = {"body", "wing_east", "wing_west", "ip_management", "ip_trading", "ip_services", "ip_education",
                 "think_tank", "ip_culture", "ip_finance"}


def _is_layout(base: Path, layer: str | None, cols: list[str]) -> bool:
    import pyogrio

    use = [c for c in cols if c.lower() in LAYOUT_COLUMNS]
    if not use:
        return False
    try:
        df = pyogrio.read_dataframe(base, layer=layer, columns=use, read_geometry=False, max_features=2000)
    except Exception:
        return False
    return any(bool(df[c].astype(str).isin(LAYOUT_VALUES).any()) for c in use)


def catalogue(info: RunInfo) -> list[Item]:
    """Sort a run's outputs into :class:`Item` objects (one per vector layer).

    A GeoJSON or Shapefile with the same stem as a GeoPackage of the same stage is skipped
    (the stages write both for planning bureaus; the GeoPackage is the richer copy).
    """
    items: list[Item] = []
    outs = info.outputs
    gpkg_stems = {(o.get("stage"), Path(o["path"]).stem) for o in outs
                  if o["path"].lower().endswith((".gpkg", ".csv"))}
    for o in outs:
        p = info.out_dir / o["path"]
        suffix = p.suffix.lower()
        stage, kind, desc = str(o.get("stage", "")), str(o.get("kind", "")), str(o.get("description", ""))
        if suffix in RASTER_SUFFIXES:
            role = "hotspots" if _has_hotspot_word(p.stem, desc) else "surface"
            items.append(Item(p, role, stage, kind, desc))
        elif suffix in VECTOR_SUFFIXES:
            if suffix not in (".gpkg", ".csv") and (o.get("stage"), p.stem) in gpkg_stems:
                continue
            items.extend(_vector_items(p, o))
        elif suffix == ".csv":
            items.append(Item(p, "table", stage, kind, desc))
        elif suffix in FIGURE_SUFFIXES:
            items.append(Item(p, "figure", stage, kind, desc))
        elif suffix == ".json":
            items.append(Item(p, "summary", stage, kind, desc))
    return items


def _scalar(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool)) and not (isinstance(v, str) and len(v) > 120)


def flatten_scalars(obj: Any, *, prefix: str = "", depth: int = 2, limit: int = 40) -> dict[str, Any]:
    """Scalars of a nested dict (``a.b.c`` keys), at most ``limit`` of them."""
    out: dict[str, Any] = {}
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if _scalar(v):
            out[key] = v
        elif isinstance(v, dict) and depth > 0:
            out.update(flatten_scalars(v, prefix=f"{key}.", depth=depth - 1, limit=limit))
        if len(out) >= limit:
            break
    return dict(list(out.items())[:limit])


def result_facts(results: StageResults | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Scalar key figures of the stage results, per result (in the order the stages set them).

    Parameters
    ----------
    results
        The typed results of a run (``ctx.stage_results``); a mapping ``name -> value`` (the old
        ``ctx.results``: dicts, or objects with ``summary``) is read the same way.

    Returns
    -------
    dict
        ``name -> {"key.sub": scalar}`` (``network`` and ``seat_od`` for the network stage; a
        stage result gives the scalars of its fields, as its old dictionary held them).
    """
    facts: dict[str, dict[str, Any]] = {}
    for name, value in result_items(results):
        obj: Any = value
        summary = getattr(value, "summary", None)
        if callable(summary):
            try:
                obj = summary()
            except Exception:  # a summary that needs arguments: not for the report
                obj = None
        elif isinstance(summary, dict):
            obj = summary
        if not isinstance(obj, dict) and hasattr(obj, "__dict__"):
            obj = {k: v for k, v in vars(obj).items() if not k.startswith("_")}
        flat = flatten_scalars(obj)
        if flat:
            facts[name] = flat
    return facts
