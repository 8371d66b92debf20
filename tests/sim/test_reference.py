"""The numba kernel equals the plain-Python reference simulator exactly, and the
accounting invariants hold, on random prices (gaps, NaN bars), targets, sizes,
stops, fees, slippage, lots, fill modes, leverage, maintenance margin, liquidation
fees and bankruptcy."""

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlbt import Signals, backtest
from tests.sim.reference import simulate

TRADE_FIELDS = ("side", "entry_bar", "exit_bar", "size", "entry_price", "exit_price",
                "entry_fee", "exit_fee", "pnl", "ret", "reason", "funding")


@st.composite
def bars_strategy(draw):
    n = draw(st.integers(2, 40))
    rets = draw(st.lists(st.floats(-0.08, 0.08), min_size=n, max_size=n))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.02, -0.03, 0.05]), min_size=n, max_size=n))
    wicks = draw(st.lists(st.floats(0.0, 0.04), min_size=n, max_size=n))
    nan_bars = draw(st.lists(st.booleans(), min_size=n, max_size=n)) if draw(st.booleans()) else [False] * n
    o, h, lo, c = [], [], [], []
    prev = 100.0
    for r, g, w, missing in zip(rets, gaps, wicks, nan_bars, strict=True):
        op = prev * (1 + g)
        cl = op * (1 + r)
        if missing:
            o.append(np.nan), h.append(np.nan), lo.append(np.nan), c.append(np.nan)
            continue
        o.append(op), c.append(cl), h.append(max(op, cl) * (1 + w)), lo.append(min(op, cl) * (1 - w / 2))
        prev = cl
    index = pd.date_range("2020-01-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame({"open": o, "high": h, "low": lo, "close": c}, index=index)


def per_bar_or_scalar(elements, n, nan=False):
    el = st.one_of(elements, st.just(math.nan)) if nan else elements
    return st.one_of(elements, st.lists(el, min_size=n, max_size=n).map(np.array))


@st.composite
def case(draw):
    bars = draw(bars_strategy())
    n = len(bars)
    n_cols = draw(st.integers(1, 3))
    target = np.array(draw(st.lists(
        st.lists(st.sampled_from([1.0, -1.0, 0.0, math.nan, math.nan]), min_size=n_cols, max_size=n_cols),
        min_size=n, max_size=n)))
    stop = st.floats(0.005, 0.2)
    optional = lambda s: st.one_of(st.none(), per_bar_or_scalar(s, n, nan=True))  # noqa: E731
    leverage = draw(st.sampled_from([1.0, 1.0, 3.0, 10.0]))
    kw = dict(
        size=draw(per_bar_or_scalar(st.floats(0.05, leverage), n)),
        leverage=leverage,
        mmr=draw(st.sampled_from([0.0, 0.0, 0.005, 0.05])),
        liquidation_fee=draw(st.sampled_from([0.0, 0.01])),
        funding_rate=draw(st.one_of(st.none(), st.just(0.001), per_bar_or_scalar(st.floats(-0.01, 0.01), n, nan=True))),
        borrow_rate=draw(st.sampled_from([0.0, 0.0, 50.0])),  # annual: 50 x notional a year is 0.6% an hour
        sl=draw(optional(stop)),
        tp=draw(optional(stop)),
        max_hold=draw(st.one_of(st.none(), st.integers(1, 6))),
        fee=draw(st.one_of(st.just(0.0), st.floats(0.0, 0.01))),
        fixed_fee=draw(st.one_of(st.just(0.0), st.floats(0.0, 5.0))),
        slippage=draw(st.one_of(st.just(0.0), st.floats(0.0, 0.01))),
        lot=draw(st.sampled_from([None, 0.01, 0.5, 1.0])),
        fill=draw(st.sampled_from(["next_open", "close"])),
        stop_tie=draw(st.sampled_from(["sl", "tp"])),
        reentry=draw(st.booleans()),
        cash=draw(st.sampled_from([1_000.0, 100_000.0])),
    )
    trail = draw(st.sampled_from([False, True, 0.03]))
    if trail is True and kw["sl"] is None:
        trail = False
    kw["trail"] = trail
    return bars, target, kw


def reference_params(kw, n):
    def bars_list(v, default):
        if v is None:
            v = default
        a = np.broadcast_to(np.asarray(v, dtype=float), (n,))
        return list(a)
    sl, trail = kw["sl"], kw["trail"]
    if trail is True:
        sl, trail = None, sl
    elif trail is False:
        trail = None
    return dict(
        size=bars_list(kw["size"], 1.0), sl=bars_list(sl, np.nan), tp=bars_list(kw["tp"], np.nan),
        trail=bars_list(trail, np.nan), max_hold=bars_list(kw["max_hold"], np.nan),
        lot=bars_list(kw["lot"], 0.0), fee=bars_list(kw["fee"], 0.0),
        fixed_fee=bars_list(kw["fixed_fee"], 0.0), slippage=bars_list(kw["slippage"], 0.0),
        mmr=bars_list(kw["mmr"], 0.0), liquidation_fee=bars_list(kw["liquidation_fee"], 0.0),
        funding_rate=bars_list(kw["funding_rate"], np.nan), borrow_rate=bars_list(kw["borrow_rate"], 0.0),
    )


def run_engine(bars, target, kw):
    """backtest() with per-bar arrays passed as Series (unambiguous when T == N)."""
    kw = {k: pd.Series(v, index=bars.index) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    return backtest(bars, Signals(pd.DataFrame(target, index=bars.index)), periods_per_year=8760, **kw)


def run_both(bars, target, kw):
    result = run_engine(bars, target, kw)
    p = reference_params(kw, len(bars))
    refs = [simulate(bars.open.tolist(), bars.high.tolist(), bars.low.tolist(), bars.close.tolist(),
                     target[:, j].tolist(), p, cash=kw["cash"], fill=kw["fill"],
                     stop_tie=kw["stop_tie"], reentry=kw["reentry"]) for j in range(target.shape[1])]
    return result, refs


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case())
def test_kernel_equals_reference(c):
    bars, target, kw = c
    result, refs = run_both(bars, target, kw)
    equity = result.equity.to_numpy().reshape(len(bars), -1)
    trades = result.trades
    for j, (ref_trades, ref_equity, ref_fees, ref_bankrupt, ref_funding, ref_borrow) in enumerate(refs):
        np.testing.assert_array_equal(equity[:, j], np.array(ref_equity))
        mine = trades[trades.col == j]
        assert len(mine) == len(ref_trades)
        got = pd.DataFrame({
            "side": np.where(mine.side == "long", 1, -1), "entry_bar": mine.entry_bar,
            "exit_bar": mine.exit_bar, "size": mine["size"], "entry_price": mine.entry_price,
            "exit_price": mine.exit_price, "entry_fee": mine.entry_fee, "exit_fee": mine.exit_fee,
            "pnl": mine.pnl, "ret": mine["return"], "reason": mine.exit_reason.astype(str),
            "funding": mine.funding,
        }).reset_index(drop=True)
        want = pd.DataFrame(ref_trades, columns=list(TRADE_FIELDS))
        if len(want):
            pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=True)
        stats = result.stats if target.shape[1] == 1 else result.stats.iloc[j]
        assert stats["fees_paid"] == ref_fees or math.isclose(stats["fees_paid"], ref_fees, rel_tol=1e-12)
        assert stats["bankrupt"] == (ref_bankrupt >= 0)
        assert (stats["funding_paid"], stats["borrow_paid"]) == (ref_funding, ref_borrow)
        assert (stats["bankrupt_bar"] == ref_bankrupt) if ref_bankrupt >= 0 else math.isnan(stats["bankrupt_bar"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case())
def test_accounting_invariants(c):
    bars, target, kw = c
    result = run_engine(bars, target, kw)
    equity = result.equity.to_numpy().reshape(len(bars), -1)
    orders = result.orders
    stats = result.stats.to_frame().T if target.shape[1] == 1 else result.stats
    nan_bar = bars[["open", "high", "low", "close"]].isna().any(axis=1).to_numpy()
    # No fill on a NaN bar.
    assert not nan_bar[orders.bar.to_numpy()].any()
    mark = bars.close.ffill().to_numpy()
    for j in range(target.shape[1]):
        o = orders[orders.col == j]
        # Fees paid = sum of the per-fill fees.
        assert math.isclose(stats["fees_paid"].iloc[j], o.fee.sum(), rel_tol=1e-9, abs_tol=1e-9)
        # Money is conserved: the trades' pnl (net of fees, funding and borrow; the open
        # trade marked at the last close) adds up to the change of equity.
        pnl = result.trades.pnl[result.trades.col == j].sum()
        assert math.isclose(equity[-1, j] - kw["cash"], pnl, rel_tol=1e-9, abs_tol=1e-6 * kw["cash"])
        carry = stats["funding_paid"].iloc[j] + stats["borrow_paid"].iloc[j]
        assert math.isclose(result.trades.funding[result.trades.col == j].sum(), carry, rel_tol=1e-9, abs_tol=1e-9)
        # Equity below zero only after a bankruptcy (a gap through the liquidation
        # price), and then it stays where the bankruptcy left it.
        bankrupt_bar = stats["bankrupt_bar"].iloc[j]
        below = np.flatnonzero(equity[:, j] < 0)
        if len(below):
            assert below[0] >= bankrupt_bar
            assert (equity[int(bankrupt_bar):, j] == equity[int(bankrupt_bar), j]).all()
        # Equity = cash + position value at every bar, rebuilt from the fills alone
        # (and the carrying costs, which have no fills: the identity is for runs without them).
        # (Funding paid and received can add up to 0: any trade with carrying costs skips it.)
        if carry != 0.0 or (result.trades.funding[result.trades.col == j] != 0.0).any():
            continue
        buy = (o.side == "buy").to_numpy()
        flow = np.where(buy, -(o["size"] * o.price + o.fee), o["size"] * o.price - o.fee)
        units = np.where(buy, o["size"], -o["size"])
        cash = kw["cash"] + np.bincount(o.bar, weights=flow, minlength=len(bars)).cumsum()
        pos = np.bincount(o.bar, weights=units, minlength=len(bars)).cumsum()
        pos[np.isclose(pos, 0, atol=1e-9)] = 0.0
        value = cash + np.where(pos != 0, pos * np.nan_to_num(mark), 0.0)
        np.testing.assert_allclose(equity[:, j], value, rtol=1e-9, atol=1e-6)
        # No negative cash without leverage: long-only columns never borrow.
        if (target[:, j] != -1).all() and kw["leverage"] == 1:
            assert (cash >= -1e-6).all()
