"""Surface algorithms: market potential, kernel density, hot spots, zonal statistics
(:mod:`iptown_gis.surfaces`).

The grid algorithms (``marketpotential``, ``kerneldensity``) share the grid parameters
``BOUNDARY`` (study-area polygons), ``CELL`` (metres), ``MEMORY_BUDGET`` and ``METRIC_CRS``:
square cells covering the boundary, cells whose centre is outside are nodata. A boundary in
degrees is projected to the metric CRS (or its UTM zone); every other layer is put in the
grid's CRS.
"""

from __future__ import annotations

import logging
from typing import Any

from iptown_gis.engine.params import Params
from iptown_gis.engine.tools import tool
from iptown_gis.network.snap import DEFAULT_MAX_SNAP_DISTANCE, SnapPolicy
from iptown_gis.surfaces.zonal import STATS

log = logging.getLogger(__name__)

MODES = ("euclidean", "network")
COSTS = ("length", "time")
KERNELS = ("quartic", "gaussian")
RULES = ("silverman", "scott")
KDE_OUTPUTS = ("raw", "scaled", "density")
STATISTICS = ("gi*", "moran")
WEIGHTS = ("queen", "rook", "knn", "distance")
#: Zonal statistics (:data:`iptown_gis.surfaces.zonal.STATS`).
ZONAL_STATS = tuple(STATS)

#: The grid parameters shared by every grid algorithm.
GRID_DEFAULTS: dict[str, Any] = {"CELL": 1000.0, "MEMORY_BUDGET": "4GB"}

TIF = (".tif", ".tiff")


def grid_from_params(p: Params) -> Any:
    """The grid of ``BOUNDARY`` polygons with ``CELL``-metre cells (in ``METRIC_CRS`` when given)."""
    from iptown_gis.surfaces import make_grid

    boundary = p.vector("BOUNDARY", geom_types=("Polygon",))
    return make_grid(boundary, cell=p.need_number("CELL", minimum=1.0), crs=boundary.crs,
                     memory_budget=p.text("MEMORY_BUDGET") or GRID_DEFAULTS["MEMORY_BUDGET"])


def surface_from_params(p: Params, key: str) -> Any:
    """Raster input ``key`` as a :class:`~iptown_gis.surfaces.grid.Surface`.

    Its name is the ``iptown_surface`` tag of a surface written by this library, else the
    raster's name in the job (or its file stem), as the QGIS plugin did.
    """
    from iptown_gis.surfaces.grid import surface_from_geotiff

    raster = p.raster(key)
    assert raster is not None
    path, name = raster
    surface = surface_from_geotiff(path)
    if not surface.tags.get("iptown_surface"):
        surface.name = name
    return surface


def _write_surface(p: Params, surface: Any) -> str:
    path = p.output("OUTPUT", suffixes=TIF)
    assert path is not None
    return str(surface.write(path))


@tool("marketpotential", defaults={**GRID_DEFAULTS, "DECAY": "power:1", "MODE": "euclidean", "COST": "length",
                                   "ACCESS_SPEED": 30.0, "MAX_SNAP_DISTANCE": DEFAULT_MAX_SNAP_DISTANCE})
def marketpotential(p: Params) -> dict[str, Any]:
    """Harris market potential of every grid cell: the mass within reach, discounted by distance.

    ``MP_i = sum_j M_j f(d_ij)`` with ``DECAY`` ``power:BETA`` (``M / d^BETA``) or ``exp:D0``
    (``M exp(-d / D0)``). Distances are straight lines (``MODE`` euclidean) or over the road
    network (network; give ``ROADS``), in metres, or minutes with ``COST`` time (then
    ``ACCESS_SPEED`` is the speed of the access legs). Distances below ``MIN_DISTANCE``
    (default half a cell) are raised to it. ``MASS_FIELD`` empty: every point weighs 1.

    Parameters
    ----------
    p
        The grid (``BOUNDARY``, ``CELL``, ``MEMORY_BUDGET``, ``METRIC_CRS``), ``MASSES``
        (points), ``MASS_FIELD``, ``DECAY``, ``MODE`` (:data:`MODES`), ``ROADS`` (lines),
        ``COST`` (:data:`COSTS`), ``ACCESS_SPEED`` (km/h), ``MIN_DISTANCE``.

    Returns
    -------
    dict
        ``OUTPUT``: the GeoTIFF written.

    Raises
    ------
    ParameterError
        Network distances without the road lines.
    """
    from iptown_gis.errors import ParameterError
    from iptown_gis.surfaces import market_potential

    steps = p.progress.steps(2)
    mode = p.choice("MODE", MODES)
    cost = p.choice("COST", COSTS)
    if mode == "network" and not p.has("ROADS"):
        raise ParameterError("network distances need the road lines: set 'Road lines'")
    grid = grid_from_params(p)
    masses = p.vector("MASSES", crs=grid.crs, geom_types=("Point",))
    roads = p.vector("ROADS", crs=grid.crs, geom_types=("LineString",)) if mode == "network" else None
    steps[0].update(1.0, "layers read")
    speed = p.need_number("ACCESS_SPEED", minimum=0.1)
    policy = SnapPolicy.from_options(max_distance=p.need_number("MAX_SNAP_DISTANCE", minimum=0.0),
                                     access_speed_kmh=speed, source="'Largest access leg (m)' (MAX_SNAP_DISTANCE)",
                                     speed_source="'Access-leg speed (km/h)' (ACCESS_SPEED)")
    surface = market_potential(
        grid, masses, mass_field=p.text("MASS_FIELD"), decay=p.text("DECAY") or "power:1",
        mode=mode, roads=roads, cost=cost,  # type: ignore[arg-type]
        access_speed_kmh=speed,
        min_distance=p.number("MIN_DISTANCE", minimum=0.0), progress=steps[1], snap_policy=policy)
    return {"OUTPUT": _write_surface(p, surface)}


@tool("kerneldensity", defaults={**GRID_DEFAULTS, "KERNEL": "quartic", "RADIUS": 30000.0, "RULE": "silverman",
                                 "OUTPUT_VALUES": "raw"})
def kerneldensity(p: Params) -> dict[str, Any]:
    """Kernel density of points on the grid, with the QGIS Heatmap conventions.

    Quartic kernel of radius ``RADIUS`` or Gaussian of bandwidth ``RADIUS`` (metres);
    ``RADIUS`` 0: Silverman's or Scott's rule (``RULE``). ``OUTPUT_VALUES`` ``raw`` (as the QGIS
    Heatmap), ``scaled`` (QGIS scaled output) or ``density`` (integrates to the total weight).
    ``WEIGHT_FIELD`` empty: every point weighs 1; polygons count at a representative point.

    Parameters
    ----------
    p
        The grid (``BOUNDARY``, ``CELL``, ``MEMORY_BUDGET``, ``METRIC_CRS``), ``POINTS``
        (points or polygons), ``WEIGHT_FIELD``, ``KERNEL`` (:data:`KERNELS`), ``RADIUS``
        (metres; 0: the rule), ``RULE`` (:data:`RULES`), ``OUTPUT_VALUES`` (:data:`KDE_OUTPUTS`).

    Returns
    -------
    dict
        ``OUTPUT``: the GeoTIFF written.
    """
    from iptown_gis.surfaces.kde import kde

    steps = p.progress.steps(2)
    kernel = p.choice("KERNEL", KERNELS)
    rule = p.choice("RULE", RULES)
    output = p.choice("OUTPUT_VALUES", KDE_OUTPUTS)
    radius = p.number("RADIUS", minimum=0.0)
    grid = grid_from_params(p)
    points = p.vector("POINTS", crs=grid.crs, geom_types=("Point", "Polygon"))
    steps[0].update(1.0, "layers read")
    surface = kde(points, grid, kernel=kernel, radius=radius or None, rule=rule,  # type: ignore[arg-type]
                  weight_field=p.text("WEIGHT_FIELD"), output=output, progress=steps[1])  # type: ignore[arg-type]
    return {"OUTPUT": _write_surface(p, surface)}


@tool("hotspots", defaults={"STATISTIC": "gi*", "WEIGHTS": "queen", "K": 6, "PERMUTATIONS": 999, "SEED": 20171,
                            "ALPHA": 0.05, "FDR": True})
def hotspots(p: Params) -> dict[str, Any]:
    """Hot and cold spots: local Getis-Ord Gi* or local Moran's I with permutation inference.

    Give either a layer (``INPUT``: counties, prefectures, points) and its ``FIELD``, or a
    surface raster (``SURFACE``: its cells are tested and returned as cell polygons).
    Neighbours (``WEIGHTS``): queen / rook contiguity, ``K`` nearest, or a distance band of
    ``DISTANCE`` metres (grids: queen or rook). P-values are corrected for multiple testing with
    Benjamini-Hochberg FDR unless ``FDR`` is false. Output columns: the statistic, z, p, q,
    hot_spot, cold_spot, significance.

    Parameters
    ----------
    p
        ``INPUT`` (polygons or points), ``FIELD``, ``SURFACE`` (GeoTIFF), ``STATISTIC``
        (:data:`STATISTICS`), ``WEIGHTS`` (:data:`WEIGHTS`), ``K``, ``DISTANCE`` (metres),
        ``PERMUTATIONS``, ``SEED``, ``ALPHA``, ``FDR``, ``METRIC_CRS``.

    Returns
    -------
    dict
        ``OUTPUT``: the GeoPackage written (layer ``hotspots``).

    Raises
    ------
    ParameterError
        Both or neither of a layer and a surface, or a layer without its field.
    """
    from iptown_gis.errors import ParameterError
    from iptown_gis.surfaces.hotspots import hotspots as _hotspots

    has_layer = p.has("INPUT")
    if has_layer == p.has("SURFACE"):
        raise ParameterError("give either a layer and its field, or a surface raster (exactly one)")
    statistic = p.choice("STATISTIC", STATISTICS)
    weights = p.choice("WEIGHTS", WEIGHTS)
    fld = p.text("FIELD")
    if has_layer:
        if fld is None:
            raise ParameterError("a layer needs the field to test: set 'Field to test'")
        target = p.vector("INPUT", geom_types=("Polygon", "Point"))
    else:
        fld = None
        target = surface_from_params(p, "SURFACE")
    p.progress.update(0.05, "computing local statistics with permutations")
    out = _hotspots(
        target, field=fld, statistic=statistic, weights=weights,  # type: ignore[arg-type]
        k=p.need_integer("K", minimum=1), distance=p.number("DISTANCE", minimum=0.0),
        permutations=p.need_integer("PERMUTATIONS", minimum=99), seed=p.need_integer("SEED"),
        alpha=p.need_number("ALPHA", minimum=0.0001, maximum=0.5),
        correction="fdr" if p.flag("FDR", True) else "none")
    return {"OUTPUT": p.write_vector("OUTPUT", out, layer="hotspots")}


@tool("zonalstatistics", defaults={"STATS": ["mean", "max", "sum"]})
def zonalstatistics(p: Params) -> dict[str, Any]:
    """Statistics of a surface (market potential, kernel density, ...) over each zone polygon.

    A cell counts for a zone when its centre is inside. Adds the columns
    ``<PREFIX>_<statistic>`` and ``<PREFIX>_count`` (cells) to the zones; ``PREFIX`` defaults to
    the surface's name. Zones in another CRS are put in the surface's (metric) CRS.

    Parameters
    ----------
    p
        ``SURFACE`` (GeoTIFF), ``ZONES`` (polygons), ``ID_FIELD``, ``STATS`` (a list of
        :data:`ZONAL_STATS`), ``PREFIX``.

    Returns
    -------
    dict
        ``OUTPUT``: the GeoPackage written (layer ``zonal``): the zones with the statistics.
    """
    from iptown_gis.surfaces.zonal import zonal_stats

    stats = p.choices("STATS", ZONAL_STATS) or ["mean"]
    surface = surface_from_params(p, "SURFACE")
    zones = p.vector("ZONES", crs=surface.grid.crs, geom_types=("Polygon",))
    table = zonal_stats(surface, zones, stats=stats, id_field=p.text("ID_FIELD"), prefix=p.text("PREFIX") or None)
    return {"OUTPUT": p.write_vector("OUTPUT", table, layer="zonal")}
