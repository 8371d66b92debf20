"""The cross-sectional hook (``weights(ctx, p)``): the shipped coin ranker's weights
computed by hand on a small universe, the columns and groups they trade as, the
audit passing the ranker and failing a planted leak (ranking by the next bar's
return), and the one-line refusals."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlbt import backtest, load_strategy
from mlbt.cli import main
from mlbt.data import load
from mlbt.strategy import Context, CrossContext, audit_cross, is_cross_sectional, prepare_assets, universe_signals
from mlbt.strategy.cross_section import cross_signals
from tests.conftest import ROOT

RANKER = str(ROOT / "strategies/coin_ranker.py")
TINY = ["--set", "epochs=1", "--set", "lookback=10"]


def small_universe(forecasts: dict[str, list[float]]) -> CrossContext:
    """A CrossContext of assets whose ``prediction`` column is ``forecasts`` (NaN: no
    model yet); every close 100, and a NaN close where the forecast is None."""
    idx = pd.date_range("2024-01-01", periods=len(next(iter(forecasts.values()))), freq="1D", tz="UTC")
    contexts, closes = {}, {}
    for asset, f in forecasts.items():
        close = np.array([np.nan if v is None else 100.0 for v in f])
        bars = pd.DataFrame({"open": close, "high": close, "low": close, "close": close}, index=idx)
        preds = pd.DataFrame({"prediction": [np.nan if v is None else v for v in f]}, index=idx)
        contexts[asset] = Context(bars, pd.DataFrame(index=idx), preds)
        closes[asset] = bars
    universe = pd.concat(closes, axis=1).swaplevel(axis=1).sort_index(axis=1)
    universe.columns.names = ["field", "asset"]
    return CrossContext(universe, contexts)


def test_the_ranker_holds_the_best_forecasts_as_computed_by_hand():
    ranker = load_strategy(RANKER)
    assert is_cross_sectional(ranker)
    ctx = small_universe({"A": [0.03, 0.01, np.nan, -0.02], "B": [0.01, 0.02, 0.01, -0.01],
                          "C": [-0.01, 0.005, 0.02, None]})
    grid = ranker.grid(pd.DataFrame({"top_k": [1, 2, 1], "min_edge": [0.0, 0.0, 0.015],
                                     "short_bottom": [False, False, True]}))
    w = ranker.weights(ctx, grid)  # (bars, assets, combinations)
    assert w.shape == (4, 3, 3)
    # top 1: bar 0 A (0.03), bar 1 B (0.02), bar 2 C (0.02; A has no forecast), bar 3 B (-0.01 > -0.02, but
    # not above min_edge 0); C has no bar at 3: NaN, keep
    np.testing.assert_array_equal(w[:, :, 0], [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, np.nan]])
    # top 2, each 1/2: bar 0 A and B; bar 1 B and A; bar 2 C and B; bar 3 none is above 0
    np.testing.assert_array_equal(w[:, :, 1], [[.5, .5, 0], [.5, .5, 0], [0, .5, .5], [0, 0, np.nan]])
    # top 1 above 0.015 long, worst 1 below -0.015 short, each weight halved: bar 0 A long (C -0.01 is not
    # below -0.015); bar 1 none long (0.02 > 0.015: B long); bar 2 C long; bar 3 A short (-0.02)
    np.testing.assert_array_equal(w[:, :, 2], [[.5, 0, 0], [0, .5, 0], [0, 0, .5], [-.5, 0, np.nan]])


def test_weights_trade_as_target_weights_with_a_group_per_combination():
    ranker = load_strategy(RANKER)
    ctx = small_universe({"A": [0.03, 0.01, 0.0], "B": [0.01, 0.02, 0.0]})
    signals = cross_signals(ranker, ctx, ranker.grid(pd.DataFrame({"top_k": [1, 2]})))
    assert list(signals.target.columns) == [(1, "A"), (1, "B"), (2, "A"), (2, "B")]
    np.testing.assert_array_equal(signals.target.to_numpy(), [[1, 0, .5, .5], [0, 1, .5, .5], [0, 0, 0, 0]])
    closes = ctx.bars.copy()
    closes[("close", "B")] = [100.0, 110.0, 121.0]  # B rises 10% a bar; fills at the next open (100)
    closes[("open", "B")] = closes[("high", "B")] = closes[("low", "B")] = closes[("close", "B")]
    result = backtest(closes, signals, cash_sharing=True, size_type="target_weight")
    assert list(result.groups) == [1, 2]
    # top 1: A at bar 1's open (flat), then B bought at bar 2's open 121 and marked there: no gain;
    # top 2: half in B from bar 1's open (110) to bar 2's close (121): +5% of equity
    np.testing.assert_allclose(result.equity.iloc[-1].to_numpy(), [100_000.0, 105_000.0])


def test_a_shape_other_than_assets_by_combinations_is_named():
    class Bad:
        name = "bad"

        def weights(self, ctx, p):
            return np.zeros((3, 5))

        def grid(self):
            return load_strategy(RANKER).grid()

    ctx = small_universe({"A": [0.0, 0.0, 0.0], "B": [0.0, 0.0, 0.0]})
    with pytest.raises(ValueError, match=r"\.weights returned shape \(3, 5\) .*; expected \(bars, assets\) = \(3, 2\)"):
        cross_signals(Bad(), ctx)  # type: ignore[arg-type]


def test_the_ranker_runs_over_the_coins_from_the_cli_as_in_the_python_api(tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    res = CliRunner().invoke(main, ["run", RANKER, *TINY, *cache, "--json", "--quiet"])  # every coin by default
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["symbols"] == ["BTC", "ETH", "LTC"] and out["engine"]["size_type"] == "target_weight"
    bars = load("coins_1d", symbols="all", warn=False)
    ranker = load_strategy(RANKER, epochs=1, lookback=10)
    ready = prepare_assets(ranker, bars, cache_dir=str(tmp_path / "cache"))
    assert all(p is not None and p.cache_hit for p in ready.values())  # the CLI's models, from the cache
    direct = backtest(bars, universe_signals(ranker, bars, ready, engine={"size_type": "target_weight"}),
                      cash_sharing=True, size_type="target_weight", fee=0.001)
    assert out["stats"]["total_return"] == pytest.approx(float(direct.stats["total_return"]), rel=1e-12)
    held = np.abs(direct.weight.to_numpy())
    assert np.nanmax(held.sum(axis=1)) < 1.5  # one coin at a time (its weight drifts between rebalances)
    assert (direct.orders["reason"].astype(str) != "rebalance").sum() > 0


def test_the_ranker_passes_the_audit_and_a_planted_cross_sectional_leak_fails(tmp_path):
    res = CliRunner().invoke(main, ["check", RANKER, *TINY, "--cuts", "1", "--rule-cuts", "10", "--quiet"],
                             env={"BT_CACHE_DIR": str(tmp_path)})
    assert res.exit_code == 0, res.output
    assert "PASS  all      cross-section 10 cut points" in res.output
    leak = tmp_path / "leak.py"
    shutil.copy(ROOT / "tests/plugins/cross_leak.py", leak)
    res = CliRunner().invoke(main, ["check", str(leak), "--rule-cuts", "10", "--quiet"])
    assert res.exit_code == 1
    assert "FAIL  all      cross-section 10 of 10 cut points changed a value" in res.output
    stage = audit_cross(load_strategy(leak), load("coins_1d", symbols="all", warn=False), cuts=3)
    assert not stage.passed and len({t for t, _, _ in stage.failures}) == 3


def test_the_ranker_on_one_instrument_is_refused_in_one_line():
    res = CliRunner().invoke(main, ["run", RANKER, "--symbol", "BTC", "--no-report"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "coin_ranker ranks assets (weights()): run it on a universe, e.g. --symbols all" in res.output
    res = CliRunner().invoke(main, ["run", RANKER, "--symbols", "all", "--size-type", "entry_fraction",
                                    "--no-report", *TINY])
    assert res.exit_code == 2 and "run it with size_type='target_weight'" in res.output


def test_the_pooled_ranker_trains_one_model_over_the_coins_and_passes_its_audit(tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    res = CliRunner().invoke(main, ["run", RANKER, "--set", "pooled=true", *TINY, *cache, "--no-report", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "model: price (fast profile), one pooled over 3 assets" in res.stdout and "trained now" in res.stdout
    bars = load("coins_1d", symbols="all", warn=False)
    ready = prepare_assets(load_strategy(RANKER, pooled=True, epochs=1, lookback=10), bars,
                           cache_dir=str(tmp_path / "cache"))
    assert len({p.cache_key for p in ready.values() if p is not None}) == 1  # one model, cached once
    assert all(p is not None and p.cache_hit for p in ready.values())
    res = CliRunner().invoke(main, ["check", RANKER, "--set", "pooled=true", *TINY, "--cuts", "1", "--rule-cuts", "5",
                                    "--quiet"])
    assert res.exit_code == 0, res.output
    assert "PASS  all      pooled model 1 cut points" in res.output


def test_an_allocation_for_the_ranker_is_refused_before_any_training():
    res = CliRunner().invoke(main, ["run", RANKER, "--allocation", "inverse_vol", "--no-report"])
    assert res.exit_code == 2 and "--allocation inverse_vol: coin_ranker's weights() are its allocation" in res.output
