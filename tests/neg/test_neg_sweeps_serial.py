"""NEG scenarios and sweeps without the scenario layer, on the serial executor."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from iptown_gis.errors import ScenarioError
from iptown_gis.parallel import SerialExecutor


@dataclass(frozen=True)
class Sc:
    name: str
    description: str = ""
    links: list[list[str]] = field(default_factory=list)
    link_factor: float = 0.6
    links_layer: str | None = None
    link_speed_kmh: float = 250.0
    link_access_min: float = 15.0
    link_snap_km: float = 15.0
    moving_cost: float | None = None
    moving_cost_per_hour: float | None = None
    barrier: float | None = None
    amenity: dict[str, float] = field(default_factory=dict)
    congestion: float | None = None
    tau: float | None = None


@dataclass(frozen=True)
class Settings:
    scenarios: list[Sc]
    sigma: float = 5.0
    mu: float = 0.4
    tau: float = 0.3
    strict: bool = False
    tol: float = 1e-9
    id_field: str = "adcode"
    moving_cost: float = 0.0
    moving_cost_per_hour: float = 0.0
    barrier: float = 0.0
    congestion: float = 0.05


def _ring(r: int) -> np.ndarray:
    from iptown_gis.neg import ring_distance

    return ring_distance(r)


def test_run_scenarios_takes_plain_settings_and_any_executor() -> None:
    """A dataclass stands for the [neg] section (no pydantic); the serial executor = in-process."""
    from iptown_gis.neg.scenarios import run_scenarios

    ids = ["a", "b", "c", "d", "e"]
    cfg = Settings(scenarios=[Sc("baseline"), Sc("link", links=[["a", "c"]], link_factor=0.3),
                              Sc("amen", amenity={"b": 0.2})])
    lam0 = np.array([0.3, 0.2, 0.2, 0.15, 0.15])
    a = run_scenarios(_ring(5), region_ids=ids, config=cfg, lam0=lam0)
    b = run_scenarios(_ring(5), region_ids=ids, config=cfg, lam0=lam0, executor=SerialExecutor())
    assert list(a) == ["baseline", "link", "amen"]
    for name in a:
        np.testing.assert_array_equal(a[name].result.lam, b[name].result.lam)
    assert np.abs(a["link"].result.lam - a["baseline"].result.lam).max() > 1e-6
    assert a["link"].cost[0, 2] == pytest.approx(0.6)   # 2 steps x 0.3
    with pytest.raises(ScenarioError, match="amenity for unknown region id 'zz'"):
        run_scenarios(_ring(5), region_ids=ids, config=Settings(scenarios=[Sc("x", amenity={"zz": 1.0})]),
                      executor=SerialExecutor())


def test_bifurcation_tasks_equal_one_call() -> None:
    from iptown_gis.neg.diagrams import bifurcation
    from iptown_gis.neg.sweeps import neg_bifurcation

    ref = bifurcation(_ring(4), [0.1, 0.6])
    got = neg_bifurcation(_ring(4), [0.1, 0.6], executor=SerialExecutor())
    assert got.equals(ref)
    assert ref["share"].max() > 0.6
