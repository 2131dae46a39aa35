"""Memory budget parsing, derived sizes, the [parallel] section and executor errors."""

from __future__ import annotations

import pytest

from iptown_gis.errors import ParameterError, ScenarioError
from iptown_gis.parallel import MemoryBudget, dask_executor, parse_bytes
from iptown_gis.parallel.config import ParallelConfig


@pytest.mark.parametrize(("text", "n"), [("4GB", 4 * 1024**3), ("512 MiB", 512 * 1024**2), ("1.5g", int(1.5 * 1024**3)),
                                         (1000, 1000)])
def test_parse_bytes(text, n):
    assert parse_bytes(text) == n


@pytest.mark.parametrize("bad", ["lots", "4 parsecs", "-1GB", 0, True])
def test_parse_bytes_errors(bad):
    with pytest.raises(ParameterError, match="memory size"):
        parse_bytes(bad)


def test_sizes_follow_budget():
    small, big = MemoryBudget.from_setting("1GB"), MemoryBudget.from_setting("8GB")
    assert big.od_batch_size(120_579) > small.od_batch_size(120_579) >= 1
    assert big.od_batch_size(120_579) * 120_579 * 8 * 3 <= big.working_bytes
    assert big.tile_size(3000) >= small.tile_size(3000)
    assert small.tile_size(3000) % 64 == 0
    assert MemoryBudget.from_setting(None).bytes_per_worker == 4 * 1024**3
    with pytest.raises(ParameterError, match="too small"):
        MemoryBudget(1000).od_batch_size(10**6)


def test_config_section():
    cfg = ParallelConfig(workers=2, memory_budget="2GB", tile_size=512)
    assert cfg.budget().bytes_per_worker == 2 * 1024**3
    with pytest.raises(ValueError, match="memory size"):
        ParallelConfig(memory_budget="much")
    with pytest.raises(ValueError, match="extra"):
        ParallelConfig(cores=3)


def test_scenario_rejects_bad_budget(tmp_path, scenario_path):
    from iptown_gis.scenario import load_scenario

    text = scenario_path.read_text(encoding="utf-8")
    p = scenario_path.parent / "_tmp_parallel_bad.toml"
    try:
        p.write_text(text + '\n[parallel]\nmemory_budget = "four gigs"\n', encoding="utf-8")
        with pytest.raises(ScenarioError, match="memory_budget"):
            load_scenario(p)
    finally:
        p.unlink(missing_ok=True)


def test_executor_argument_errors():
    with pytest.raises(ParameterError, match="not both"), dask_executor(scheduler="tcp://127.0.0.1:1", workers=2):
        pass


def test_two_local_clusters_at_once():
    """Two studies on local clusters at the same time (two planners, or a test beside a run): the
    second must not fail on the dashboard port the first holds."""
    with dask_executor(workers=1, processes=False, memory_budget="1GB") as a, \
            dask_executor(workers=1, processes=False, memory_budget="1GB") as b:
        assert a.map_tasks(abs, [-1, -2]) == [1, 2]
        assert b.map_tasks(abs, [-3]) == [3]
