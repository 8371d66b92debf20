"""Every strategy plugin end to end: through the ``bt run`` command (in process; fast profile, one
epoch, a slice of the data), its JSON checked for consistency and a second run served
from the prediction cache; then in process, that every trade follows from the signals:
entries one bar after a fresh target change to their side (next-open fills), signal and
time exits where the target or ``max_hold`` says, and stops at entry x (1 -/+ the
distance read at the entry's decision bar)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlbt import backtest, load_strategy
from mlbt.data import load
from mlbt.strategy.funnel import signal_funnel
from mlbt.strategy.pipeline import make_signals, prepare
from tests.conftest import bt

ROOT = Path(__file__).resolve().parents[2]
HOURLY = {"data": "btcusd_1h", "start": "2018-01-01", "end": "2018-05-10"}  # 3,120 hourly bars
DAILY = {"data": "spx_vix_1d", "start": None, "end": None}  # all 1,257 daily bars
TINY = {"epochs": 1, "min_train": 1200, "retrain_every": 1000, "lookback": 30, "batch_size": 256}

# plugin -> (data slice, --set params, a signal-param grid for the in-process checks)
CASES = {
    "sma_cross": (HOURLY, {}, {"fast": [10, 20], "slow": [30, 50]}),
    "crypto_lstm": (HOURLY, TINY | {"atr_mult": 0, "vol_mult": 0, "adx_min": 0, "volume_min": 0},
                    {"rsi_long_max": [65, 100], "allow_short": [True, False]}),
    "etf50_lstm": (DAILY, {"epochs": 1, "min_train": 300, "retrain_every": 300},
                   {"threshold": [0.0, 0.05], "allow_short": [True, False]}),
    "price_lstm": (HOURLY, TINY | {"buy_threshold": 0, "sell_threshold": 0, "volume_min": 0},
                   {"exit_on_neutral": [False, True], "sl": [0.005, 0.0], "tp": [0.01, 0.003], "max_hold": [24, 5]}),
    "attention_ensemble": (HOURLY, TINY | {"min_confidence": 0},
                           {"margin": [0.0, 0.0], "kelly_fraction": [1.0, 5.0]}),
    "sltp_lstm": (HOURLY, TINY | {"max_hold": 6},
                  {"stop_max": [0.5, 0.004], "exit_on_neutral": [False, True], "max_hold": [6, 3]}),
}
REASONS = {"signal", "sl", "tp", "trail", "time", "end"}
ALWAYS_FINITE = ("total_return", "cagr", "ann_volatility", "max_drawdown", "trades", "open_trades", "exposure",
                 "fees_paid", "final_equity", "buy_hold_return")
UNIT_METRICS = {  # ML metrics that must be finite and in [0, 1]
    "crypto_lstm": ("direction_accuracy",),
    "etf50_lstm": ("accuracy", "buy_accuracy", "sell_accuracy", "direction_accuracy", "buy_share"),
    "price_lstm": ("direction_accuracy", "buy_threshold_crossed", "sell_threshold_crossed", "timing_accuracy"),
    "attention_ensemble": ("directional_accuracy", "roc_auc", "mean_confidence", "traded_share"),
    "sltp_lstm": ("accuracy",),
}


def plugin(name: str) -> str:
    return str(ROOT / "strategies" / f"{name}.py")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bt_cache")


@pytest.fixture(scope="module")
def cli(cache_dir):
    """name -> (first run's JSON, second run's JSON), each plugin's runs made once per module."""
    done: dict[str, tuple[dict, dict]] = {}

    def run(name: str) -> tuple[dict, dict]:
        if name not in done:
            data, sets, _ = CASES[name]
            args = ["run", plugin(name), "--json", "--quiet", "--data", data["data"]]
            args += [a for k in ("start", "end") if data[k] for a in (f"--{k}", data[k])]
            args += [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
            env = os.environ | {"BT_CACHE_DIR": str(cache_dir)}
            outs = []
            for _ in range(2 if name != "sma_cross" else 1):  # a model-free plugin has no cache to hit
                proc = bt(*args, env=env)
                assert proc.returncode == 0, proc.stderr[-3000:]
                outs.append(json.loads(proc.stdout))
            done[name] = (outs[0], outs[-1])
        return done[name]

    return run


def finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


@pytest.mark.parametrize("name", list(CASES))
def test_cli_run_is_consistent_and_cached(cli, name):
    first, second = cli(name)
    stats, ml = first["stats"], first["ml"]
    assert first["strategy"] == name and first["bars"] > 1000
    for key in ALWAYS_FINITE:
        assert finite(stats[key]), (key, stats[key])
    assert stats["trades"] > 0, "these settings should trade"
    assert finite(stats["sharpe"]) and stats["ann_volatility"] > 0
    if stats["trades"] > stats["open_trades"]:
        assert 0 <= stats["win_rate"] <= 1
    assert -1 <= stats["max_drawdown"] <= 0 and 0 < stats["exposure"] <= 1
    assert stats["final_equity"] == pytest.approx(100_000 * (1 + stats["total_return"]))
    if name == "sma_cross":
        assert first["model"] is None and first["cache_hit"] is None and ml == {}
    else:
        assert first["cache_hit"] is False and second["cache_hit"] is True
        assert first["model"]["profile"] == "fast" and len(first["folds"]) >= 2
        assert first["folds"] == second["folds"]
        assert ml["predicted_bars"] > 500
        for key in UNIT_METRICS[name]:
            assert finite(ml[key]) and 0 <= ml[key] <= 1, (key, ml[key])
    assert second["stats"] == stats and second["ml"] == ml


def test_ml_metrics_fit_together(cli):
    etf, price, att, sltp = (cli(n)[0]["ml"] for n in ("etf50_lstm", "price_lstm", "attention_ensemble", "sltp_lstm"))
    assert sum(v for k, v in etf.items() if k.startswith("true_")) == etf["predicted_bars"]
    assert sum(v for k, v in att.items() if k.startswith("true_")) == att["predicted_bars"]
    assert sum(v for k, v in sltp.items() if k.startswith("true_")) == sltp["predicted_bars"]
    assert etf["accuracy"] == pytest.approx((etf["true_buy_called_buy"] + etf["true_sell_called_sell"])
                                            / etf["predicted_bars"])
    assert finite(att["log_loss"]) and att["log_loss"] > 0
    assert finite(price["mae"]) and price["mse"] >= 0 and -1 <= price["change_correlation"] <= 1
    assert 0 < price["signal_bars"] <= price["predicted_bars"]
    assert finite(sltp["sl_mae"]) and finite(sltp["tp_mae"]) and sltp["sl_mae"] >= 0


def table(value, T: int, N: int) -> np.ndarray:
    """A Signals field as a (T, N) float array (NaN for unset)."""
    a = np.asarray(np.nan if value is None else value, dtype="float64")
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.ndim == 1:
        a = a.reshape(1, -1) if len(a) == N else a.reshape(-1, 1)
    return np.broadcast_to(a, (T, N))


def check_trades(bars: pd.DataFrame, signals, trades: pd.DataFrame) -> dict[str, int]:
    """Assert every trade follows from the signals; return exit-reason counts."""
    o, h, lo = (bars[k].to_numpy() for k in ("open", "high", "low"))
    T, N = signals.target.shape
    raw = signals.target.to_numpy()
    ff = signals.target.ffill().fillna(0.0).to_numpy()  # the target in force after each bar
    sl, tp, hold = (table(getattr(signals, k), T, N) for k in ("sl", "tp", "max_hold"))
    assert set(trades["exit_reason"].astype(str)) <= REASONS - {"trail"}
    for tr in trades.itertuples():
        j, e, x, side = tr.col, tr.entry_bar, tr.exit_bar, 1 if tr.side == "long" else -1
        assert e >= 1 and ff[e - 1, j] == side, "entry without a target on its side at the previous bar"
        if signals.reentry:  # every explicit signal is an entry signal while flat
            assert raw[e - 1, j] == side, "entry without a signal of its side at the decision bar"
        else:
            assert e == 1 or ff[e - 2, j] != side, "entry without a fresh target change"
        assert tr.entry_price == o[e], "entries fill at the next bar's open"
        reason = str(tr.exit_reason)
        if reason == "signal":
            assert ff[x - 1, j] != side and tr.exit_price == o[x]
        if reason == "time":
            assert x - e == hold[e - 1, j] and tr.exit_price == o[x]
        d = e - 1  # stops are read at the entry's decision bar
        stop = tr.entry_price * (1 - side * sl[d, j])
        take = tr.entry_price * (1 + side * tp[d, j])
        adverse = lo if side > 0 else -h  # in the long direction: smaller is worse
        favour = h if side > 0 else -lo
        # bars with no stop touched: all before the exit bar; the exit bar too for a signal
        # exit (a stop touched in it would win); a time exit is at its open, which must not
        # be beyond a level (that stop would take the exit at the same price)
        due = x - e >= hold[e - 1, j]  # a time exit was due at this open (NaN: never)
        quiet_to = x if reason == "end" or (reason == "signal" and not due) else x - 1
        span = slice(e + 1, quiet_to + 1)
        if np.isfinite(stop):
            assert (adverse[span] > side * stop).all(), "stop touched but not taken"
            assert reason != "time" or side * o[x] > side * stop, "time exit at an open beyond the stop"
        if np.isfinite(take):
            assert (favour[span] < side * take).all(), "target touched but not taken"
            assert reason != "time" or side * o[x] < side * take, "time exit at an open beyond the target"
        level = {"sl": stop, "tp": take}.get(reason)
        if level is not None:
            gapped = (side * o[x] <= side * level) if reason == "sl" else (side * o[x] >= side * level)
            assert tr.exit_price == pytest.approx(o[x] if gapped else level, rel=1e-12)
    return trades["exit_reason"].astype(str).value_counts().to_dict()


@pytest.mark.parametrize("name", list(CASES))
def test_trades_follow_signals(cli, cache_dir, name):
    first, _ = cli(name)  # warms the cache: the models below are not trained again
    data, sets, grid = CASES[name]
    strategy = load_strategy(plugin(name), **sets)
    bars = load(data["data"], start=data["start"], end=data["end"], warn=False)
    assert not bars[["open", "high", "low", "close"]].isna().any().any()
    prepared = prepare(strategy, bars, cache_dir=str(cache_dir))
    assert prepared.cache_hit is (None if strategy.network is None else True)
    signals = make_signals(strategy, prepared.ctx)
    result = backtest(bars, signals, fee=strategy.fee)
    stored = {k: math.nan if v is None else v for k, v in first["stats"].items()}  # JSON writes NaN as null
    assert result.stats.to_dict() == pytest.approx(stored, nan_ok=True, rel=1e-12)
    check_trades(bars, signals, result.trades)
    funnel = signal_funnel(strategy, prepared.ctx)
    assert first["funnel"] == funnel
    if name not in ("sma_cross", "etf50_lstm"):  # the funnel's last step is the rule's entries
        target = signals.target.to_numpy()[:, 0]
        for side, value in (("long", 1.0), ("short", -1.0)):
            steps = funnel[side]
            left = [r["left"] for r in steps]
            assert left == sorted(left, reverse=True) and all(r["alone"] >= r["left"] for r in steps)
            assert left[-1] == int((target == value).sum()), (side, steps)
        assert funnel["long"][-1]["left"] + funnel["short"][-1]["left"] > 0
    else:
        assert funnel == {}

    if name == "price_lstm":  # timing accuracy, by hand: signal bars whose next close moved their way
        close = bars["close"].to_numpy()
        target = signals.target.to_numpy()[:, 0]
        called = np.isfinite(target) & (target != 0) & np.isfinite(np.r_[close[1:], np.nan])
        right = np.sign(np.r_[close[1:], np.nan] - close)[called] == target[called]
        assert first["ml"]["signal_bars"] == called.sum() and first["ml"]["timing_accuracy"] == right.mean()

    combos = pd.DataFrame(grid)
    if name == "sltp_lstm":  # trade the surer half of the calls, so signals come and go
        top = strategy.probabilities(prepared.ctx).max(axis=1)
        combos["min_prob"] = float(np.nanmedian(top))
    if name == "attention_ensemble":  # a margin that half of the probabilities clear
        prob, _ = strategy.probability(prepared.ctx)
        combos["margin"] = [0.0, float(np.nanmedian(np.abs(prob - 0.5)))]
    signals = make_signals(strategy, prepared.ctx, strategy.grid(combos))
    result = backtest(bars, signals, fee=strategy.fee)
    assert len(result.stats) == len(combos)
    reasons = check_trades(bars, signals, result.trades)
    assert (result.stats["trades"] > 0).any()
    if name in ("price_lstm", "sltp_lstm"):
        assert reasons.get("sl", 0) + reasons.get("tp", 0) > 0, reasons
        # Signals.reentry: every entry follows a bar with an explicit signal of its side; a
        # signal exit without exit_on_neutral is a reversal by the opposite signal; and a
        # signal that persists past a forced exit (stop, time) re-enters at the next open
        assert signals.reentry is True
        tgt, tr = signals.target.to_numpy(), result.trades
        sides = np.where(tr["side"] == "long", 1.0, -1.0)
        assert (tgt[tr["entry_bar"] - 1, tr["col"]] == sides).all()
        cut = tr[(tr["exit_reason"] == "signal") & ~combos["exit_on_neutral"].to_numpy()[tr["col"]]]
        assert (tgt[cut["exit_bar"] - 1, cut["col"]] == np.where(cut["side"] == "long", -1.0, 1.0)).all()
        prev = tr.groupby("col").shift()
        again = (prev["exit_reason"].isin(["sl", "tp", "time"])) & (tr["entry_bar"] == prev["exit_bar"] + 1)
        assert again.any(), "no trade re-entered right after a forced exit"
    if name == "sltp_lstm":  # per-bar stops: each trade's own predicted distance
        assert signals.sl.shape == (len(bars), len(combos)) and reasons.get("sl", 0) > 0
        assert np.nanmax(signals.sl[:, 1]) <= 0.004 < np.nanmax(signals.sl[:, 0])
        tr = result.trades
        assert np.unique(signals.sl[tr["entry_bar"] - 1, tr["col"]]).size > 10, "stops should differ by trade"
    if name == "attention_ensemble":  # Kelly-style size: the entry commits size x equity (notional + fee)
        size = table(signals.size, *signals.target.shape)
        assert ((size > 0) & (size <= 1)).all() and (size < 1).any()
        equity, trades = result.equity.to_numpy(), result.trades
        fresh = trades.groupby("col")["exit_bar"].shift().fillna(-1).to_numpy() < trades["entry_bar"].to_numpy()
        checked = 0
        for tr in trades[fresh].itertuples():  # entries from flat: equity before them is cash
            committed = tr.size * tr.entry_price * (1 + strategy.fee)
            assert committed == pytest.approx(size[tr.entry_bar - 1, tr.col] * equity[tr.entry_bar - 1, tr.col])
            checked += 1
        assert checked > 0
