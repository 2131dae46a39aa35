"""Typed results of the pipeline stages, and the old ``ctx.results`` dictionary view.

Each stage of :mod:`iptown_gis.pipeline` reads its inputs from, and writes its result to, a
typed attribute of the :class:`~iptown_gis.pipeline.StudyContext`:

=============  ====================  ==========================================================
attribute      class                 set by
=============  ====================  ==========================================================
``network``    :class:`NetworkResult`   network stage (``network``, ``seat_od``); the surfaces and
                                     sites stages put a network built from ``roads`` here when
                                     the network stage did not run
``neg``        :class:`NEGResult`       neg stage (QSM or FKV baseline, scenarios, summary)
``surfaces``   :class:`SurfacesResult`  surfaces stage (grid, rasters, zonal tables, hot spots)
``sites``      :class:`SitesResult`     sites stage (ranked, selected, summary, ...)
``zoning``     :class:`ZoningResult`    zoning stage (one :class:`TownLayout` per town)
``report``     :class:`ReportResult`    report stage (written files)
=============  ====================  ==========================================================

Every result also reads as the dictionary the stages shared before (``res["ranked"]``,
``res.get("shares")``, ``"summary" in res``; :meth:`StageResult.as_dict`), so kernels that
take a mapping (:func:`iptown_gis.sites.criteria.neg_values`,
:func:`iptown_gis.zoning.studyarea.build_study_area`'s ``surfaces``) accept it unchanged.
``ctx.results`` (:class:`LegacyResults`) still answers the old keys (``"network"``,
``"seat_od"``, ``"neg"``, ``"surfaces"``, ``"sites"``, ``"zoning"``, ``"report"`` and any
key a script stored) but is deprecated: use the typed attributes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np

# The kernels' classes (Network, ODMatrix, Grid, Surface) are typed ``Any`` here: the kernels'
# stage modules import this module, so importing the kernels back (even for type checking)
# would make an import cycle between the packages (tests/foundation/test_architecture.py).
Network = Any  # iptown_gis.network.Network
ODMatrix = Any  # iptown_gis.network.ODMatrix
Grid = Any  # iptown_gis.surfaces.Grid
Surface = Any  # iptown_gis.surfaces.Surface


class SelectionLike(Protocol):
    """What :meth:`SitesResult.record_selection` reads (:class:`iptown_gis.sites.select.Selection`)."""

    selected: Any
    summary: dict[str, Any]
    model: Any
    assignment: Any

__all__ = [
    "RESULT_KEYS",
    "LegacyResults",
    "NEGResult",
    "NetworkResult",
    "RasterResult",
    "ReportResult",
    "SelectionLike",
    "SitesResult",
    "StageResult",
    "StageResults",
    "SurfacesResult",
    "TownLayout",
    "ZoningResult",
]


class StageResult(Mapping[str, Any]):
    """Base of the typed results: the dataclass fields, readable as the old dictionary.

    ``res[key]`` / ``res.get(key)`` / ``key in res`` / ``dict(res)`` see :meth:`as_dict`: the
    fields that are set (not ``None``) in the order the stage's dictionary had, then
    :attr:`extra` (keys the typed fields do not name, e.g. from a script). ``res[key] = v``
    sets the field of that name, or ``extra[key]``.
    """

    extra: dict[str, Any]
    #: The old dictionary's key order (default: the dataclass field order).
    _ORDER: ClassVar[tuple[str, ...] | None] = None

    def _order(self) -> tuple[str, ...]:
        return self._ORDER or tuple(f.name for f in fields(self) if f.name != "extra")  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Any]:
        """The result as the dictionary the stage put into ``ctx.results`` before (set fields only)."""
        out: dict[str, Any] = {}
        for name in self._order():
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """A result from the old dictionary (unknown keys go to ``extra``)."""
        if isinstance(data, cls):
            return data
        names = {f.name for f in fields(cls)} - {"extra"}  # type: ignore[arg-type]
        known = {k: v for k, v in data.items() if k in names}
        return cls(**known, extra={k: v for k, v in data.items() if k not in names})  # type: ignore[call-arg]

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    def __setitem__(self, key: str, value: Any) -> None:
        if key != "extra" and key in {f.name for f in fields(self)}:  # type: ignore[arg-type]
            setattr(self, key, value)
        else:
            self.extra[key] = value

    # identity, not the field-by-field comparison of Mapping (arrays have no truth value)
    __eq__ = object.__eq__
    __hash__ = object.__hash__


@dataclass(eq=False)
class NetworkResult(StageResult):
    """The network stage: the study network and the seat-to-seat cost matrix.

    Old keys: ``ctx.results["network"]`` is :attr:`network`, ``ctx.results["seat_od"]`` is
    :attr:`seat_od`.
    """

    network: Network | None = None
    seat_od: ODMatrix | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class NEGResult(StageResult):
    """The neg stage: baseline equilibrium at the top level, every scenario in :attr:`scenarios`.

    ``model`` is ``"qsm"`` or ``"fkv"``; ``params``, ``validation``, ``tornado``,
    ``tornado_region``, ``summary`` and ``counties`` (the same keys for the finer regions, as a
    dictionary) come with the QSM only (docs/neg.md).
    """

    model: str | None = None
    region_ids: list[str] | None = None
    names: list[str] | None = None
    shares: np.ndarray | None = None
    observed_shares: np.ndarray | None = None
    price_index: np.ndarray | None = None
    income: np.ndarray | None = None
    wage: np.ndarray | None = None
    real_wage: np.ndarray | None = None
    cost_minutes: np.ndarray | None = None
    tau: float | None = None
    sigma: float | None = None
    mu: float | None = None
    #: scenario name -> per-region arrays (``share``, ``d_share``, ...) and scalars (``stable``, ...)
    scenarios: dict[str, dict[str, Any]] | None = None
    summary: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    tornado: Any = None
    tornado_region: Any = None
    counties: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _QSM: ClassVar[tuple[str, ...]] = (
        "summary", "region_ids", "names", "shares", "observed_shares", "price_index", "income", "wage",
        "real_wage", "cost_minutes", "scenarios", "params", "validation", "tornado", "tornado_region", "tau",
        "sigma", "mu", "model", "counties")
    _FKV: ClassVar[tuple[str, ...]] = (
        "region_ids", "names", "shares", "price_index", "income", "wage", "real_wage", "tau", "sigma", "mu",
        "cost_minutes", "observed_shares", "scenarios", "model", "summary", "params", "validation", "tornado",
        "tornado_region", "counties")

    def _order(self) -> tuple[str, ...]:
        return self._QSM if self.model == "qsm" else self._FKV


@dataclass(eq=False)
class RasterResult(StageResult):
    """One raster of the surfaces stage: its file and its :class:`~iptown_gis.surfaces.Surface`.

    Reads as ``{"path", "surface", "array"}`` (``array`` = ``surface.values``).
    """

    path: Path
    surface: Surface
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def array(self) -> Any:
        """The surface's values (``surface.values``)."""
        return None if self.surface is None else self.surface.values

    def _order(self) -> tuple[str, ...]:
        return ("path", "surface", "array")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RasterResult:
        if isinstance(data, cls):
            return data
        return cls(path=data.get("path"), surface=data.get("surface"),  # type: ignore[arg-type]
                   extra={k: v for k, v in data.items() if k not in ("path", "surface", "array")})


@dataclass(eq=False)
class SurfacesResult(StageResult):
    """The surfaces stage: grid, one :class:`RasterResult` per raster, zonal tables, hot spots.

    Reads as the old dictionary: ``paths``, ``grid``, ``mass_source``, each raster name
    (``market_potential``, ``neg_market_access``, ``potential_all_cells``, ``kde``), ``zonal``,
    ``hotspots``.
    """

    grid: Grid | None = None
    #: raster name -> raster, in the order they were computed
    rasters: dict[str, RasterResult] = field(default_factory=dict)
    #: zones input -> GeoDataFrame with the zonal statistics
    zonal: dict[str, gpd.GeoDataFrame] | None = None
    hotspots: gpd.GeoDataFrame | None = None
    #: output name -> path
    paths: dict[str, Path] = field(default_factory=dict)
    mass_source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def add_raster(self, name: str, path: Path, surface: Surface) -> RasterResult:
        """Record a written raster (also under :attr:`paths`).

        Parameters
        ----------
        name
            The raster's name (``"market_potential"``, ``"kde"``, ...).
        path
            The GeoTIFF written.
        surface
            The computed :class:`~iptown_gis.surfaces.Surface`.

        Returns
        -------
        RasterResult
            The record added to :attr:`rasters`.
        """
        r = RasterResult(path=path, surface=surface)
        self.rasters[name] = r
        self.paths[name] = path
        return r

    def raster(self, name: str) -> RasterResult | None:
        """The raster ``name``, or ``None`` when the stage did not compute it."""
        return self.rasters.get(name)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"paths": self.paths}
        for name in ("grid", "mass_source"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        out.update(self.rasters)
        for name in ("zonal", "hotspots"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurfacesResult:
        if isinstance(data, cls):
            return data
        res = cls()
        for k, v in data.items():
            if k in ("grid", "zonal", "hotspots", "mass_source"):
                setattr(res, k, v)
            elif k == "paths":
                res.paths = dict(v)
            elif isinstance(v, Mapping) and ("surface" in v or "path" in v):
                res.rasters[k] = RasterResult.from_dict(v)
            else:
                res.extra[k] = v
        return res

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, Mapping) and ("surface" in value or "path" in value) and key not in ("paths", "zonal"):
            self.rasters[key] = RasterResult.from_dict(value)
        else:
            super().__setitem__(key, value)


@dataclass(eq=False)
class SitesResult(StageResult):
    """The sites stage.

    ``ranked``: candidates sorted by rank (first row = best); ``selected``: the chosen towns in
    choice order (``None`` after ranking only); ``summary``: model, objective, solver status
    and gap, coverage; ``criteria``: names used; ``skipped``: criterion -> why; ``anchors``;
    ``model``: the solved location model; ``assignment``: demand -> nearest chosen town;
    ``paths``: output name -> file (after the outputs are written).
    """

    ranked: gpd.GeoDataFrame | None = None
    selected: gpd.GeoDataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    criteria: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    anchors: gpd.GeoDataFrame | None = None
    model: Any = None
    assignment: Any = None
    paths: dict[str, Path] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        # the old dictionary had every key from ranking on (selected, model, ... as None)
        out: dict[str, Any] = {"ranked": self.ranked, "selected": self.selected, "summary": self.summary,
                               "criteria": self.criteria, "skipped": self.skipped, "anchors": self.anchors,
                               "model": self.model, "assignment": self.assignment}
        if self.paths is not None:
            out["paths"] = self.paths
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    def record_selection(self, selection: SelectionLike) -> None:
        """Store a :class:`~iptown_gis.sites.select.Selection` (chosen towns, summary, model, assignment)."""
        self.selected = selection.selected
        self.summary = selection.summary
        self.model = selection.model
        self.assignment = selection.assignment


@dataclass(eq=False)
class TownLayout(StageResult):
    """The layout of one town of the zoning stage (districts, modules, files)."""

    cells: Any = None
    model: Any = None
    module_model: Any = None
    labels: Any = None
    module_labels: Any = None
    summary: dict[str, Any] | None = None
    paths: dict[str, Path] | None = None
    site: tuple[float, float] | None = None
    site_source: str | None = None
    sources: dict[str, str] | None = None
    left_out: dict[str, str] | None = None
    #: ``{"town_no", "town_id", "town_name"}``
    town: dict[str, Any] | None = None
    time_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def brief(self) -> dict[str, Any]:
        """``town``, ``summary``, ``paths``, ``site``, ``time_s``: the entry of the old ``towns`` list."""
        return {"town": self.town, "summary": self.summary, "paths": self.paths, "site": self.site,
                "time_s": self.time_s}


@dataclass(eq=False)
class ZoningResult(StageResult):
    """The zoning stage: one :class:`TownLayout` per town (town no. 1 first).

    Reads as the old dictionary: the first town's keys (``cells``, ``model``, ``labels``,
    ``summary``, ``paths``, ...), ``districts``, ``modules`` and ``towns`` (``town``,
    ``summary``, ``paths``, ``site``, ``time_s`` per town).
    """

    layouts: list[TownLayout] = field(default_factory=list)
    districts: Any = None
    modules: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first(self) -> TownLayout | None:
        """Town no. 1's layout (``None`` when no town was laid out)."""
        return self.layouts[0] if self.layouts else None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.layouts:
            first = self.layouts[0]
            out.update({f.name: getattr(first, f.name) for f in fields(first) if f.name != "extra"})
            out.update(first.extra)
        for name in ("districts", "modules"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.layouts:
            out["towns"] = [t.brief() for t in self.layouts]
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ZoningResult:
        if isinstance(data, cls):
            return data
        town_keys = {f.name for f in fields(TownLayout)} - {"extra"}
        res = cls(districts=data.get("districts"), modules=data.get("modules"))
        first = {k: v for k, v in data.items() if k in town_keys}
        if first:
            res.layouts.append(TownLayout(**first))
            for t in list(data.get("towns") or [])[1:]:
                res.layouts.append(TownLayout(**{k: v for k, v in t.items() if k in town_keys}))
        res.extra = {k: v for k, v in data.items() if k not in town_keys | {"districts", "modules", "towns"}}
        return res

    def __setitem__(self, key: str, value: Any) -> None:
        self.extra[key] = value


@dataclass(eq=False)
class ReportResult(StageResult):
    """The report stage: ``html`` (path or ``None``), ``maps``, ``qgis_project``, ``styles``, ``postgis``."""

    html: Path | None = None
    maps: list[Path] = field(default_factory=list)
    qgis_project: Path | None = None
    styles: list[Path] = field(default_factory=list)
    postgis: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"html": self.html, "maps": self.maps, "qgis_project": self.qgis_project,
                               "styles": self.styles, "postgis": self.postgis}
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out


#: The old ``ctx.results`` keys of the typed results (``"network"`` and ``"seat_od"`` both live
#: in :class:`NetworkResult`).
RESULT_KEYS: tuple[str, ...] = ("network", "seat_od", "neg", "surfaces", "sites", "zoning", "report")
_STAGE_TYPES: dict[str, type[StageResult]] = {
    "neg": NEGResult, "surfaces": SurfacesResult, "sites": SitesResult, "zoning": ZoningResult,
    "report": ReportResult,
}


@dataclass
class StageResults:
    """The typed results of a running study, one attribute per stage (``None`` until it ran).

    Remembers the order in which they were set (the report lists the stages' key figures in
    that order).
    """

    network: NetworkResult | None = None
    neg: NEGResult | None = None
    surfaces: SurfacesResult | None = None
    sites: SitesResult | None = None
    zoning: ZoningResult | None = None
    report: ReportResult | None = None
    #: keys a script stored in ``ctx.results`` that no stage owns
    extra: dict[str, Any] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list, repr=False)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in ("network", "neg", "surfaces", "sites", "zoning", "report"):
            order: list[str] | None = self.__dict__.get("_order")
            if order is not None:
                if value is None and name in order:
                    order.remove(name)
                elif value is not None and name not in order:
                    order.append(name)

    def __post_init__(self) -> None:
        for name in ("network", "neg", "surfaces", "sites", "zoning", "report"):
            if getattr(self, name) is not None and name not in self._order:
                self._order.append(name)

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(old key, value)`` pairs in the order set: what ``ctx.results.items()`` gave.

        ``network`` gives ``("network", Network)`` and ``("seat_od", ODMatrix)``; the other
        stages their result; then the script's own keys.
        """
        for name in list(self._order):
            value = getattr(self, name)
            if value is None:
                continue
            if name == "network":
                for key in ("network", "seat_od"):
                    v = getattr(value, key)
                    if v is not None:
                        yield key, v
                yield from value.extra.items()
            else:
                yield name, value
        yield from self.extra.items()

    def legacy_get(self, key: str) -> Any:
        """The value the old ``ctx.results[key]`` held (``KeyError`` when absent)."""
        if key in ("network", "seat_od"):
            v = None if self.network is None else getattr(self.network, key)
            if v is None:
                raise KeyError(key)
            return v
        if key in _STAGE_TYPES:
            v = getattr(self, key)
            if v is None:
                raise KeyError(key)
            return v
        return self.extra[key]

    def legacy_set(self, key: str, value: Any) -> None:
        """Store ``value`` as the old ``ctx.results[key] = value`` meant it (converted to the typed result)."""
        if key in ("network", "seat_od"):
            if isinstance(value, Mapping) and key == "network":  # {"network": net} or {"net": net}
                value = value.get("network", value.get("net"))
            if self.network is None:
                self.network = NetworkResult()
            setattr(self.network, key, value)
        elif key in _STAGE_TYPES:
            cls = _STAGE_TYPES[key]
            setattr(self, key, None if value is None else cls.from_dict(value))
        else:
            self.extra[key] = value

    def legacy_del(self, key: str) -> None:
        """``del ctx.results[key]``."""
        self.legacy_get(key)  # KeyError when absent
        if key in ("network", "seat_od"):
            assert self.network is not None
            setattr(self.network, key, None)
            if self.network.network is None and self.network.seat_od is None:
                self.network = None
        elif key in _STAGE_TYPES:
            setattr(self, key, None)
        else:
            del self.extra[key]


class LegacyResults(MutableMapping[str, Any]):
    """``ctx.results``: the old dictionary of stage results, as a view of :class:`StageResults`.

    Reading or writing a key reads or sets the typed result (``ctx.results["sites"]`` is
    ``ctx.sites``; ``ctx.results["sites"] = {...}`` makes a :class:`SitesResult`). Deprecated:
    :attr:`StudyContext.results <iptown_gis.pipeline.StudyContext.results>` warns once per access.
    """

    def __init__(self, store: StageResults) -> None:
        self._store = store

    def __getitem__(self, key: str) -> Any:
        return self._store.legacy_get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self._store.legacy_set(key, value)

    def __delitem__(self, key: str) -> None:
        self._store.legacy_del(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._store.items())

    def __len__(self) -> int:
        return sum(1 for _ in self._store.items())

    def __repr__(self) -> str:
        return f"LegacyResults({', '.join(self)})"


def warn_results_deprecated(stacklevel: int = 3) -> None:
    """The :class:`DeprecationWarning` of ``ctx.results``."""
    warnings.warn(
        "StudyContext.results (the dictionary of stage results) is deprecated: use the typed results "
        "ctx.network, ctx.neg, ctx.surfaces, ctx.sites, ctx.zoning, ctx.report (iptown_gis.stage_results)",
        DeprecationWarning, stacklevel=stacklevel)


def result_items(results: StageResults | Mapping[str, Any] | Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``(old key, value)`` pairs of typed or old-style results, each stage result as its old dictionary."""
    if isinstance(results, StageResults):
        pairs: Iterable[tuple[str, Any]] = results.items()
    elif isinstance(results, Mapping):
        pairs = results.items()
    else:
        pairs = results
    return [(k, v.as_dict() if isinstance(v, StageResult) else v) for k, v in pairs]


__all__ += ["result_items", "warn_results_deprecated"]
