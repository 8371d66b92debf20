"""Random-entry twins: hand-computed layouts, the copied trades, and that planted
timing skill ranks at the top of its twins while coin-flip timing does not."""

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from mlbt.settings import EngineSettings
from mlbt.sim import Signals, backtest
from mlbt.strategy.twins import random_twins, schedule, tradable_start, twin_targets
from tests.conftest import bt


def test_a_layout_with_no_slack_is_one_of_the_trade_orders():
    # holds 2 and 3 take 3 + 4 decision bars: 7 slots leave no gap, so the two twins'
    # layouts are the two orders, entries at 10 and 13 (2 first) or 10 and 14 (3 first)
    entries, holds, sides = schedule(np.array([2, 3]), np.array([1.0, -1.0]), 10, 7, 200, np.random.default_rng(0))
    layouts = {(tuple(e), tuple(h), tuple(s)) for e, h, s in zip(entries, holds, sides, strict=True)}
    assert layouts == {((10, 13), (2, 3), (1.0, -1.0)), ((10, 14), (3, 2), (-1.0, 1.0))}


def test_gaps_are_uniform_over_the_slack():
    # one trade held 1 bar in 4 slots: its entry is at slot 0, 1 or 2, each a third of the time
    entries, _, _ = schedule(np.array([1]), np.array([1.0]), 0, 4, 30_000, np.random.default_rng(1))
    counts = Counter(entries[:, 0].tolist())
    assert sorted(counts) == [0, 1, 2]
    assert all(abs(c / 30_000 - 1 / 3) < 0.015 for c in counts.values())


def test_trades_never_overlap_and_keep_their_hold_and_side():
    rng = np.random.default_rng(2)
    holds = rng.integers(1, 30, 40)
    sides = rng.choice([1.0, -1.0], 40)
    entries, h, s = schedule(holds, sides, 50, 3000, 100, rng)
    for e, hh, ss in zip(entries, h, s, strict=True):
        assert (e[1:] > e[:-1] + hh[:-1]).all()  # each entry after the previous exit decision
        assert e[0] >= 50 and e[-1] + hh[-1] <= 50 + 3000 - 1
        assert sorted(zip(hh.tolist(), ss.tolist(), strict=True)) == sorted(zip(holds.tolist(), sides.tolist(),
                                                                                  strict=True))


def test_too_many_trades_shorten_the_longest_holds():
    entries, h, _ = schedule(np.array([5, 1]), np.array([1.0, 1.0]), 0, 5, 3, np.random.default_rng(0))
    assert sorted(h[0].tolist()) == [1, 2]  # 5 shortened to 2: 3 + 2 slots
    with pytest.raises(ValueError, match="do not fit"):
        schedule(np.array([1, 1, 1]), np.array([1.0, 1.0, 1.0]), 0, 5, 1, np.random.default_rng(0))


def test_targets_hold_the_side_from_entry_to_exit():
    target = twin_targets(np.array([[1, 5]]), np.array([[2, 4]]), np.array([[1.0, -1.0]]), 8)
    expected = [np.nan, 1.0, np.nan, 0.0, np.nan, -1.0, np.nan, np.nan]  # the second exit (bar 9) is past the end
    np.testing.assert_array_equal(target[:, 0], expected)


def _bars(T: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, T)))
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.002,
                         "low": np.minimum(open_, close) * 0.998, "close": close},
                        index=pd.date_range("2022-01-01", periods=T, freq="h"))


def _run(bars: pd.DataFrame, target: np.ndarray, **settings):
    engine = EngineSettings(fee=0.0005, **settings)
    signals = Signals(pd.Series(target, index=bars.index))
    return backtest(bars, signals, **engine), signals, engine


def test_each_twin_makes_the_strategys_trades():
    bars = _bars()
    rng = np.random.default_rng(3)
    target = np.full(len(bars), np.nan)
    at = np.sort(rng.choice(np.arange(100, 2900), 60, replace=False))
    target[at] = np.tile([1.0, 0.0, -1.0, 0.0], 15)
    result, signals, engine = _run(bars, target, sl=0.02)
    twins = random_twins(bars, result, signals, engine, 300, seed=4, start=100)
    assert twins.n == 300 and len(twins.sharpe) == 300 and twins.trades == len(result.trades)
    strategy = sorted(zip(result.trades["bars_held"], result.trades["side"], strict=True))
    entries, holds, sides = schedule(result.trades["bars_held"].to_numpy(),
                                     np.where(result.trades["side"] == "long", 1.0, -1.0), 100, len(bars) - 101, 3,
                                     np.random.default_rng(5))
    one = backtest(bars, Signals(twin_targets(entries, holds, sides, len(bars))), fee=0.0005)
    for c in range(3):  # a twin trades its layout exactly: same holds and sides, at its entries + 1 (next open)
        t = one.trades[one.trades["col"] == c]
        assert sorted(zip(t["bars_held"], t["side"], strict=True)) == strategy
        assert (t["entry_bar"].to_numpy() == entries[c] + 1).all()
    assert twins.band is not None and list(twins.band.columns) == ["p5", "p50", "p95"]
    assert (twins.band["p5"] <= twins.band["p50"]).all() and (twins.band["p50"] <= twins.band["p95"]).all()
    again = random_twins(bars, result, signals, engine, 300, seed=4, start=100)
    np.testing.assert_array_equal(again.sharpe, twins.sharpe)  # seeded


def test_planted_timing_skill_tops_its_twins_and_coin_flips_do_not():
    bars = _bars(4000, seed=6)
    up = np.r_[np.diff(bars["close"].to_numpy()) > 0, False]  # bar t+1 closes above bar t
    oracle = np.where(np.roll(up, -1), 1.0, -1.0)  # decided at t, filled at t+1's open, knowing t+1's close
    oracle[::2] = np.nan  # trade less often: holds of one or more bars
    result, signals, engine = _run(bars, oracle)
    skilled = random_twins(bars, result, signals, engine, 200, seed=0)
    assert skilled.to_dict()["percentile_sharpe"] == 100.0
    assert skilled.to_dict()["p_value"] == pytest.approx(1 / 201)
    assert skilled.verdict.endswith("evidence of timing skill at 5%") and "no evidence" not in skilled.verdict
    coin = np.random.default_rng(7).choice([1.0, -1.0, 0.0], len(bars))
    coin[np.random.default_rng(8).random(len(bars)) < 0.9] = np.nan
    result, signals, engine = _run(bars, coin)
    lucky = random_twins(bars, result, signals, engine, 200, seed=0).to_dict()
    assert 5.0 < lucky["percentile_sharpe"] < 95.0 and lucky["p_value"] > 0.05
    assert lucky["band_sharpe"][0] < lucky["median_sharpe"] < lucky["band_sharpe"][1]


def test_no_trade_gives_no_twins():
    bars = _bars(500)
    result, signals, engine = _run(bars, np.zeros(len(bars)))
    twins = random_twins(bars, result, signals, engine, 10)
    assert twins.trades == 0 and twins.to_dict()["verdict"] == "no twins: the strategy made no trade to copy"


def test_the_tradable_bars_start_at_the_first_prediction():
    signals = Signals(pd.Series([np.nan, np.nan, 0.0, 1.0, 0.0]))
    assert tradable_start(signals, []) == 2
    assert tradable_start(signals, [{"predict_start": 3}]) == 3


def test_bt_run_twins_json_and_report(tmp_path):
    out = bt("run", "strategies/sma_cross.py", "--twins", "100", "--json", "--quiet", "--report",
             str(tmp_path / "r.html"), "--save", str(tmp_path / "run"))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    twins = doc["twins"]
    assert twins["n"] == 100 and twins["trades"] == doc["stats"]["trades"]
    for key in ("percentile_sharpe", "percentile_return", "median_sharpe", "band_sharpe"):
        assert key in twins
    assert 0.0 <= twins["percentile_sharpe"] <= 100.0 and len(twins["band_sharpe"]) == 2
    html = (tmp_path / "r.html").read_text()
    assert "Is it skill?" in html and "random-entry twins, 5-95%" in html
    again = bt("report", str(tmp_path / "run"), "--output", str(tmp_path / "again.html"))
    assert again.returncode == 0, again.stderr
    assert "random-entry twins, 5-95%" in (tmp_path / "again.html").read_text()  # saved with the run


def test_bt_run_twins_text_and_refusals():
    out = bt("run", "strategies/sma_cross.py", "--twins", "50", "--no-report", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "random-entry twins (50, " in out.stdout and "timing skill at 5%" in out.stdout
    bad = bt("run", "strategies/sma_cross.py", "--data", "coins_1d", "--symbols", "BTC,ETH", "--twins", "10",
             "--no-report")
    assert bad.returncode == 2 and "--twins" in bad.stderr and "Traceback" not in bad.stderr
