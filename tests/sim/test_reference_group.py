"""The group kernel (shared cash, target weights, rules 14-16) equals the plain-Python
reference simulator exactly, and money is conserved, on random multi-asset bars
(gaps, NaN bars), entry targets or target weights, sizes, stops, fees, slippage,
lots, fill modes, leverage, maintenance margin, liquidation, funding, borrow and
bankruptcy; a group of one column equals the single-column kernel bit for bit."""

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlbt import Signals, backtest
from tests.sim.reference_group import Column, Group
from tests.sim.test_reference import TRADE_FIELDS, bars_strategy, per_bar_or_scalar

ASSETS = ("A", "B", "C")


@st.composite
def group_case(draw):
    n_assets = draw(st.integers(1, 3))
    first = draw(bars_strategy())
    n = len(first)
    frames = [first] + [draw(bars_strategy().filter(lambda b: len(b) >= n)).iloc[:n].set_axis(first.index)
                        for _ in range(n_assets - 1)]
    assets = ASSETS[:n_assets]
    bars = pd.concat({f: pd.concat([b[f] for b in frames], axis=1, keys=assets) for f in
                      ("open", "high", "low", "close")}, axis=1)
    weights = draw(st.booleans())
    n_combos = draw(st.integers(1, 2))
    columns = pd.MultiIndex.from_tuples([(k, a) for k in range(n_combos) for a in assets], names=["combo", "asset"])
    leverage = draw(st.sampled_from([1.0, 1.0, 2.0, 5.0]))
    if weights:
        cap = leverage / n_assets
        value = st.one_of(st.floats(-cap, cap), st.just(0.0), st.just(math.nan), st.just(math.nan))
    else:
        value = st.sampled_from([1.0, -1.0, 0.0, math.nan, math.nan])
    target = np.array(draw(st.lists(st.lists(value, min_size=len(columns), max_size=len(columns)),
                                    min_size=n, max_size=n)))
    stop = st.floats(0.005, 0.2)
    optional = lambda s: st.one_of(st.none(), per_bar_or_scalar(s, n, nan=True))  # noqa: E731
    kw = dict(
        size=draw(per_bar_or_scalar(st.floats(0.05, leverage), n)),
        leverage=leverage,
        mmr=draw(st.sampled_from([0.0, 0.0, 0.005, 0.05])),
        liquidation_fee=draw(st.sampled_from([0.0, 0.01])),
        funding_rate=draw(st.one_of(st.none(), st.just(0.001), per_bar_or_scalar(st.floats(-0.01, 0.01), n, nan=True))),
        borrow_rate=draw(st.sampled_from([0.0, 0.0, 50.0])),
        sl=draw(optional(stop)),
        tp=draw(optional(stop)),
        max_hold=draw(st.one_of(st.none(), st.integers(1, 6))),
        fee=draw(st.one_of(st.just(0.0), st.floats(0.0, 0.01))),
        fixed_fee=draw(st.one_of(st.just(0.0), st.floats(0.0, 5.0))),
        slippage=draw(st.one_of(st.just(0.0), st.floats(0.0, 0.01))),
        lot=draw(st.sampled_from([None, 0.01, 0.5, 1.0])),
        rebalance_drift=draw(st.sampled_from([None, 0.0, 0.05])) if weights else None,
        insufficient_cash=draw(st.sampled_from(["reduce", "skip"])),
        fill=draw(st.sampled_from(["next_open", "close"])),
        stop_tie=draw(st.sampled_from(["sl", "tp"])),
        reentry=draw(st.booleans()),
        cash=draw(st.sampled_from([1_000.0, 100_000.0])),
        trail=draw(st.sampled_from([None, 0.03])),
    )
    return bars, columns, target, weights, kw


def per_bar(v, default, n):
    return list(np.broadcast_to(np.asarray(default if v is None else v, dtype=float), (n,)))


def reference(bars, columns, target, weights, kw):
    n = len(bars)
    p = {name: per_bar(kw[name], default, n) for name, default in (
        ("size", 1.0), ("sl", np.nan), ("tp", np.nan), ("trail", np.nan), ("max_hold", np.nan), ("lot", 0.0),
        ("fee", 0.0), ("fixed_fee", 0.0), ("slippage", 0.0), ("mmr", 0.0), ("liquidation_fee", 0.0),
        ("funding_rate", np.nan), ("borrow_rate", 0.0), ("leverage", 1.0))}
    p["drift"] = per_bar(kw["rebalance_drift"], np.nan, n)
    out = []
    for combo in columns.get_level_values(0).unique():
        members = [j for j, col in enumerate(columns) if col[0] == combo]
        cols = [Column(*(bars[f][columns[j][1]].tolist() for f in ("open", "high", "low", "close")),
                       target[:, j].tolist(), p) for j in members]
        g = Group(cols, kw["cash"], fill=kw["fill"], stop_tie=kw["stop_tie"], reentry=kw["reentry"],
                  weights=weights, skip=kw["insufficient_cash"] == "skip", ppy=8760.0)
        equity, cash = g.run(n)
        out.append((members, g, equity, cash))
    return out


def run_engine(bars, columns, target, weights, kw):
    kw = {k: pd.Series(v, index=bars.index) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    return backtest(bars, Signals(pd.DataFrame(target, index=bars.index, columns=columns)), periods_per_year=8760,
                    cash_sharing=True, size_type="target_weight" if weights else "entry_fraction", **kw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(group_case())
def test_group_kernel_equals_reference(c):
    bars, columns, target, weights, kw = c
    result = run_engine(bars, columns, target, weights, kw)
    equity, cash = result.equity.to_numpy().reshape(len(bars), -1), result.cash.to_numpy().reshape(len(bars), -1)
    trades, orders = result.trades, result.orders
    for g, (members, ref, ref_equity, ref_cash) in enumerate(reference(bars, columns, target, weights, kw)):
        np.testing.assert_array_equal(equity[:, g], np.array(ref_equity))
        np.testing.assert_array_equal(cash[:, g], np.array(ref_cash))
        mine = orders[orders.group == result.groups[g]]
        got = list(zip(mine.col - members[0], mine.bar, np.where(mine.side == "buy", mine["size"], -mine["size"]),
                       mine.price, mine.fee, mine.reason.astype(str), strict=True))
        assert got == [tuple(o) for o in ref.orders]
        for k, j in enumerate(members):
            t = trades[trades.col == j]
            got_t = pd.DataFrame({
                "side": np.where(t.side == "long", 1, -1), "entry_bar": t.entry_bar, "exit_bar": t.exit_bar,
                "size": t["size"], "entry_price": t.entry_price, "exit_price": t.exit_price,
                "entry_fee": t.entry_fee, "exit_fee": t.exit_fee, "pnl": t.pnl, "ret": t["return"],
                "reason": t.exit_reason.astype(str), "funding": t.funding}).reset_index(drop=True)
            want = pd.DataFrame(ref.cols[k].trades, columns=list(TRADE_FIELDS))
            assert len(got_t) == len(want)
            if len(want):
                pd.testing.assert_frame_equal(got_t, want, check_dtype=False, check_exact=True)
        stats = result.stats if len(result.groups) == 1 else result.stats.iloc[g]
        assert stats["bankrupt"] == (ref.bankrupt_bar >= 0)
        assert math.isclose(stats["fees_paid"], ref.fees, rel_tol=1e-12, abs_tol=1e-12)
        assert (stats["funding_paid"], stats["borrow_paid"]) == (ref.funding, ref.borrow)
        # Money is conserved: the group's trades' pnl adds up to its change of equity.
        pnl = trades.pnl[trades.col.isin(members)].sum()
        assert math.isclose(equity[-1, g] - kw["cash"], pnl, rel_tol=1e-9, abs_tol=1e-6 * kw["cash"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(group_case())
def test_a_group_of_one_column_is_the_column_kernel(c):
    bars, columns, target, weights, kw = c
    one = pd.DataFrame({f: bars[f].iloc[:, 0] for f in ("open", "high", "low", "close")})
    first = target[:, :1]
    t = np.where(np.isnan(first) | np.isin(first, (1.0, -1.0, 0.0)), first, np.sign(first))
    kw = {k: pd.Series(v, index=bars.index) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    kw = {k: v for k, v in kw.items() if k not in ("rebalance_drift", "insufficient_cash")}
    alone = backtest(one, pd.Series(t[:, 0], index=bars.index), periods_per_year=8760, **kw)
    shared = backtest(one, pd.Series(t[:, 0], index=bars.index), periods_per_year=8760, cash_sharing=True, **kw)
    np.testing.assert_array_equal(alone.equity.to_numpy(), shared.equity.to_numpy())
    np.testing.assert_array_equal(alone._stats, shared._stats)
    cols = ["entry_bar", "exit_bar", "size", "entry_price", "exit_price", "entry_fee", "exit_fee", "pnl", "return",
            "funding"]
    np.testing.assert_array_equal(alone.trades[cols].to_numpy(), shared.trades[cols].to_numpy())
