"""A real 2-worker Dask LocalCluster for the whole tests/parallel session, and Anhui inputs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def executor():
    from iptown_gis.parallel import dask_executor

    with dask_executor(workers=2, threads_per_worker=1, processes=True, memory_budget="2GB") as ex:
        yield ex


@pytest.fixture(scope="session")
def anhui_net():
    from iptown_gis.crs.metric import to_metric
    from iptown_gis.datasets import anhui_layer
    from iptown_gis.network import build_network

    roads = to_metric(anhui_layer("roads"), crs="EPSG:4548", name="roads")
    return build_network(roads, length_field="length_km")


@pytest.fixture(scope="session")
def anhui_seat_nodes(anhui_net):
    from iptown_gis.crs.metric import to_metric
    from iptown_gis.datasets import anhui_layer

    seats = to_metric(anhui_layer("seats"), crs="EPSG:4548", name="seats")
    x = seats.geometry.x.to_numpy()
    y = seats.geometry.y.to_numpy()
    d = np.hypot(anhui_net.x[None, :] - x[:, None], anhui_net.y[None, :] - y[:, None])
    return d.argmin(axis=1)
