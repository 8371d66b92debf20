"""Hand-computed scenarios for rules 10 (leverage, maintenance margin, liquidation)
and 11 (bankruptcy) of the README's "Execution semantics".

Every scenario: daily bars, initial cash 1,000, an entry decided at bar 0 that fills
at bar 1's open of 10, no fees unless stated. Bars 2 and later are set per scenario.
"""

import math

import numpy as np
import pandas as pd
import pytest

from mlbt import Signals, backtest
from mlbt.settings import EngineSettings
from mlbt.sweep import GridError, build_grid

NAN = math.nan


def bars(*rows):
    """Bar 0 and 1 at 10 (flat), then ``rows`` of (open, high, low, close)."""
    data = [(10, 10, 10, 10), (10, 10, 10, 10), *rows]
    return pd.DataFrame(data, columns=["open", "high", "low", "close"], dtype=float,
                        index=pd.date_range("2024-01-01", periods=len(data), freq="D", tz="UTC"))


def run(b, target, **kw):
    target = list(target) + [NAN] * (len(b) - len(target))
    return backtest(b, Signals(pd.Series(target, index=b.index, dtype=float)), cash=1000.0, periods_per_year=365,
                    **kw)


def test_a_squeezed_short_is_liquidated_at_zero_equity_and_stops_trading():
    # Short 100 units at 10: cash 2,000, so equity 2,000 - 100 p reaches 0 at p = 20.
    # Bar 3's high of 21 reaches it: liquidated at 20, equity 0, bankrupt; the long
    # target of bar 4 is ignored, and equity stays 0 while the price falls back.
    b = bars((15, 16, 14, 15), (18, 21, 17, 19), (19, 19, 8, 8), (8, 8, 5, 5))
    r = run(b, [-1, NAN, NAN, NAN, 1])
    assert len(r.trades) == 1
    t = r.trades.iloc[0]
    assert (t.exit_reason, t.exit_bar, t.exit_price, t.pnl) == ("liquidation", 3, 20.0, -1000.0)
    assert r.equity.tolist() == [1000, 1000, 500, 0, 0, 0]
    assert (r.stats["bankrupt"], r.stats["bankrupt_bar"]) == (1.0, 3.0)


def test_a_gap_through_the_liquidation_price_fills_at_the_open_and_reports_the_loss():
    # Bar 3 opens at 25, beyond the liquidation price of 20: liquidated at 25, equity
    # 2,000 - 2,500 = -500, reported as it is (bankrupt, never traded on).
    b = bars((15, 16, 14, 15), (25, 26, 24, 25), (24, 24, 9, 9))
    r = run(b, [-1, NAN, NAN, 1])
    t = r.trades.iloc[0]
    assert (t.exit_reason, t.exit_price, t.pnl) == ("liquidation", 25.0, -1500.0)
    assert r.equity.tolist() == [1000, 1000, 500, -500, -500]
    assert r.stats["bankrupt"] == 1.0 and r.stats["final_equity"] == -500.0


def test_a_leveraged_long_is_liquidated_at_maintenance_margin_and_trades_on():
    # size 5 = leverage 5: about 500 units at 10, cash about 1,000 - 5,000 = -4,000. With
    # mmr 5% equity -4,000 + 500 p falls to 0.05 x 500 p at p = 4,000 / (500 x 0.95) = 8.42
    # Bar 3's low of 8.3 reaches it; the liquidation fee (1%) comes on top of the 0.1%
    # fee. Equity after it is positive, so the column trades on: bar 3's target
    # (with reentry) enters again at bar 4's open.
    b = bars((9.5, 9.8, 9, 9.5), (9, 9.2, 8.3, 8.5), (8.5, 9, 8.4, 9), (9, 9, 9, 9))
    r = run(b, [1, NAN, NAN, 1], size=5.0, leverage=5.0, mmr=0.05, liquidation_fee=0.01, fee=0.001,
            reentry=True)
    t = r.trades.iloc[0]
    units = 5000 / 1.001 / 10  # size x equity pays the notional and the fee
    cash = 1000 - units * 10 * 1.001
    level = -cash / (units * 0.95)
    assert t.exit_reason == "liquidation" and t.exit_price == pytest.approx(level, rel=1e-12)
    assert t.exit_fee == pytest.approx(units * level * 0.011, rel=1e-12)
    after = cash + units * level * (1 - 0.011)
    assert after == pytest.approx(0.05 * units * level - 0.011 * units * level)
    assert after > 0 and r.stats["bankrupt"] == 0.0
    second = r.trades.iloc[1]
    assert (second.entry_bar, second.entry_price) == (4, 8.5)
    assert second["size"] == pytest.approx(5 * after / 1.001 / 8.5)


def test_a_leveraged_long_without_maintenance_margin_goes_bankrupt():
    # size 2: 200 units at 10, cash -1,000; equity 0 at p = 5. Bar 3's low of 4.9
    # reaches it: liquidated at 5, equity 0 (mmr 0 liquidates at zero equity): bankrupt.
    b = bars((8, 8, 7, 7), (7, 7.5, 4.9, 6), (6, 9, 6, 9))
    r = run(b, [1, NAN, NAN, NAN, 1], size=2.0, leverage=2.0)
    t = r.trades.iloc[0]
    assert (t.exit_reason, t.exit_price, t.pnl) == ("liquidation", 5.0, -1000.0)
    assert r.equity.tolist() == [1000, 1000, 400, 0, 0]
    assert r.stats["bankrupt_bar"] == 3.0


def test_a_long_bought_with_its_own_cash_is_never_liquidated():
    # size 1 (no borrowing): the price falls 99% and the long is still open.
    b = bars((5, 5, 0.1, 0.1), (0.1, 0.2, 0.1, 0.2))
    r = run(b, [1], mmr=0.5)
    assert r.trades.iloc[0].exit_reason == "end" and r.stats["bankrupt"] == 0.0


def test_the_tighter_of_a_stop_and_the_liquidation_price_fills():
    # Short at 10, sl 50%: the stop at 15 is tighter than the liquidation price of 20,
    # so a bar whose high reaches 21 stops out at 15 (the price passed 15 first).
    b = bars((12, 21, 12, 19))
    stop = run(b, [-1], sl=0.5).trades.iloc[0]
    assert (stop.exit_reason, stop.exit_price) == ("sl", 15.0)
    # Long at 10 with size 5 and sl 50% (level 5): the liquidation price of 8 is
    # tighter, so a bar whose low reaches 4 liquidates at 8.
    b = bars((9, 9, 4, 6))
    liq = run(b, [1], sl=0.5, size=5.0, leverage=5.0).trades.iloc[0]
    assert (liq.exit_reason, liq.exit_price) == ("liquidation", 8.0)


def test_the_stop_tie_rule_decides_between_the_liquidation_and_the_take_profit():
    # Short at 10 (liquidation at 20) with tp 10% (level 9): a bar reaching both.
    b = bars((12, 21, 8, 12))
    assert run(b, [-1], tp=0.1).trades.iloc[0].exit_reason == "liquidation"
    assert run(b, [-1], tp=0.1, stop_tie="tp").trades.iloc[0].exit_reason == "tp"


def test_size_above_leverage_is_refused_alike_everywhere():
    refusal = ("size = 1.5 is above leverage = 1: size may go up to leverage; raise leverage (--leverage) "
               "or lower size")
    b = bars((10, 10, 10, 10))
    with pytest.raises(ValueError) as raised:
        run(b, [1], size=1.5)
    assert str(raised.value) == refusal
    with pytest.raises(ValueError) as raised:
        EngineSettings(size=1.5)
    assert str(raised.value) == refusal
    with pytest.raises(GridError, match=r"size = 1.5 at combination 1 is above leverage = 1"):
        build_grid(["size=0.5,1.5"], {}, fixed={"leverage": 1.0})
    grid = build_grid(["size=0.5,1.5", "leverage=1,2"], {}, constraints=["size <= leverage"])
    assert len(grid) == 3
    per_bar = pd.Series([1.0, 2.5, 1.0], index=b.index)
    with pytest.raises(ValueError, match=r"size = 2.5 at row 1 \(2024-01-02 00:00:00\+00:00\) is above leverage = 2"):
        run(b, [1], size=per_bar, leverage=2.0)
    assert run(b, [1], size=2.0, leverage=2.0).trades.iloc[0]["size"] == 200.0


def test_equity_never_goes_below_zero_without_a_gap():
    # Many random shorts and leveraged longs on a volatile walk without gaps (each open
    # is the previous close, so a level is always touched before it is passed):
    # equity stays at or above zero on every bar of every column.
    rng = np.random.default_rng(5)
    n, cols = 400, 12
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.06, n)))
    open_ = np.r_[100, close[:-1]]
    b = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.03,
                      "low": np.minimum(open_, close) * 0.97, "close": close},
                     index=pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC"))
    target = pd.DataFrame(rng.choice([1.0, -1.0, 0.0, NAN], p=[0.05, 0.05, 0.02, 0.88], size=(n, cols)),
                          index=b.index)
    r = backtest(b, Signals(target), size=3.0, leverage=3.0, mmr=0.01)
    assert (r.trades.exit_reason == "liquidation").sum() > 5  # the scenario exercises the rule
    assert (r.equity.to_numpy() >= -1e-9).all()
