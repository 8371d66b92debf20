"""Hand-computed scenarios for rules 12 (funding) and 13 (borrow) of the README's
"Execution semantics". Bars every 8 hours (a perpetual's funding interval), initial
cash 1,000, an entry decided at bar 0 that fills at bar 1's open of 10."""

import math

import numpy as np
import pandas as pd
import pytest

from mlbt import Signals, backtest

NAN = math.nan


def bars(closes, funding=None):
    c = np.asarray(closes, dtype=float)
    frame = pd.DataFrame({"open": np.r_[c[0], c[:-1]], "close": c},
                         index=pd.date_range("2024-01-01", periods=len(c), freq="8h", tz="UTC"))
    frame["high"], frame["low"] = frame.max(axis=1), frame.min(axis=1)
    if funding is not None:
        frame["funding_rate"] = funding
    return frame[["open", "high", "low", "close"] + (["funding_rate"] if funding is not None else [])]


def run(b, target, **kw):
    target = list(target) + [NAN] * (len(b) - len(target))
    return backtest(b, Signals(pd.Series(target, index=b.index, dtype=float)), cash=1000.0, **kw)


def test_a_long_pays_funding_at_the_open_of_each_funding_bar():
    # Long 100 units from bar 1's open (10). Bar 2 (open 10) has rate 0.1%: it pays
    # 0.001 x 100 x 10 = 1.0; bar 4 (open 12) has 0.2%: 0.002 x 100 x 12 = 2.4.
    b = bars([10, 10, 12, 12, 11, 11], funding=[NAN, NAN, 0.001, NAN, 0.002, NAN])
    r = run(b, [1], funding_rate="funding_rate")
    t = r.trades.iloc[0]
    assert t.funding == pytest.approx(3.4) and t.pnl == pytest.approx(100 * (11 - 10) - 3.4)
    assert r.equity.tolist() == pytest.approx([1000, 1000, 1199, 1199, 1096.6, 1096.6])
    assert r.stats["funding_paid"] == pytest.approx(3.4) and r.stats["borrow_paid"] == 0.0


def test_a_short_receives_a_positive_rate_and_an_entry_bar_pays_nothing():
    # Short 100 units from bar 1's open: bar 1's rate is not paid (the position was not
    # held into that open); bar 2 (open 10) at 0.1% pays the short 1.0.
    b = bars([10, 10, 9, 9], funding=[0.001, 0.001, 0.001, NAN])
    r = run(b, [-1], funding_rate=b["funding_rate"])
    assert r.trades.iloc[0].funding == pytest.approx(-1.0)
    assert r.equity.iloc[-1] == pytest.approx(1000 + 100 * (10 - 9) + 1.0)


def test_a_short_pays_borrow_on_each_bar_it_is_held_over():
    # borrow_rate 1.095 a year, 1,095 bars a year: 0.1% of the notional at each close
    # while short: bars 1-4 at closes 10, 11, 12, 11 (the exit at bar 5's open pays none).
    b = bars([10, 10, 11, 12, 11, 10])
    r = run(b, [-1, NAN, NAN, NAN, 0], borrow_rate=1.095, periods_per_year=1095)
    t = r.trades.iloc[0]
    cost = 0.001 * 100 * (10 + 11 + 12 + 11)
    assert (t.exit_bar, t.funding) == (5, pytest.approx(cost))
    assert t.pnl == pytest.approx(100 * (10 - 11) - cost)
    assert r.stats["borrow_paid"] == pytest.approx(cost)
    long = run(b, [1, NAN, NAN, NAN, 0], borrow_rate=1.095, periods_per_year=1095)
    assert long.stats["borrow_paid"] == 0.0  # a long borrows nothing


def test_funding_moves_the_liquidation_price():
    # Long with size 2 (leverage 2): 200 units at 10, cash -1,000, liquidation (mmr 0)
    # at 5. A 1% funding payment at bar 2's open (0.01 x 200 x 10 = 20) takes cash to
    # -1,020, so the liquidation price rises to 5.1: bar 3's low of 5.05 reaches it.
    b = bars([10, 10, 10, 5.05, 5.05], funding=[NAN, NAN, 0.01, NAN, NAN])
    r = run(b, [1], size=2.0, leverage=2.0, funding_rate="funding_rate")
    t = r.trades.iloc[0]
    assert (t.exit_reason, t.exit_bar, t.exit_price) == ("liquidation", 3, pytest.approx(5.1))
    assert r.stats["bankrupt"] == 1.0
    assert run(b, [1], size=2.0, leverage=2.0).trades.iloc[0].exit_reason == "end"  # 5.05 > 5 without it


def test_a_funding_column_that_is_not_there_is_named():
    b = bars([10, 10, 10])
    with pytest.raises(ValueError, match=r"funding_rate = 'funding': bars have no column 'funding'"):
        run(b, [1], funding_rate="funding")
    with pytest.raises(ValueError, match=r"funding_rate = 1.5 at row 2 .*: funding_rate is a fraction of notional"):
        run(b, [1], funding_rate=pd.Series([NAN, NAN, 1.5], index=b.index))


def test_a_nan_funding_rate_where_a_rate_is_required_is_refused():
    # One number is the rate of every bar, so NaN there is no rate; a named column must
    # hold at least one rate. A per-bar series may hold NaN (no funding on those bars).
    b = bars([10, 10, 10], funding=[NAN, NAN, NAN])
    with pytest.raises(ValueError, match=r"funding_rate = nan: a single rate applies to every bar"):
        run(b, [1], funding_rate=NAN)
    with pytest.raises(ValueError, match=r"funding_rate = 'funding_rate': bars column 'funding_rate' has no rate "
                                         r"on any of its 3 bars"):
        run(b, [1], funding_rate="funding_rate")
    assert run(b, [1], funding_rate=b["funding_rate"]).stats["funding_paid"] == 0.0
