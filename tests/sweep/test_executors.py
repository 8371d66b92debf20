"""The Dask executor: a LocalCluster of 2 worker processes gives the local executor's
results bit for bit (signal, engine and model params; walk-forward), and a plugin
travels to workers as source."""

from __future__ import annotations

import pandas as pd
import pytest

from mlbt import load_strategy
from mlbt.data import load
from mlbt.sweep import EngineSettings, build_grid, run_sweep
from mlbt.sweep.runner import PluginRef
from tests.conftest import ROOT

SMA = "strategies/sma_cross.py"

MODEL_PLUGIN = (ROOT / "tests" / "plugins" / "momentum.py").read_text().replace(", sl=0.05", "")


@pytest.fixture(scope="module")
def dask_executor():
    pytest.importorskip("distributed")
    from mlbt.sweep.executors import DaskExecutor

    ex = DaskExecutor(workers=2)
    yield ex
    ex.close()


def test_dask_local_cluster_equals_local(tmp_path, dask_executor):
    assert dask_executor.n_workers == 2 and dask_executor.cluster is not None
    bars = load("btcusd_1h", warn=False).iloc[:8000]
    sma = load_strategy(SMA)
    grid = build_grid(["fast=5:20:5", "slow=30,60,90", "fee=0.0005,0.001", "sl=none,0.02"], sma.params)
    engine = EngineSettings(tp=0.06)
    local = run_sweep(SMA, grid, bars, engine=engine, chunk_size=5)
    remote = run_sweep(SMA, grid, bars, engine=engine, chunk_size=5, executor=dask_executor,
                       out=tmp_path / "dask")
    pd.testing.assert_frame_equal(local.table, remote.table, check_exact=True)
    # (pd.Series.equals: NaN metrics, such as bankrupt_bar of a column that never went bankrupt, match)
    assert remote.chunks == 10 and local.dsr == remote.dsr and pd.Series(local.best).equals(pd.Series(remote.best))
    # without a chunk size the probe runs on a worker and every worker gets chunks
    probed = run_sweep(SMA, grid, bars, engine=engine, executor=dask_executor, deflate=False)
    assert probed.chunks >= 4
    pd.testing.assert_frame_equal(local.table, probed.table, check_exact=True)

    plugin = tmp_path / "momentum.py"
    plugin.write_text(MODEL_PLUGIN)
    mgrid = build_grid(["window=10,30,60", "edge=0.0,0.01"], load_strategy(plugin).params)
    a = run_sweep(plugin, mgrid, bars, chunk_size=1, walk_forward=3)
    b = run_sweep(plugin, mgrid, bars, chunk_size=1, walk_forward=3, executor=dask_executor)
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    assert pd.Series(a.walk_forward["stats"]).equals(pd.Series(b.walk_forward["stats"]))


def test_plugin_travels_as_source(tmp_path):
    plugin = tmp_path / "momentum.py"
    plugin.write_text(MODEL_PLUGIN)
    ref = PluginRef.from_path(plugin, {"edge": "0.01"})
    plugin.unlink()  # as on a worker without the file: loaded from the shipped source
    strategy = ref.load(window=15)
    assert strategy.name == "momentum" and strategy.values == {"window": 15, "edge": 0.01}
