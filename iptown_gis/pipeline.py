"""Running a whole study: every stage the scenario has, in order, with a manifest.

Each stage lives in its topic package as ``iptown_gis/<topic>/stage.py`` with a function
``run(ctx: StudyContext, progress: Progress) -> None``. Stages share data through the typed
results of :class:`StudyContext` (``ctx.network``, ``ctx.neg``, ``ctx.surfaces``,
``ctx.sites``, ``ctx.zoning``, ``ctx.report``: :mod:`iptown_gis.stage_results`) and register
what they write with :meth:`StudyContext.add_output`. ``ctx.results``, the dictionary they
shared before, still answers the old keys (deprecated).

``iptown run`` calls :func:`run_scenario`, which writes ``manifest.json`` (inputs with
SHA-256 hashes, parameters, outputs, package versions, timings, ``status``).

The files in the output folder are exactly those the manifest lists:

- a folder that holds files no earlier run's ``manifest.json`` lists is refused
  (:class:`~iptown_gis.errors.OutputError`) before any work; the files an earlier run lists
  are set aside (into a hidden ``.iptown-previous-*`` folder) before the first stage, so no
  stale report, sites or zoning stays beside the new manifest;
- every file a stage writes is listed (files a stage writes without registering them are
  added with ``kind = "file"``);
- on an error, everything the run wrote is removed and the earlier run's files are put back
  (a folder the run created is removed: nothing is left at ``out_dir``);
- on SIGINT/SIGTERM (:class:`~iptown_gis.errors.Interrupted`, Ctrl-C) the finished stages are
  kept, the unfinished stage's files removed and ``manifest.json`` lists only the finished
  stages with ``"status": "interrupted"`` (no stage finished: as on an error).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd

from iptown_gis.errors import OutputError
from iptown_gis.io.atomic import atomic_path, ensure_writable_dir
from iptown_gis.progress import Progress, ProgressCallback, as_progress, deferred_signals, raise_if_interrupted
from iptown_gis.scenario import Scenario, load_scenario
from iptown_gis.stage_results import (
    LegacyResults,
    NEGResult,
    NetworkResult,
    ReportResult,
    SitesResult,
    StageResults,
    SurfacesResult,
    ZoningResult,
    warn_results_deprecated,
)

__all__ = ["STAGES", "StudyContext", "run_scenario", "run_study"]

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
    """What a running study shares between its stages.

    Each stage reads the results of the earlier ones from, and writes its own to, a typed
    attribute (:mod:`iptown_gis.stage_results`): :attr:`network`
    (:class:`~iptown_gis.stage_results.NetworkResult`), :attr:`neg`, :attr:`surfaces`,
    :attr:`sites`, :attr:`zoning`, :attr:`report`; ``None`` until the stage ran. They live in
    :attr:`stage_results`. :attr:`results` is the old dictionary view (deprecated).
    """

    scenario: Scenario
    out_dir: Path
    outputs: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    executor: Any = None  # an iptown_gis.parallel executor, or None for in-process
    #: Stages whose files go to a folder of their own instead of ``out_dir/<stage>/`` (``--out DIR``
    #: of a one-stage command such as ``iptown sites rank`` means DIR itself).
    stage_dirs: dict[str, Path] = field(default_factory=dict)
    #: The typed stage results (also reachable as ``ctx.network``, ``ctx.neg``, ...).
    stage_results: StageResults = field(default_factory=StageResults)
    #: The manifest, once :func:`run_study` / :func:`run_scenario` has written it.
    manifest: dict[str, Any] = field(default_factory=dict)
    _layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)

    @property
    def results(self) -> LegacyResults:
        """Deprecated: the old ``dict`` of stage results (``ctx.results["sites"]["ranked"]``).

        A view of :attr:`stage_results`: reading a key gives the typed result (which also reads
        as the old dictionary), writing one sets it. Use :attr:`network`, :attr:`neg`,
        :attr:`surfaces`, :attr:`sites`, :attr:`zoning`, :attr:`report` instead.
        """
        warn_results_deprecated()
        return LegacyResults(self.stage_results)

    @property
    def network(self) -> NetworkResult | None:
        """The network stage's result (network and seat OD matrix), or ``None``."""
        return self.stage_results.network

    @network.setter
    def network(self, value: NetworkResult | None) -> None:
        self.stage_results.network = value

    @property
    def neg(self) -> NEGResult | None:
        """The neg stage's result, or ``None``."""
        return self.stage_results.neg

    @neg.setter
    def neg(self, value: NEGResult | None) -> None:
        self.stage_results.neg = value

    @property
    def surfaces(self) -> SurfacesResult | None:
        """The surfaces stage's result, or ``None``."""
        return self.stage_results.surfaces

    @surfaces.setter
    def surfaces(self, value: SurfacesResult | None) -> None:
        self.stage_results.surfaces = value

    @property
    def sites(self) -> SitesResult | None:
        """The sites stage's result, or ``None``."""
        return self.stage_results.sites

    @sites.setter
    def sites(self, value: SitesResult | None) -> None:
        self.stage_results.sites = value

    @property
    def zoning(self) -> ZoningResult | None:
        """The zoning stage's result, or ``None``."""
        return self.stage_results.zoning

    @zoning.setter
    def zoning(self, value: ZoningResult | None) -> None:
        self.stage_results.zoning = value

    @property
    def report(self) -> ReportResult | None:
        """The report stage's result, or ``None``."""
        return self.stage_results.report

    @report.setter
    def report(self, value: ReportResult | None) -> None:
        self.stage_results.report = value

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
        elif geom_types is not None:  # read before for another role: check this one too
            from iptown_gis.io.vector import check_geometries

            check_geometries(self._layers[name], name=f"input {name!r}", geom_types=geom_types)
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
        """Register a written file for the manifest.

        Parameters
        ----------
        path
            The file written (under :attr:`out_dir`; it is recorded relative to it, with its size
            in bytes, ``None`` when it does not exist).
        stage
            The stage that wrote it, e.g. ``"neg"``.
        kind
            What it is: ``"table"``, ``"vector"``, ``"raster"``, ``"chart"``, ``"diagram"``, ...
            (``"file"`` is used for files found without registration).
        description
            One line for the manifest and the report (default ``""``).
        """
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
    scen: Scenario, stages: list[str] | None, *, require: bool = False, stop_after: str | None = None
) -> list[tuple[str, Callable[[StudyContext, Progress], None]]]:
    """The stages to run, checked before anything is written.

    With ``require`` (``iptown run --stage``), a requested stage the scenario does not have,
    or a scenario without any stage, is an error instead of being skipped. ``stop_after``
    drops the stages after that one (in pipeline order).

    Raises
    ------
    ParameterError
        A requested stage name is unknown.
    ScenarioError
        ``stop_after`` is not a stage name; with ``require``: a requested stage (or
        ``stop_after``) is not in the scenario, or it has no stage at all.
    """
    from iptown_gis.errors import ParameterError, ScenarioError

    names = [n for n, _ in STAGES]
    installed = available_stages()
    present = [n for n, _ in installed if scen.has(n)]
    src = scen.source.name
    if stop_after is not None:
        if stop_after not in names:
            raise ScenarioError(
                f"unknown stage {stop_after!r} to stop after (stop_after= / --stop-after); stages are, in order: "
                f"{', '.join(names)}"
            )
        if require and stop_after not in present:
            raise ScenarioError(
                f"{src}: --stop-after {stop_after}: the scenario has no [{stop_after}] section; add it or "
                f"choose one of its stages: {', '.join(present) or '(none)'}"
            )
        last = names.index(stop_after)
        installed = [(n, f) for n, f in installed if names.index(n) <= last]
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
    stop_after: str | None = None,
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
    stop_after
        Run the stages up to and including this one (e.g. ``"sites"``: network, neg, surfaces,
        sites as far as the scenario has them), not those after it; the manifest lists only the
        stages that ran. Combines with ``stages``.

    Returns
    -------
    dict
        The manifest (also written to ``out_dir/manifest.json``).

    Raises
    ------
    ScenarioError
        ``stop_after`` is not a stage name (the message lists them), or, with
        ``require_stages``, a requested stage is not in the scenario.
    ParameterError
        A name in ``stages`` is not a stage.
    """
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    ctx = _run(scen, out_dir, stages=stages, executor=executor, progress=progress, require_stages=require_stages,
               stage_dirs=stage_dirs, stop_after=stop_after)
    return ctx.manifest


def run_study(
    scenario: Scenario | str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] = "out",
    *,
    stages: list[str] | None = None,
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
    require_stages: bool = False,
    stage_dirs: dict[str, str | os.PathLike[str]] | None = None,
    stop_after: str | None = None,
) -> StudyContext:
    """:func:`run_scenario`, returning the finished :class:`StudyContext` with its typed results.

    The manifest is ``ctx.manifest``, the stage results ``ctx.network``, ``ctx.neg``,
    ``ctx.surfaces``, ``ctx.sites``, ``ctx.zoning``, ``ctx.report`` (``None`` for a stage that
    did not run). Errors as :func:`run_scenario`.

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
        Refuse a stage in ``stages`` that the scenario does not have (as :func:`run_scenario`).
    stage_dirs
        ``stage -> folder`` for stages whose files go there instead of ``out_dir/<stage>/``.
    stop_after
        Run the stages up to and including this one.

    Returns
    -------
    StudyContext
        The context the stages ran on.
    """
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return _run(scen, out_dir, stages=stages, executor=executor, progress=progress, require_stages=require_stages,
                stage_dirs=stage_dirs, stop_after=stop_after)


def _run(
    scen: Scenario,
    out_dir: str | os.PathLike[str],
    *,
    stages: list[str] | None,
    executor: Any,
    progress: ProgressCallback | Progress | None,
    require_stages: bool,
    stage_dirs: dict[str, str | os.PathLike[str]] | None,
    stop_after: str | None,
) -> StudyContext:
    todo = stages_to_run(scen, stages, require=require_stages, stop_after=stop_after)
    log.info("run: stages %s into %s", ", ".join(n for n, _ in todo) or "(none)", out_dir)
    with deferred_signals():  # setting the earlier run aside is never cut in the middle
        run_dir = RunFolder.claim(out_dir, keep=_scenario_files(scen))
        out = run_dir.path
        ctx = StudyContext(scenario=scen, out_dir=out, executor=executor,
                           stage_dirs={k: Path(v) for k, v in (stage_dirs or {}).items()})
        prog = as_progress(progress)
        started = datetime.now(timezone.utc)
        t_all = time.perf_counter()
        parts = prog.steps(len(todo)) if todo else []
        done: list[str] = []
        current = ""
    try:
        raise_if_interrupted()  # a signal that came while the folder was claimed
        for (name, func), sub in zip(todo, parts, strict=True):
            current = name
            log.info("stage %s: start", name)
            sub.update(0.0, f"{name}: start")
            before = run_dir.files()
            t0 = time.perf_counter()
            try:
                func(ctx, sub)
                raise_if_interrupted()  # a signal swallowed inside the stage (compiled code, finalisers)
            except BaseException:
                with deferred_signals():
                    run_dir.remove(run_dir.files() - before)
                    run_dir.prune_empty()
                raise
            ctx.timings[name] = round(time.perf_counter() - t0, 3)
            _register_unlisted(ctx, run_dir.files() - before, stage=name)
            done.append(name)
            sub.update(1.0, f"{name}: done")
            log.info("stage %s: done in %.1f s", name, ctx.timings[name])
        with deferred_signals():  # all stages are done: the run completes
            manifest = _manifest(scen, ctx, done, started=started, t_all=t_all, status="complete")
            _write_manifest(out, manifest)
            run_dir.drop_previous()
    except BaseException as exc:
        with deferred_signals():
            if isinstance(exc, KeyboardInterrupt) and done:
                ctx.outputs = [o for o in ctx.outputs if o.get("stage") in done]
                manifest = _manifest(scen, ctx, done, started=started, t_all=t_all, status="interrupted")
                manifest["interrupted_stage"] = current
                _write_manifest(out, manifest)
                run_dir.drop_previous()
                log.warning("interrupted in stage %s: kept the finished stages (%s) in %s", current,
                            ", ".join(done), out)
            else:
                run_dir.roll_back()
        raise
    ctx.manifest = manifest
    return ctx


def run_stages(
    ctx: StudyContext,
    *,
    before: str | None = None,
    stop_after: str | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> list[str]:
    """Run the scenario's stages on ``ctx`` in order, without a manifest or a run-folder claim.

    For a one-stage command that needs the results of the stages before its own (``iptown
    sites rank`` runs network, neg and surfaces, then ranks): the files go where
    ``ctx.path`` puts them and are registered in ``ctx.outputs``; the typed results are set on
    ``ctx``. :func:`run_scenario` is the whole-study run with manifest and roll-back.

    Parameters
    ----------
    ctx
        The study context (its scenario says which stages exist).
    before
        Run only the stages before this one (``"sites"``: network, neg, surfaces).
    stop_after
        Run the stages up to and including this one.
    progress
        Progress/cancellation callback, split evenly over the stages.

    Returns
    -------
    list of str
        The stages that ran, in order.

    Raises
    ------
    ScenarioError
        ``before`` or ``stop_after`` is not a stage name.
    """
    from iptown_gis.errors import ScenarioError

    names = [n for n, _ in STAGES]
    if before is not None and before not in names:
        raise ScenarioError(f"before = {before!r}: unknown stage; stages are, in order: {', '.join(names)}")
    todo = stages_to_run(ctx.scenario, None, stop_after=stop_after)
    if before is not None:
        todo = [(n, f) for n, f in todo if names.index(n) < names.index(before)]
    prog = as_progress(progress)
    parts = prog.steps(len(todo)) if todo else []
    for (name, func), sub in zip(todo, parts, strict=True):
        sub.update(0.0, f"{name}: start")
        t0 = time.perf_counter()
        func(ctx, sub)
        ctx.timings[name] = round(time.perf_counter() - t0, 3)
    return [n for n, _ in todo]


def _scenario_files(scen: Scenario) -> list[Path]:
    """The scenario file and its input files (a study may keep them inside its run folder)."""
    return [Path(scen.source), *(scen.input_path(n) for n in scen.inputs if not scen.is_database(n))]


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    with atomic_path(out / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    log.info("wrote %s", out / "manifest.json")


def _register_unlisted(ctx: StudyContext, new: set[str], *, stage: str) -> None:
    """List the files a stage wrote without :meth:`StudyContext.add_output` (``kind = "file"``)."""
    listed = {Path(o["path"]).as_posix() for o in ctx.outputs}
    for rel in sorted(new - listed - {MANIFEST}):
        ctx.add_output(ctx.out_dir / rel, stage=stage, kind="file")


def _manifest(scen: Scenario, ctx: StudyContext, done: list[str], *, started: datetime, t_all: float,
              status: str) -> dict[str, Any]:
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
    return {
        "tool": "iptown_gis",
        "status": status,
        "scenario": {"path": str(scen.source), "sha256": _sha256(scen.source), "name": scen.study.name},
        "started": started.isoformat(),
        "finished": datetime.now(timezone.utc).isoformat(),
        "crs": scen.study.crs,
        "stages": list(done),
        "parameters": {"study": scen.study.model_dump(),
                       **{k: v.model_dump(mode="json") for k, v in scen.sections.items()}},
        "inputs": inputs,
        "outputs": ctx.outputs,
        "timings_s": {**ctx.timings, "total": round(time.perf_counter() - t_all, 3)},
        "versions": _versions(),
        "platform": platform.platform(),
    }


#: The manifest's file name in a run folder.
MANIFEST = "manifest.json"
_PREVIOUS = ".iptown-previous-"


def _visible(rel: str) -> bool:
    return not any(part.startswith(".") for part in Path(rel).parts)


@dataclass
class RunFolder:
    """The output folder of one run: what it owned before, what the run created.

    Use :meth:`claim` (which refuses a folder with foreign files and sets an earlier run's
    files aside), then :meth:`roll_back` on failure or :meth:`drop_previous` on success.
    """

    path: Path
    created: Path | None = None  # the topmost folder this run created (removed on roll-back)
    keep: frozenset[str] = frozenset()  # files of the run's scenario and inputs: never owned, never touched
    previous: Path | None = None  # where the earlier run's files were set aside
    moved: list[str] = field(default_factory=list)

    @classmethod
    def claim(cls, out_dir: str | os.PathLike[str], *, keep: list[Path] | None = None) -> RunFolder:
        """Check ``out_dir`` before any work and set the earlier run's files aside.

        ``keep``: the run's scenario and input files; when they lie inside ``out_dir`` (a study
        built into its own run folder) they are neither foreign nor touched (a Shapefile's
        sidecar files with it).

        Raises
        ------
        OutputError
            The folder cannot be created or written, or it holds files that no earlier run's
            ``manifest.json`` lists (the message names some and says what to do).
        """
        target = Path(out_dir)
        created: Path | None = None
        probe = target.absolute()
        while not probe.exists() and probe != probe.parent:
            created, probe = probe, probe.parent
        out = ensure_writable_dir(target)
        kept: set[str] = set()
        root = out.resolve()
        for k in keep or []:
            try:
                rel = Path(k).resolve().relative_to(root)
            except (ValueError, OSError):
                continue
            kept.add(rel.as_posix())
            if rel.suffix.lower() == ".shp":
                kept.update(p.relative_to(root).as_posix() for p in (root / rel).parent.glob(rel.stem + ".*"))
        folder = cls(path=out, created=created, keep=frozenset(kept))
        present = folder.files()
        if not present:
            return folder
        owned = _owned(out)
        foreign = sorted(present - owned)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            why = ("its manifest.json does not list them" if (out / MANIFEST).is_file()
                   else "it has no manifest.json of an earlier iptown run")
            raise OutputError(
                f"output folder {str(out)!r} holds {len(foreign)} file(s) this run does not own ({shown}; "
                f"{why}): choose a new or empty folder, or move those files away"
            )
        folder._set_aside(sorted(present, key=lambda r: r != MANIFEST))  # the manifest first
        return folder

    def files(self) -> set[str]:
        """Relative paths (POSIX) of the visible files under the folder (hidden ones are skipped)."""
        found: set[str] = set()
        if not self.path.is_dir():
            return found
        for root, dirs, names in os.walk(self.path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            base = Path(root).relative_to(self.path)
            found.update((base / n).as_posix() for n in names if not n.startswith("."))
        return found - self.keep

    def remove(self, rels: set[str] | list[str]) -> None:
        """Delete these files and the folders they leave empty."""
        for rel in sorted(rels, reverse=True):
            p = self.path / rel
            try:
                p.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:  # pragma: no cover - permissions changed during the run
                log.warning("could not remove %s: %s", p, exc)
            self._prune(p.parent)

    def prune_empty(self) -> None:
        """Remove the empty visible sub-folders (left by a stage that created but never filled them)."""
        for root, dirs, names in os.walk(self.path, topdown=False):
            r = Path(root)
            if r == self.path or any(part.startswith(".") for part in r.relative_to(self.path).parts):
                continue
            if not names and not any((r / d).exists() for d in dirs):
                with contextlib.suppress(OSError):
                    r.rmdir()

    def _prune(self, d: Path) -> None:
        while d != self.path and d.is_relative_to(self.path):
            try:
                d.rmdir()
            except OSError:
                return
            d = d.parent

    def _set_aside(self, rels: list[str]) -> None:
        import tempfile

        self.previous = Path(tempfile.mkdtemp(dir=self.path, prefix=_PREVIOUS))
        for rel in rels:
            dst = self.previous / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path / rel, dst)
            self.moved.append(rel)
            self._prune((self.path / rel).parent)

    def roll_back(self) -> None:
        """Remove what the run wrote and put the earlier run's files back (or remove the folder)."""
        self.remove(self.files())
        self.prune_empty()
        if self.previous is not None:
            for rel in self.moved:
                dst = self.path / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.previous / rel, dst)
            shutil.rmtree(self.previous, ignore_errors=True)
            self.previous = None
        if self.created is not None and not self.files() and not self.keep:
            shutil.rmtree(self.created, ignore_errors=True)

    def drop_previous(self) -> None:
        """Delete the earlier run's files for good (the new manifest replaced them)."""
        if self.previous is not None:
            shutil.rmtree(self.previous, ignore_errors=True)
            self.previous = None


def _owned(out: Path) -> set[str]:
    """The files the manifest of an earlier run in ``out`` lists (with the manifest itself)."""
    try:
        man = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(man, dict) or man.get("tool") != "iptown_gis":
        return set()
    owned = {MANIFEST}
    for o in man.get("outputs") or []:
        if isinstance(o, dict) and isinstance(o.get("path"), str):
            owned.add(Path(o["path"]).as_posix())
    return {r for r in owned if _visible(r)}


__all__ += ["MANIFEST", "RunFolder", "available_stages", "run_stages", "stages_to_run"]
