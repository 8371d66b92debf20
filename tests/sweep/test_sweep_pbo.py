"""A sweep's probability of backtest overfitting: the per-block return sums its
streaming pass keeps equal those of each combination's recorded equity curve, so
the PBO equals CSCV over the full returns; ``bt sweep`` prints it, ``--json`` and the
report carry it, and bad ``--pbo-blocks`` is one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlbt import backtest, load_strategy
from mlbt.strategy.pipeline import make_signals, prepare
from mlbt.sweep import EngineSettings, block_columns, build_grid, run_sweep
from mlbt.sweep.pbo import block_moments, probability_of_overfitting
from tests.conftest import bt

SMA = "strategies/sma_cross.py"


def test_streamed_block_sums_give_the_pbo_of_the_recorded_returns(btc_sample):
    bars = btc_sample.iloc[:6000]
    sma = load_strategy(SMA)
    grid = build_grid(["fast=5:40:5", "slow=60:120:30"], sma.params)
    result = run_sweep(SMA, grid, bars, engine=EngineSettings(fee=0.001), chunk_size=5, deflate=False)
    returns = []
    for row in result.table.itertuples(index=False):
        s = load_strategy(SMA, fast=row.fast, slow=row.slow)
        equity = backtest(bars, make_signals(s, prepare(s, bars).ctx), fee=0.001).equity.to_numpy()
        returns.append(equity / np.r_[100_000.0, equity[:-1]] - 1.0)
    moments = block_moments(np.array(returns), 16)
    sums = result.table[block_columns(16)].to_numpy()
    np.testing.assert_allclose(sums[:, :16], moments.sum1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sums[:, 16:], moments.sum2, rtol=0, atol=1e-12)
    direct = probability_of_overfitting(*moments)
    assert result.pbo is not None and result.pbo.combinations == 12_870 and result.pbo.columns == len(grid)
    assert result.pbo.pbo == direct.pbo
    np.testing.assert_array_equal(result.pbo.selected, direct.selected)


def test_a_universe_sweep_has_the_pbo_of_its_portfolios():
    bars_args = ["--data", "coins_1d", "--symbols", "BTC,ETH"]
    out = bt("sweep", SMA, *bars_args, "--grid", "fast=5:20:5", "--grid", "slow=30,60", "--pbo-blocks", "8",
             "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    pbo = json.loads(out.stdout)["pbo"]
    assert pbo["blocks"] == 8 and pbo["combinations"] == 70 and pbo["columns"] == 8
    assert 0.0 <= pbo["pbo"] <= 1.0


def test_walk_forward_and_no_blocks_have_no_pbo(btc_sample):
    bars = btc_sample.iloc[:3000]
    grid = build_grid(["fast=5,10", "slow=60"], load_strategy(SMA).params)
    assert run_sweep(SMA, grid, bars, walk_forward=2).pbo is None
    none = run_sweep(SMA, grid, bars, pbo_blocks=0, deflate=False)
    assert none.pbo is None and "r_b00" not in none.table.columns
    with pytest.raises(ValueError, match="even"):
        run_sweep(SMA, grid, bars, pbo_blocks=7)


def test_bt_sweep_prints_json_and_reports_the_pbo(tmp_path):
    args = [SMA, "--grid", "fast=5:50:5", "--grid", "slow=60:200:20"]
    out = bt("sweep", *args, "--quiet")
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("Probability of backtest overfitting: "))
    assert "16 blocks, 12,870 in/out-of-sample splits of 80 combinations" in line
    doc = json.loads(bt("sweep", *args, "--json", "--quiet", "--out", str(tmp_path / "sw")).stdout)
    assert set(doc["pbo"]) >= {"pbo", "blocks", "combinations", "degradation"} and doc["dsr"] is not None
    assert set(doc["pbo"]["degradation"]) >= {"slope", "intercept", "prob_oos_loss"}
    assert f"{doc['pbo']['pbo']:.2f}" in line
    report = bt("report", str(tmp_path / "sw"), "-o", str(tmp_path / "sw.html"))
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "sw.html").read_text()
    assert "fig-pbo-logits" in html and "fig-pbo-scatter" in html and "PBO (share of splits" in html
    bad = bt("sweep", *args, "--pbo-blocks", "5")
    assert bad.returncode == 2 and "--pbo-blocks 5" in bad.stderr and "Traceback" not in bad.stderr
