"""Pipeline stage ``network``: build the study network and the seat-to-seat cost matrix.

Sets ``ctx.network``, a :class:`~iptown_gis.stage_results.NetworkResult` with ``network``
(:class:`~iptown_gis.network.Network`) and ``seat_od`` (:class:`~iptown_gis.network.ODMatrix`,
ids = the seats' id field, weight and unit from the section; minutes by default), and writes
``network/network.gpkg`` (layers nodes, edges) and ``network/od_seats.{csv,parquet,npz}``.

With ``ctx.executor`` set (``iptown run --workers N``), the seat OD shortest paths run on Dask
in batches of sources (:func:`iptown_gis.network.node_costs`); the costs are identical.
"""

from __future__ import annotations

import logging

from iptown_gis.network.build import build_network
from iptown_gis.network.config import NetworkConfig
from iptown_gis.network.od import od_matrix
from iptown_gis.network.osm import write_network
from iptown_gis.pipeline import StudyContext
from iptown_gis.progress import Progress
from iptown_gis.stage_results import NetworkResult

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(ctx: StudyContext, progress: Progress) -> None:
    """Build the network and the seat OD matrix; see the module docstring."""
    cfg: NetworkConfig = ctx.scenario.section("network") or NetworkConfig()
    roads = ctx.layer(cfg.roads, geom_types=("LineString",))
    rail = ctx.layer(cfg.railways, geom_types=("LineString",)) if cfg.railways else None
    stations = None
    if rail is not None:
        stations = ctx.layer(cfg.stations or cfg.seats, geom_types=("Point",))
    progress.update(0.0, "building network")
    net = build_network(
        roads, railways=rail, stations=stations, speeds=cfg.speeds, default_speed_kmh=cfg.default_speed_kmh,
        rail_speed_kmh=cfg.rail_speed_kmh, snap_tolerance=cfg.snap_tolerance,
        split_crossings=cfg.split_crossings, length_field=cfg.length_field, length_unit=cfg.length_unit,
        oneway_field=cfg.oneway_field, class_field=cfg.class_field, speed_field=cfg.speed_field,
        transfer_penalty_min=cfg.transfer_penalty_min, transfer_max_distance=cfg.transfer_max_distance,
        crs=roads.crs, progress=progress.sub(0.0, 0.4),
    )
    ctx.network = result = NetworkResult(network=net)
    seats = ctx.layer(cfg.seats, geom_types=("Point",))
    od = od_matrix(
        net, seats, id_field=cfg.seat_id_field, weight=cfg.weight, snap=cfg.snap,
        access_speed_kmh=cfg.access_speed_kmh, max_snap_distance=cfg.max_snap_distance,
        largest_component=cfg.largest_component, snap_to="road" if rail is not None else None,
        executor=ctx.executor, progress=progress.sub(0.4, 0.8),
    )
    result.seat_od = od
    progress.update(0.8, "writing network outputs")
    if cfg.write_network:
        p = write_network(net, ctx.path("network", "network.gpkg"))
        ctx.add_output(p, stage="network", kind="vector", description="network nodes and edges")
    for suffix, writer, kind in ((".csv", od.to_csv, "table"), (".parquet", od.to_parquet, "table"),
                                 (".npz", od.to_npz, "matrix")):
        p = writer(ctx.path("network", f"od_seats{suffix}"))
        ctx.add_output(p, stage="network", kind=kind,
                       description=f"seat-to-seat {od.weight} cost ({od.unit}), long table origin_id, "
                                   "destination_id, cost" if kind == "table" else f"seat OD matrix ({od.unit})")
    log.info("network stage: %r; seat OD %d x %d, max snap %.0f m", net, *od.shape,
             float(od.meta["origin_snap_m"].max()))
