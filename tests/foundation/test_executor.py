"""The executor protocol: the serial default runs the same tasks as Dask would, in order."""

from __future__ import annotations

import numpy as np
import pytest

from iptown_gis.errors import CancelledError, ParameterError
from iptown_gis.parallel import Executor, MemoryBudget, SerialExecutor, as_executor, run_tasks


def _square_plus(item: int, shared: dict[str, int]) -> int:
    return item * item + shared["add"]


def test_serial_is_the_default_and_an_executor() -> None:
    ex = as_executor(None)
    assert isinstance(ex, SerialExecutor)
    assert isinstance(ex, Executor)
    assert ex.budget.bytes_per_worker == MemoryBudget().bytes_per_worker
    assert ex.tile_size is None
    assert ex.od_batch is None
    assert ex.n_threads == 1
    assert as_executor(ex) is ex


def test_run_tasks_keeps_the_order_and_reports_progress() -> None:
    seen: list[tuple[float, str]] = []
    out = run_tasks(_square_plus, [3, 1, 2], shared={"add": 10}, progress=lambda f, m: seen.append((f, m)))
    assert out == [19, 11, 14]
    assert [f for f, _ in seen] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    assert seen[-1][1] == "tasks: 3/3"


def test_serial_map_tasks_hands_results_to_on_result() -> None:
    got: dict[int, int] = {}
    res = SerialExecutor().map_tasks(_square_plus, [4, 5], {"add": 0}, on_result=got.__setitem__)
    assert got == {0: 16, 1: 25}
    assert res == [None, None]  # handed over, not kept


def test_serial_cancels_between_tasks() -> None:
    calls: list[int] = []

    def task(item: int) -> int:
        calls.append(item)
        return item

    with pytest.raises(CancelledError, match="cancelled"):
        SerialExecutor().map_tasks(task, [1, 2, 3], progress=lambda f, m: f < 0.5)
    assert calls == [1, 2]


def test_not_an_executor() -> None:
    with pytest.raises(ParameterError, match=r"executor must be None .* got int"):
        as_executor(4)  # type: ignore[arg-type]


def test_moved_names_warn_and_forward() -> None:
    from iptown_gis.neg.sweeps import neg_sweep
    from iptown_gis.sites.scoring import robustness
    from iptown_gis.surfaces.potential import market_potential_tiled

    with pytest.warns(DeprecationWarning, match="surfaces.potential.market_potential_tiled"):
        from iptown_gis.parallel.tiles import market_potential_tiled as old_mp
    assert old_mp is market_potential_tiled
    with pytest.warns(DeprecationWarning, match="sites.scoring.robustness"):
        from iptown_gis.parallel.sweeps import sites_robustness
    assert sites_robustness is robustness
    import iptown_gis.parallel as par

    with pytest.warns(DeprecationWarning, match="neg.sweeps.neg_sweep"):
        old_sweep = par.neg_sweep
    assert old_sweep is neg_sweep
    with pytest.warns(DeprecationWarning, match="iptown_gis.sites.config"):
        from iptown_gis.sites import SitesConfig
    from iptown_gis.sites.config import SitesConfig as new

    assert SitesConfig is new
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = par.tiles.nope  # type: ignore[attr-defined]
    np.testing.assert_array_equal(par.monte_carlo(_draw, 2, seed=1), par.monte_carlo(_draw, 2, seed=1))


def _draw(rng: np.random.Generator, shared: object) -> float:
    return float(rng.random())
