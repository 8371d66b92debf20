"""The engine's fast paths equal their plain definitions exactly: SIMD input checks
against a per-value walk, the streaming metrics (chunked sums, flat stretches
folded in O(1), drawdown divisions only at new lows) against a bar-by-bar loop
over the recorded equity, and the regular-index frequency shortcut."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlbt import Signals, backtest
from mlbt.sim.checks_nb import check_prices_nb, check_target_nb, scan_index_nb
from mlbt.sim.frequency import periods_per_year


def first_price_problem(o, h, lo, c):
    """check_prices_nb's contract, one value at a time in row-major order."""
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            a, b, d, e = o[i, j], h[i, j], lo[i, j], c[i, j]
            n_nan = sum(math.isnan(x) for x in (a, b, d, e))
            if n_nan == 4:
                continue
            if n_nan:
                return i, j, 1
            if not all(0 < x < math.inf for x in (a, b, d, e)):
                return i, j, 2
            if b < d:
                return i, j, 3
            if b < max(a, e):
                return i, j, 4
            if d > min(a, e):
                return i, j, 5
    return -1, -1, 0


@st.composite
def price_arrays(draw):
    T, N = draw(st.integers(1, 300)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (T, N)), axis=0))
    o = c * (1 + rng.normal(0, 0.003, (T, N)))
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.003, (T, N))))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.003, (T, N))))
    arrays = [o, h, lo, c]
    nan_bars = rng.random((T, N)) < draw(st.sampled_from([0.0, 0.1, 0.9]))
    for a in arrays:
        a[nan_bars] = np.nan
    for _ in range(draw(st.integers(0, 3))):  # defects anywhere, one value at a time
        a = arrays[draw(st.integers(0, 3))]
        i, j = draw(st.integers(0, T - 1)), draw(st.integers(0, N - 1))
        a[i, j] = draw(st.sampled_from([np.nan, 0.0, -1.0, np.inf, -np.inf, 1e-3, 1e6]))
    return [np.ascontiguousarray(a) for a in arrays]


@settings(max_examples=300, deadline=None)
@given(price_arrays())
def test_price_check_equals_a_walk_over_the_values(arrays):
    assert tuple(check_prices_nb(*arrays)) == first_price_problem(*arrays)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([1.0, -1.0, 0.0, math.nan, math.nan, 0.5, 2.0, -math.inf]), min_size=1,
                max_size=600), st.integers(1, 3))
def test_target_check_finds_the_first_bad_value(values, n_cols):
    n_cols = min(n_cols, len(values))
    a = np.array(values[: len(values) // n_cols * n_cols]).reshape(-1, n_cols)
    bad = [(i, j) for i in range(a.shape[0]) for j in range(a.shape[1])
           if not (a[i, j] in (0.0, 1.0, -1.0) or math.isnan(a[i, j]))]
    n_orders = sum(v in (1.0, -1.0) for v in a.reshape(-1))
    assert tuple(check_target_nb(a)) == (*(bad[0] if bad else (-1, -1)), n_orders)


def stream_metrics(equity, exposed, init_cash, ppy):
    """The streaming metrics' definitions, one bar at a time in plain Python."""
    n = s = s2 = down2 = gains = losses = 0.0
    prev, peak, peak_bar, ep_min, max_dd, dur = init_cash, init_cash, -1, 0.0, 0.0, 0.0
    for i, e in enumerate(equity):
        r = e / prev - 1.0 if prev != 0.0 else 0.0
        n += 1.0
        s += r
        s2 += r * r
        if r < 0.0:
            down2 += r * r
            losses -= r
        else:
            gains += r
        prev = e
        if e >= peak:
            peak, peak_bar, ep_min = e, i, 0.0
        else:
            dd = e / peak - 1.0
            ep_min = min(ep_min, dd)
            max_dd = min(max_dd, dd)
            if ep_min <= max_dd:
                dur = i - peak_bar
    mean = s / n
    std = math.sqrt(max((s2 - s * mean) / (n - 1.0), 0.0))
    down = math.sqrt(down2 / n)
    return {
        "total_return": prev / init_cash - 1.0,
        "ann_volatility": std * math.sqrt(ppy),
        "sharpe": mean / std * math.sqrt(ppy) if std > 0.0 else math.nan,
        "sortino": mean / down * math.sqrt(ppy) if down > 0.0 else math.nan,
        "omega": gains / losses if losses > 0.0 else math.nan,
        "max_drawdown": max_dd,
        "max_dd_duration": dur,
        "exposure": sum(exposed) / n,
        "final_equity": prev,
    }


@st.composite
def long_runs(draw):
    """Several hundred bars (more than one equity chunk), long flat stretches, NaN bars."""
    T = draw(st.integers(2, 1500))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, T)))
    o = np.r_[c[0], c[:-1]] * (1 + rng.normal(0, 0.002, T))
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.004, T)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.004, T)))
    bars = pd.DataFrame({"open": o, "high": h, "low": lo, "close": c},
                        index=pd.date_range("2021-01-01", periods=T, freq="h", tz="UTC"))
    if draw(st.booleans()):
        bars[rng.random(T) < 0.05] = np.nan
    p = draw(st.sampled_from([0.002, 0.02, 0.2]))
    target = rng.choice([1.0, -1.0, 0.0, np.nan], p=[p, p, p, 1 - 3 * p], size=(T, draw(st.integers(1, 3))))
    kw = dict(
        sl=draw(st.sampled_from([None, 0.01, 0.05])), tp=draw(st.sampled_from([None, 0.02])),
        trail=draw(st.booleans()), max_hold=draw(st.sampled_from([None, 3, 50])),
        fee=draw(st.sampled_from([0.0, 0.001])), fill=draw(st.sampled_from(["next_open", "close"])),
        reentry=draw(st.booleans()),
    )
    if kw["sl"] is None:
        kw["trail"] = False
    return bars, target, kw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_runs())
def test_streaming_metrics_equal_a_bar_by_bar_loop(case):
    bars, target, kw = case
    result = backtest(bars, Signals(target), periods_per_year=8760, **kw)
    sweep = backtest(bars, Signals(target), periods_per_year=8760, record=False, **kw)
    stats = result.stats.to_frame().T if target.shape[1] == 1 else result.stats
    pd.testing.assert_frame_equal(sweep.stats.to_frame().T if target.shape[1] == 1 else sweep.stats, stats)
    equity = result.equity.to_numpy().reshape(len(bars), -1)
    trades = result.trades
    for j in range(target.shape[1]):
        held = np.zeros(len(bars), dtype=bool)
        for t in trades[trades.col == j].itertuples():
            held[t.entry_bar: t.exit_bar + (1 if t.is_open else 0)] = True
        want = stream_metrics(equity[:, j].tolist(), held.tolist(), 100_000.0, 8760.0)
        got = stats.iloc[j]
        for name, value in want.items():
            assert got[name] == value or (math.isnan(got[name]) and math.isnan(value)), (name, got[name], value)


def test_regular_step_and_frequency_shortcuts():
    def regular_step(ns):
        return scan_index_nb(ns, 10**9)[1]

    ns = np.arange(0, 100, 5, dtype=np.int64)
    assert regular_step(ns) and regular_step(ns[:2])
    ns[7] += 1
    assert not regular_step(ns)
    # Minute bars from a Monday: the first weekend bar comes after the first block
    # of timestamps looked at.
    minutes = pd.date_range("2024-01-01", periods=10 * 1440, freq="min", tz="UTC")
    assert periods_per_year(minutes) == 365 * 1440
    weekdays = minutes[minutes.day_of_week < 5]
    assert periods_per_year(weekdays) == 252 * 1440
    irregular = minutes.delete([3, 50, 51])
    assert periods_per_year(irregular) == 365 * 1440


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_frequency_in_every_index_unit(unit):
    hourly = pd.date_range("2024-01-01", periods=500, freq="h", tz="UTC").as_unit(unit)
    assert periods_per_year(hourly) == 365 * 24


def test_trades_frame_equals_the_public_constructor(monkeypatch):
    idx = pd.date_range("2024-01-01", periods=300, freq="h", tz="UTC")
    c = 100 + np.cumsum(np.sin(np.arange(300) / 7.0))
    bars = pd.DataFrame({"open": c, "high": c + 1, "low": c - 1, "close": c}, index=idx)
    target = pd.DataFrame(np.sign(np.sin(np.arange(300)[:, None] / np.array([5.0, 9.0, 400.0]))), index=idx,
                          columns=pd.MultiIndex.from_tuples([("a", 1), ("b", 2), ("c", 3)], names=["k", "n"]))
    target.iloc[:, 2] = np.nan  # a column without trades
    one_trade = np.r_[1.0, np.full(299, np.nan)]
    results = [backtest(bars, Signals(target, sl=0.01)), backtest(bars, Signals(target.iloc[:, 2])),
               backtest(bars, Signals(target.iloc[:, 0].rename("named")), tp=0.02),
               backtest(bars, Signals(one_trade)),  # a RangeIndex of columns, one trade
               backtest(bars, Signals(np.c_[one_trade, one_trade])),
               backtest(bars.reset_index(drop=True), Signals(target.iloc[:, :2].reset_index(drop=True)),
                        periods_per_year=8760)]
    fast = [r.trades for r in results]
    monkeypatch.delattr(pd.DataFrame, "_from_arrays")
    for r, frame in zip(results, fast, strict=True):
        public = r.trades
        pd.testing.assert_frame_equal(frame, public, check_exact=True)
        assert public.columns.dtype == frame.columns.dtype
    assert len(fast[0]) and not len(fast[1])


def test_trade_rows_past_the_reserved_buffer_are_not_written():
    from mlbt.sim import kernel_nb
    from mlbt.sim.inputs import readonly
    from mlbt.sim.state import FILL_NEXT_OPEN, TIE_SL, TRADE_DTYPE, Outputs, Prices, Rules, SettingArrays
    from mlbt.sim.stats_nb import N_STATS

    T = 40
    c = np.linspace(100, 110, T).reshape(-1, 1)
    target = np.full((T, 1), np.nan)
    target[[2, 10, 20, 30], 0] = [1.0, -1.0, 1.0, -1.0]  # four trades
    one, nan = np.ones((1, 1)), np.full((1, 1), np.nan)
    settings = SettingArrays(size=one, lot=0 * one, sl=nan, tp=nan, trail=nan, max_hold=nan, fee=0 * one,
                             fixed_fee=0 * one, slippage=0 * one, mmr=0 * one, liquidation_fee=0 * one,
                             funding_rate=nan, borrow_rate=0 * one,
                             cash=1000 * one)
    trades = np.zeros(3, dtype=TRADE_DTYPE)  # guard record after two reserved records
    for name in TRADE_DTYPE.names:
        trades[name] = -7
    counts = np.zeros(1, dtype=np.int64)
    out = Outputs(np.empty((1, T)), trades[:2], np.array([0, 2]), counts, np.empty((1, N_STATS)), np.empty((1, 0)))
    # read-only inputs, as backtest() passes them: the kernel it compiled, not one more specialization
    settings = SettingArrays(*(readonly(a) for a in settings))
    p = readonly(c.T)
    kernel_nb.simulate_column_nb(0, Prices(p, p, p, p), readonly(target.T), settings,
                                 Rules(FILL_NEXT_OPEN, TIE_SL, False, 8760.0, False), out, None)
    assert counts[0] == 4 and all(trades[2][n] == -7 for n in TRADE_DTYPE.names) and (trades[:2]["side"] != -7).all()
