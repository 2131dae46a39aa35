"""Criteria from plain objects (no scenario section), robustness on the serial executor."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pytest

from iptown_gis.errors import ParameterError
from iptown_gis.parallel import SerialExecutor
from iptown_gis.sites.criteria import anchors_from_specs, compute_criteria
from iptown_gis.sites.scoring import robustness


@dataclass(frozen=True)
class Crit:
    name: str
    source: str
    weight: float = 1.0
    direction: str = "benefit"
    column: str | None = None
    per: str | None = None
    anchors: list[str] = field(default_factory=list)
    aggregate: str = "min"
    scenario: str | None = None
    transform: str = "none"
    required: bool = False


@dataclass(frozen=True)
class Anchor:
    name: str
    lon: float
    lat: float
    kind: str = "anchor"
    label: str = ""


def test_compute_criteria_from_dataclasses(sample_gpkg) -> None:
    seats = gpd.read_file(sample_gpkg, layer="seats")
    res = compute_criteria(seats, [Crit("pop", "column", column="pop_2020", transform="log1p")], results={})
    np.testing.assert_allclose(res.values["pop"], np.log1p(seats["pop_2020"].to_numpy(dtype=float)))
    assert [s.name for s in res.specs] == ["pop"]
    a = anchors_from_specs([Anchor("ustc", 117.264, 31.839, kind="university")], crs="EPSG:4548")
    assert a.crs.to_epsg() == 4548
    assert list(a["kind"]) == ["university"]


def test_robustness_same_on_the_serial_executor() -> None:
    rng = np.random.default_rng(11)
    crit = rng.random((30, 3))
    a = robustness(crit, [0.5, 0.3, 0.2], ids=np.arange(30), k=4, draws=500, seed=2, batch=64)
    b = robustness(crit, [0.5, 0.3, 0.2], ids=np.arange(30), k=4, draws=500, seed=2, batch=64,
                   executor=SerialExecutor())
    c = robustness(crit, [0.5, 0.3, 0.2], ids=np.arange(30), k=4, draws=500, seed=2, batch=500)
    for name in ("p_top_k", "rank_p05", "rank_median", "rank_p95", "weights"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.array_equal(getattr(a, name), getattr(c, name)), name   # batching changes nothing
    assert 0 < a.p_top_k.max() <= 1
    with pytest.raises(ParameterError, match="batch must be at least 1"):
        robustness(crit, [1, 1, 1], ids=np.arange(30), k=4, batch=0)
