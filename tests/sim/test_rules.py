"""One hand-computed scenario per execution rule (README, "Execution semantics").

Base bars (hourly):      bar:   0     1     2     3     4
                         open  10    10    11    12    13
                         high  10.5  11    12    13    14
                         low    9.5   9.8  10.5  11.5  12.5
                         close 10    11    12    13    13.5
Initial cash 1,000 unless stated.
"""

import math

import numpy as np
import pandas as pd
import pytest

from mlbt import Signals, backtest

NAN = math.nan


def bars(changes=None):
    frame = pd.DataFrame({
        "open": [10, 10, 11, 12, 13], "high": [10.5, 11, 12, 13, 14],
        "low": [9.5, 9.8, 10.5, 11.5, 12.5], "close": [10, 11, 12, 13, 13.5],
    }, index=pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC"), dtype=float)
    for (col, i), v in (changes or {}).items():
        frame.iloc[i, frame.columns.get_loc(col)] = v
    return frame


def run(b, target, **kw):
    kw.setdefault("cash", 1000.0)
    return backtest(b, Signals(pd.Series(target, index=b.index, dtype=float)), periods_per_year=8760, **kw)


def test_decision_fills_at_next_open():
    r = run(bars(), [1, NAN, NAN, NAN, NAN])
    t = r.trades.iloc[0]
    assert (t.entry_bar, t.entry_price, t["size"]) == (1, 10.0, 100.0)  # 1000 / open[1] = 10
    assert r.equity.tolist() == [1000, 1100, 1200, 1300, 1350]


def test_close_fill_is_same_bar_close():
    r = run(bars(), [NAN, 1, NAN, NAN, NAN], fill="close")
    t = r.trades.iloc[0]
    assert (t.entry_bar, t.entry_price) == (1, 11.0)  # close of the decision bar
    assert r.equity.iloc[-1] == pytest.approx(1000 / 11 * 13.5)


def test_proportional_and_fixed_fees_on_both_fills():
    r = run(bars(), [1, NAN, 0, NAN, NAN], fee=0.01, fixed_fee=1.0)
    units = (1000 - 1) / 1.01 / 10  # budget net of the fixed fee, grossed up for the 1% fee
    entry_fee = units * 10 * 0.01 + 1
    exit_fee = units * 12 * 0.01 + 1  # target 0 at bar 2 -> sells at open[3] = 12
    t = r.trades.iloc[0]
    assert t["size"] == pytest.approx(units)
    assert (t.entry_fee, t.exit_fee) == (pytest.approx(entry_fee), pytest.approx(exit_fee))
    assert t.pnl == pytest.approx(units * (12 - 10) - entry_fee - exit_fee)
    assert r.stats["fees_paid"] == pytest.approx(entry_fee + exit_fee)
    assert r.equity.iloc[-1] == pytest.approx(1000 + t.pnl)


def test_slippage_moves_fills_against_the_trader():
    r = run(bars(), [1, NAN, 0, NAN, NAN], slippage=0.01)
    t = r.trades.iloc[0]
    assert (t.entry_price, t.exit_price) == (pytest.approx(10.1), pytest.approx(11.88))  # 10 x 1.01, 12 x 0.99


def test_zero_closes_and_nan_keeps():
    r = run(bars(), [1, NAN, NAN, 0, NAN])
    t = r.trades.iloc[0]
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (4, 13.0, "signal")
    assert r.equity.tolist() == [1000, 1100, 1200, 1300, 1300]


def test_stop_loss_fills_at_level():
    r = run(bars({("low", 2): 8.5}), [1, NAN, NAN, NAN, NAN], sl=0.1)
    t = r.trades.iloc[0]
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (2, 9.0, "sl")  # 10 x (1 - 0.1)


def test_stop_loss_gap_fills_at_open():
    r = run(bars({("open", 2): 8.0, ("low", 2): 7.5}), [1, NAN, NAN, NAN, NAN], sl=0.1)
    t = r.trades.iloc[0]
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (2, 8.0, "sl")


def test_stop_is_first_checked_on_the_bar_after_entry():
    # Bar 1 (the entry bar) dips to 8.5, below the 9.0 stop: not checked yet.
    r = run(bars({("low", 1): 8.5}), [1, NAN, NAN, NAN, NAN], sl=0.1)
    assert r.trades.iloc[0].exit_reason == "end"


def test_take_profit_and_tie_rule():
    wide = bars({("low", 2): 8.5, ("high", 2): 12.5})  # touches both 9.0 (SL) and 12.0 (TP)
    tp_only = run(bars({("high", 2): 12.5}), [1, NAN, NAN, NAN, NAN], tp=0.2)
    assert (tp_only.trades.iloc[0].exit_price, tp_only.trades.iloc[0].exit_reason) == (12.0, "tp")
    sl_wins = run(wide, [1, NAN, NAN, NAN, NAN], sl=0.1, tp=0.2)
    assert (sl_wins.trades.iloc[0].exit_price, sl_wins.trades.iloc[0].exit_reason) == (9.0, "sl")
    tp_wins = run(wide, [1, NAN, NAN, NAN, NAN], sl=0.1, tp=0.2, stop_tie="tp")
    assert (tp_wins.trades.iloc[0].exit_price, tp_wins.trades.iloc[0].exit_reason) == (12.0, "tp")


def test_the_open_comes_before_the_tie_rule():
    """A bar that opens beyond one level fills that stop at the open, even when the bar
    then also touches the other level: the tie rule is for two touches within a bar."""
    gap_up = bars({("open", 2): 13.0, ("high", 2): 13.5, ("low", 2): 8.5, ("close", 2): 9.5})
    r = run(gap_up, [1, NAN, NAN, NAN, NAN], sl=0.1, tp=0.2)  # levels 9 and 12; opens at 13
    assert (r.trades.iloc[0].exit_price, r.trades.iloc[0].exit_reason) == (13.0, "tp")
    gap_down = bars({("open", 2): 8.0, ("high", 2): 12.5, ("low", 2): 7.5, ("close", 2): 12.0})
    r = run(gap_down, [1, NAN, NAN, NAN, NAN], sl=0.1, tp=0.2, stop_tie="tp")  # opens at 8, below the SL
    assert (r.trades.iloc[0].exit_price, r.trades.iloc[0].exit_reason) == (8.0, "sl")
    short = run(gap_down, [-1, NAN, NAN, NAN, NAN], sl=0.1, tp=0.1)  # short levels 11 (SL), 9 (TP)
    assert (short.trades.iloc[0].exit_price, short.trades.iloc[0].exit_reason) == (8.0, "tp")


def test_a_due_time_exit_is_at_the_open_before_the_bar():
    """max_hold due at bar 2's open (11): the trade ends there, not at the take-profit
    level 11.5 the bar reaches later (high 12); a stop the open is already beyond
    takes it at the same price; with close fills the time exit comes after the bar."""
    r = run(bars(), [1, NAN, NAN, NAN, NAN], tp=0.15, max_hold=1)
    assert (r.trades.iloc[0].exit_bar, r.trades.iloc[0].exit_price, r.trades.iloc[0].exit_reason) == (2, 11.0, "time")
    opens_beyond = run(bars(), [1, NAN, NAN, NAN, NAN], tp=0.02, max_hold=1)  # TP level 10.2 < open 11
    assert (opens_beyond.trades.iloc[0].exit_price, opens_beyond.trades.iloc[0].exit_reason) == (11.0, "tp")
    close_fills = run(bars(), [NAN, 1, NAN, NAN, NAN], tp=0.05, max_hold=1, fill="close")  # entry at close 11
    assert (close_fills.trades.iloc[0].exit_price, close_fills.trades.iloc[0].exit_reason) == (11.55, "tp")


def test_a_reversal_at_the_open_of_a_time_exit_still_happens():
    """Target -1 decided at bar 2 fills at open[3], the same fill as the max_hold exit:
    the signal closes the long and opens the short (it used to be dropped for good)."""
    r = run(bars(), [1, NAN, -1, NAN, NAN], max_hold=2)
    assert r.trades.side.tolist() == ["long", "short"]
    long, short = r.trades.iloc[0], r.trades.iloc[1]
    assert (long.exit_bar, long.exit_price, long.exit_reason) == (3, 12.0, "signal")
    assert (short.entry_bar, short.entry_price) == (3, 12.0)
    flat = run(bars(), [1, NAN, 0, NAN, NAN], max_hold=2)
    assert flat.trades.exit_reason.tolist() == ["signal"] and len(flat.trades) == 1


def test_stop_beats_signal_on_same_bar():
    # Target -1 at bar 1 would reverse at open[2]; bar 2's SL fires first and cancels it.
    r = run(bars({("low", 2): 8.5}), [1, -1, NAN, NAN, NAN], sl=0.1)
    assert len(r.trades) == 1
    assert r.trades.iloc[0].exit_reason == "sl"
    assert r.equity.iloc[-1] == r.equity.iloc[2] == pytest.approx(900.0)  # flat after the stop at 9


def test_after_a_stop_a_fresh_signal_is_needed():
    b = bars({("low", 2): 8.5})
    stay = run(b, [1, 1, 1, 1, 1], sl=0.1)
    assert len(stay.trades) == 1  # target stays +1: no re-entry
    again = run(b, [1, 1, 1, 1, 1], sl=0.1, reentry=True)
    t = again.trades
    assert len(t) == 2 and (t.iloc[1].entry_bar, t.iloc[1].entry_price) == (3, 12.0)
    fresh = run(b, [1, 1, 0, 1, NAN], sl=0.1)
    assert fresh.trades.entry_bar.tolist() == [1, 4]  # 0 then +1 is a fresh entry
    # Signals.reentry is the plugin's reading of its own targets: it wins over the keyword
    own = backtest(b, Signals(pd.Series([1.0, 1, 1, 1, 1], index=b.index), sl=0.1, reentry=True))
    assert own.trades.entry_bar.tolist() == [1, 3] and own.settings["reentry"] is True
    off = backtest(b, Signals(pd.Series([1.0, 1, 1, 1, 1], index=b.index), sl=0.1, reentry=False), reentry=True)
    assert off.trades.entry_bar.tolist() == [1]
    gap = run(b, [1, NAN, 1, NAN, NAN], sl=0.1, reentry=True)  # NaN keeps; only explicit +1 re-enters
    assert gap.trades.entry_bar.tolist() == [1, 3]


def test_reversal_closes_and_opens_in_one_step_with_two_fees():
    r = run(bars(), [1, -1, NAN, NAN, NAN], fee=0.01)
    long, short = r.trades.iloc[0], r.trades.iloc[1]
    units = 1000 / 1.01 / 10
    cash_after_close = units * 11 - units * 11 * 0.01  # sold at open[2] = 11
    short_units = cash_after_close / 1.01 / 11
    assert (long.exit_bar, short.entry_bar, short.side) == (2, 2, "short")
    assert long.exit_fee == pytest.approx(units * 11 * 0.01)
    assert short.entry_fee == pytest.approx(short_units * 11 * 0.01)
    assert short["size"] == pytest.approx(short_units)
    orders = r.orders
    assert orders.bar.tolist() == [1, 2, 2] and orders.side.tolist() == ["buy", "sell", "sell"]


def test_short_is_cash_accounted():
    r = run(bars(), [-1, NAN, NAN, NAN, NAN])
    # Short 100 units at 10: cash 2,000, owes 100 units; equity = 2000 - 100 x close.
    assert r.equity.tolist() == [1000, 900, 800, 700, 650]


def test_trailing_stop_follows_the_best_price():
    b = bars({("high", 2): 15.0, ("open", 3): 14.0, ("high", 3): 14.5, ("low", 3): 13.0, ("close", 3): 14.0,
                ("open", 4): 14.0, ("high", 4): 14.5, ("low", 4): 13.9, ("close", 4): 14.2})
    r = run(b, [1, NAN, NAN, NAN, NAN], sl=0.1, trail=True)
    t = r.trades.iloc[0]
    # Peak 15 (bar 2 high, taken after bar 2's check) -> level 13.5, hit on bar 3.
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (3, 13.5, "trail")


def test_max_hold_closes_at_next_fill():
    r = run(bars(), [1, NAN, NAN, NAN, NAN], max_hold=2)
    t = r.trades.iloc[0]
    assert (t.entry_bar, t.exit_bar, t.exit_price, t.exit_reason, t.bars_held) == (1, 3, 12.0, "time", 2)
    c = run(bars(), [1, NAN, NAN, NAN, NAN], max_hold=2, fill="close")
    assert (c.trades.iloc[0].exit_bar, c.trades.iloc[0].exit_price) == (2, 12.0)  # close of bar 0 + 2


def test_lot_rounds_units_down():
    r = run(bars({("open", 1): 10.5}), [1, NAN, NAN, NAN, NAN], lot=1)
    assert r.trades.iloc[0]["size"] == 95.0  # floor(1000 / 10.5 = 95.24)
    assert r.equity.iloc[1] == pytest.approx(1000 - 95 * 10.5 + 95 * 11)


def test_nan_bar_has_no_fill_and_the_order_waits():
    b = bars({("open", 1): NAN, ("high", 1): NAN, ("low", 1): NAN, ("close", 1): NAN})
    r = run(b, [1, NAN, NAN, NAN, NAN])
    t = r.trades.iloc[0]
    assert (t.entry_bar, t.entry_price) == (2, 11.0)
    assert r.equity.tolist()[:2] == [1000, 1000]


def test_stops_wait_over_nan_bars():
    b = bars({("open", 2): NAN, ("high", 2): NAN, ("low", 2): NAN, ("close", 2): NAN, ("low", 3): 8.0})
    r = run(b, [1, NAN, NAN, NAN, NAN], sl=0.1)
    t = r.trades.iloc[0]
    assert (t.exit_bar, t.exit_price) == (3, 9.0)
    assert r.equity.iloc[2] == r.equity.iloc[1] == 1100.0  # NaN bar marked at the last close


def test_open_position_at_end_is_marked_to_market():
    r = run(bars(), [1, NAN, NAN, NAN, NAN], fee=0.01)
    t = r.trades.iloc[0]
    assert bool(t.is_open) and t.exit_reason == "end"
    assert (t.exit_bar, t.exit_price, t.exit_fee) == (4, 13.5, 0.0)
    assert r.stats["open_trades"] == 1 and np.isnan(r.stats["win_rate"])  # no closed trade yet
    assert r.equity.iloc[-1] == pytest.approx(1000 + t.pnl + 0.0)


def test_size_commits_a_fraction_of_equity():
    r = run(bars(), [1, 0, 1, NAN, NAN], size=0.5)
    first, second = r.trades.iloc[0], r.trades.iloc[1]
    assert first["size"] == pytest.approx(50.0)  # 500 / 10
    equity_before = 1000 + 50 * (11 - 10)  # flat again after selling at open[2] = 11
    assert second["size"] == pytest.approx(0.5 * equity_before / 12)


def test_per_bar_stops_belong_to_each_entry():
    b = bars({("low", 2): 9.6, ("low", 4): 11.0})
    sl = pd.Series([0.02, NAN, 0.05, NAN, NAN], index=b.index)
    r = run(b, [1, NAN, 0, 1, NAN], sl=sl)
    # Trade 1 (decided at bar 0, sl 2%): level 9.8, bar 2 low 9.6 -> stopped at 9.8.
    # Trade 2 (decided at bar 2... cancelled by no position; decided at bar 3, sl NaN): no stop.
    t = r.trades
    assert (t.iloc[0].exit_price, t.iloc[0].exit_reason) == (9.8, "sl")
    assert t.iloc[1].entry_bar == 4 and t.iloc[1].exit_reason == "end"
