"""Running a whole study: every stage the scenario has, in order, with a manifest.

Each stage lives in its topic package as ``iptown_gis/<topic>/stage.py`` with a function
``run(ctx: StudyContext, progress: Progress) -> None``. Stages share data through
:class:`StudyContext` (``ctx.results``: e.g. the network, the seat cost matrix, NEG price
indices) and register what they write with :meth:`StudyContext.add_output`.

``iptown run`` calls :func:`run_scenario`, which writes ``manifest.json`` (inputs with
SHA-256 hashes, parameters, outputs, package versions, timings).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd

from iptown_gis.io.atomic import atomic_path, ensure_writable_dir
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.scenario import Scenario, load_scenario

__all__ = ["STAGES", "StudyContext", "run_scenario"]

log = logging.getLogger(__name__)

#: Pipeline stages in order: (section name, module with ``run(ctx, progress)``).
STAGES: tuple[tuple[str, str], ...] = (
    ("network", "iptown_gis.network.stage"),
    ("neg", "iptown_gis.neg.stage"),
    ("surfaces", "iptown_gis.surfaces.stage"),
    ("sites", "iptown_gis.sites.stage"),
    ("zoning", "iptown_gis.zoning.stage"),
    ("report", "iptown_gis.report.stage"),
)


@dataclass
class StudyContext:
    """What a running study shares between its stages."""

    scenario: Scenario
    out_dir: Path
    results: dict[str, Any] = field(default_factory=dict)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    executor: Any = None  # an iptown_gis.parallel executor, or None for in-process
    #: Stages whose files go to a folder of their own instead of ``out_dir/<stage>/`` (``--out DIR``
    #: of a one-stage command such as ``iptown sites rank`` means DIR itself).
    stage_dirs: dict[str, Path] = field(default_factory=dict)
    _layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)

    @property
    def crs(self) -> str | None:
        return self.scenario.study.crs

    def layer(self, name: str, *, geom_types: tuple[str, ...] | None = None) -> gpd.GeoDataFrame:
        """Input ``name`` as a GeoDataFrame in the study's metric CRS (cached, filtered by ``where``)."""
        if name not in self._layers:
            from iptown_gis.io.vector import read_vector

            inp = self.scenario.input(name)
            if self.scenario.is_database(name):
                from iptown_gis.io.vector import check_geometries
                from iptown_gis.scenario import read_database_layer

                gdf = read_database_layer(inp)
                if not isinstance(gdf, gpd.GeoDataFrame):
                    from iptown_gis.errors import GeometryError

                    raise GeometryError(f"input {name!r}: PostGIS table {inp.layer!r} has no geometry column")
                check_geometries(gdf, name=f"input {name!r}", geom_types=geom_types)
            else:
                path = self.scenario.input_path(name)
                gdf = read_vector(path, layer=inp.layer, name=f"input {name!r}", metric=False,
                                  geom_types=geom_types)
            if inp.coords and inp.coords.lower() not in ("wgs84", "wgs-84"):
                from iptown_gis.crs import china  # type: ignore[attr-defined,unused-ignore]

                gdf = china.convert_gdf(gdf, src=inp.coords, dst="wgs84")
            if inp.where:
                try:
                    gdf = gdf.query(inp.where)
                except Exception as exc:
                    from iptown_gis.errors import ScenarioError

                    raise ScenarioError(
                        f"{self.scenario.source.name}: [inputs.{name}] where = {inp.where!r}: {exc}"
                    ) from None
                if len(gdf) == 0:
                    from iptown_gis.errors import GeometryError

                    raise GeometryError(f"input {name!r}: where = {inp.where!r} selects no features")
            from iptown_gis.crs.metric import to_metric

            self._layers[name] = to_metric(gdf, crs=self.crs, name=f"input {name!r}")
        return self._layers[name]

    def table(self, name: str) -> Any:
        """Input ``name`` read as a pandas DataFrame (CSV)."""
        import pandas as pd

        return pd.read_csv(self.scenario.input_path(name))

    def path(self, *parts: str) -> Path:
        """A path inside the output folder (sub-folders are created); see ``stage_dirs``."""
        if parts and parts[0] in self.stage_dirs:
            p = Path(self.stage_dirs[parts[0]]).joinpath(*parts[1:])
        else:
            p = self.out_dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def add_output(self, path: Path | str, *, stage: str, kind: str, description: str = "") -> None:
        """Register a written file for the manifest."""
        p = Path(path)
        rel = os.path.relpath(p, self.out_dir)
        self.outputs.append({"path": rel, "stage": stage, "kind": kind, "description": description,
                             "bytes": p.stat().st_size if p.exists() else None})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("iptown_gis", "numpy", "scipy", "geopandas", "shapely", "pyproj", "rasterio",
                "networkx", "osmnx", "highspy", "dask"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    return out


def available_stages() -> list[tuple[str, Callable[[StudyContext, Progress], None]]]:
    """Stages whose implementation is installed, in order."""
    found = []
    for name, mod_name in STAGES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name and mod_name.startswith(exc.name):
                continue
            raise
        found.append((name, mod.run))
    return found


def stages_to_run(
    scen: Scenario, stages: list[str] | None, *, require: bool = False
) -> list[tuple[str, Callable[[StudyContext, Progress], None]]]:
    """The stages to run, checked before anything is written.

    With ``require`` (``iptown run --stage``), a requested stage the scenario does not have,
    or a scenario without any stage, is an error instead of being skipped.

    Raises
    ------
    ParameterError
        A requested stage name is unknown.
    ScenarioError
        With ``require``: a requested stage is not in the scenario, or it has no stage at all.
    """
    from iptown_gis.errors import ParameterError, ScenarioError

    names = [n for n, _ in STAGES]
    installed = available_stages()
    present = [n for n, _ in installed if scen.has(n)]
    src = scen.source.name
    if stages is not None:
        unknown = [s for s in stages if s not in names]
        if unknown:
            raise ParameterError(
                f"--stage {', '.join(unknown)}: unknown stage; stages are: {', '.join(names)}"
            )
    if require:
        missing = [s for s in stages or [] if s not in present]
        if missing:
            raise ScenarioError(
                f"{src}: --stage {', '.join(missing)}: the scenario has no "
                f"{', '.join(f'[{s}]' for s in missing)} section; add it to the scenario or choose one of "
                f"its stages: {', '.join(present) or '(none)'}"
            )
        if not present:
            raise ScenarioError(
                f"{src}: the scenario has no stage section, so there is nothing to run: add one of "
                f"{', '.join(f'[{n}]' for n in names)}"
            )
    return [(n, f) for n, f in installed if scen.has(n) and (stages is None or n in stages)]


def run_scenario(
    scenario: Scenario | str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] = "out",
    *,
    stages: list[str] | None = None,
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
    require_stages: bool = False,
    stage_dirs: dict[str, str | os.PathLike[str]] | None = None,
) -> dict[str, Any]:
    """Run every stage the scenario has (or those named in ``stages``) and write a manifest.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a path to a TOML file, or ``None`` for the bundled Anhui study.
    out_dir
        Output folder (created; must be writable).
    stages
        Restrict to these stage names.
    executor
        An :mod:`iptown_gis.parallel` executor for the heavy stages (default: in-process).
    progress
        Progress/cancellation callback.
    require_stages
        Refuse (:class:`ScenarioError`) a stage in ``stages`` that the scenario does not have,
        and a scenario without stages, instead of skipping them (``iptown run``).
    stage_dirs
        ``stage -> folder`` for stages whose files go there instead of ``out_dir/<stage>/``
        (e.g. ``{"neg": out_dir}`` for ``iptown neg simulate --out DIR``).

    Returns
    -------
    dict
        The manifest (also written to ``out_dir/manifest.json``).
    """
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    todo = stages_to_run(scen, stages, require=require_stages)
    out = ensure_writable_dir(out_dir)
    ctx = StudyContext(scenario=scen, out_dir=out, executor=executor,
                       stage_dirs={k: Path(v) for k, v in (stage_dirs or {}).items()})
    prog = as_progress(progress)
    started = datetime.now(timezone.utc)
    t_all = time.perf_counter()
    parts = prog.steps(len(todo)) if todo else []
    for (name, func), sub in zip(todo, parts, strict=True):
        log.info("stage %s: start", name)
        sub.update(0.0, f"{name}: start")
        t0 = time.perf_counter()
        func(ctx, sub)
        ctx.timings[name] = round(time.perf_counter() - t0, 3)
        sub.update(1.0, f"{name}: done")
        log.info("stage %s: done in %.1f s", name, ctx.timings[name])
    inputs = []
    for name, inp in scen.inputs.items():
        if scen.is_database(name):
            from iptown_gis.io.postgis import safe_url

            inputs.append({"name": name, "path": safe_url(inp.path), "layer": inp.layer, "where": inp.where,
                           "sha256": None})
            continue
        p = scen.input_path(name)
        inputs.append({"name": name, "path": str(p), "layer": inp.layer, "where": inp.where,
                       "sha256": _sha256(p) if p.is_file() else None})
    manifest = {
        "tool": "iptown_gis",
        "scenario": {"path": str(scen.source), "sha256": _sha256(scen.source), "name": scen.study.name},
        "started": started.isoformat(),
        "finished": datetime.now(timezone.utc).isoformat(),
        "crs": scen.study.crs,
        "stages": [n for n, _ in todo],
        "parameters": {"study": scen.study.model_dump(),
                       **{k: v.model_dump(mode="json") for k, v in scen.sections.items()}},
        "inputs": inputs,
        "outputs": ctx.outputs,
        "timings_s": {**ctx.timings, "total": round(time.perf_counter() - t_all, 3)},
        "versions": _versions(),
        "platform": platform.platform(),
    }
    with atomic_path(out / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    log.info("wrote %s", out / "manifest.json")
    return manifest


__all__ += ["available_stages", "stages_to_run"]
