"""Bad input: a ValueError naming the argument and the first offending position."""

import numpy as np
import pandas as pd
import pytest

from mlbt import Signals, backtest
from mlbt.sim.frequency import periods_per_year
from tests.conftest import make_bars as shared_bars


def make_bars(n=6):
    return shared_bars(n, start="2024-03-01")


def with_value(col, row, value):
    b = make_bars()
    b.iloc[row, b.columns.get_loc(col)] = value
    return b


TARGET = np.array([1, 0, -1, np.nan, 1, 0], dtype=float)

CASES = [
    ("missing column", dict(bars=make_bars().drop(columns="low")), r"bars: missing column\(s\) \['low'\]"),
    ("partial NaN bar", dict(bars=with_value("high", 3, np.nan)), r"bars\['high'\] is NaN at row 3 \(2024-03-01 03:00"),
    ("inf price", dict(bars=with_value("close", 2, np.inf)), r"bars\['close'\] = inf at row 2"),
    ("non-positive price", dict(bars=with_value("open", 4, -1.0)), r"bars\['open'\] = -1.0 at row 4"),
    ("high below low", dict(bars=with_value("high", 1, 50.0)), r"high is below low at row 1 \(2024-03-01 01:00"),
    ("unsorted index", dict(bars=make_bars().iloc[[0, 2, 1, 3, 4, 5]]), r"sorted and unique; first problem at row 2"),
    ("target wrong length", dict(target=TARGET[:4]), r"signals.target: shape \(4, 1\) does not match 6 bars"),
    ("target index mismatch", dict(target=pd.Series(TARGET, index=make_bars().index + pd.Timedelta("1h"))),
     r"signals.target: index differs from the bars' index at row 0"),
    ("target bad value", dict(target=np.array([1, 0, 0.5, 0, 0, 0.0])),
     r"signals.target = 0.5 at row 2 .*must be \+1 \(long\), -1"),
    ("target inf", dict(target=np.array([1, np.inf, 0, 0, 0, 0.0])), r"signals.target = inf at row 1"),
    ("fee too high", dict(fee=1.0), r"fee = 1.0: fee is a fraction of notional in \[0, 1\)"),
    ("negative fee", dict(fee=-0.001), r"fee = -0.001"),
    ("per-column fee", dict(target=np.tile(TARGET[:, None], 2), fee=[0.001, 2.0]), r"fee = 2.0 at column 1"),
    ("ambiguous 1-D array", dict(bars=make_bars(2), target=np.zeros((2, 2)), fee=[0.001, 0.002]),
     r"fee: length 2 matches both the columns and the bars; pass a Series"),
    ("negative fixed fee", dict(fixed_fee=-1.0), r"fixed_fee = -1.0"),
    ("slippage", dict(slippage=1.5), r"slippage = 1.5"),
    ("zero stop", dict(sl=0.0), r"sl = 0.0: sl is a fraction of the entry price in \(0, 1\)"),
    ("stop given as a price", dict(sl=9.0), r"sl = 9.0: sl is a fraction of the entry price"),
    ("trail of 100%", dict(sl=1.0, trail=True), r"trail = 1.0: trail is a fraction of the best price in \(0, 1\)"),
    ("param frame with other labels", dict(target=pd.DataFrame(np.tile(TARGET[:, None], 2), index=make_bars().index,
                                                               columns=["a", "b"]),
                                           sl=pd.DataFrame(0.01, index=make_bars().index, columns=["a", "c"])),
     r"sl: columns \['a', 'c'\] are not the signal columns \['a', 'b'\]"),
    ("negative per-bar tp", dict(tp=pd.Series([0.1, 0.1, -0.2, 0.1, 0.1, 0.1], index=make_bars().index)),
     r"tp = -0.2 at row 2 \(2024-03-01 02:00"),
    ("negative trail", dict(trail=-0.05), r"trail = -0.05"),
    ("trail without sl", dict(trail=True), r"trail = True makes sl trailing, so it needs sl"),
    ("unknown fill", dict(fill="vwap"), r"fill = 'vwap': fill is one of 'next_open', 'close'"),
    ("unknown tie", dict(stop_tie="both"), r"stop_tie = 'both': stop_tie is one of 'sl', 'tp'"),
    ("size above leverage", dict(size=1.5), r"size = 1.5 is above leverage = 1: size may go up to leverage"),
    ("leverage < 1", dict(leverage=0.5), r"leverage = 0.5: leverage is a multiple of equity in \[1, inf\)"),
    ("mmr = 1", dict(mmr=1.0), r"mmr = 1.0: mmr is a fraction of notional in \[0, 1\)"),
    ("zero size", dict(size=0.0), r"size = 0.0"),
    ("bad lot", dict(lot=0), r"lot = 0.0: lot is a number of units in \(0, inf\)"),
    ("bad cash", dict(cash=0), r"cash = 0.0: cash is an amount of currency in \(0, inf\)"),
    ("fractional max_hold", dict(max_hold=2.5), r"max_hold = 2.5: max_hold is a whole number of bars"),
    ("bad periods", dict(periods_per_year=-1),
     r"periods_per_year = -1.0: periods_per_year is a number of bars in \(0, inf\)"),
    ("price columns vs signal columns", dict(
        bars=pd.concat({f: make_bars()[f] for f in ["open", "high", "low", "close"]}, axis=1).pipe(
            lambda b: pd.concat([b, b, b], axis=1, keys=["a", "b", "c"]).swaplevel(axis=1)),
        target=np.tile(TARGET[:, None], 2)), r"bars\['open'\]: 3 asset columns but the signals have 2"),
]


@pytest.mark.parametrize("name,change,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_names_argument_and_position(name, change, message):
    change = dict(change)
    b = change.pop("bars", make_bars())
    target = change.pop("target", TARGET)
    with pytest.raises(ValueError, match=message):
        backtest(b, Signals(target), periods_per_year=change.pop("periods_per_year", 8760), **change)


def test_frequency_is_inferred_from_the_index():
    hourly_247 = pd.date_range("2024-01-01", periods=500, freq="h", tz="UTC")
    assert periods_per_year(hourly_247) == 365 * 24
    business_days = pd.bdate_range("2024-01-01", periods=300, tz="UTC")
    assert periods_per_year(business_days) == 252
    crypto_days = pd.date_range("2024-01-01", periods=300, freq="D", tz="UTC")
    assert periods_per_year(crypto_days) == 365
    weekly = pd.date_range("2024-01-07", periods=60, freq="W", tz="UTC")
    assert periods_per_year(weekly) == pytest.approx(365.25 / 7)
    session = pd.DatetimeIndex([d + pd.Timedelta(hours=h) for d in pd.bdate_range("2024-01-01", periods=20)
                                for h in range(14, 21)], tz="UTC")  # 7 hourly bars a weekday
    assert periods_per_year(session) == 252 * 7
    with pytest.raises(ValueError, match=r"--periods-per-year N .*periods_per_year=N"):
        periods_per_year(pd.RangeIndex(10))


def test_multi_asset_prices_are_per_column():
    b = make_bars()
    other = b * 2
    multi = pd.concat({"a": b, "b": other}, axis=1).swaplevel(axis=1).sort_index(axis=1)
    target = pd.DataFrame({"a": TARGET, "b": TARGET}, index=b.index)
    r = backtest(multi, Signals(target), periods_per_year=8760)
    single = backtest(other, Signals(TARGET), periods_per_year=8760)
    np.testing.assert_allclose(r.equity["b"], single.equity)


def test_frames_are_matched_to_signal_columns_by_label():
    """A per-column frame (a param, or multi-asset bars) labelled like the signals but in
    another order goes to the column of the same label, not by position."""
    b = make_bars()
    target = pd.DataFrame(np.tile(TARGET[:, None], 2), index=b.index, columns=["a", "b"])
    tight = pd.DataFrame({"b": 0.5, "a": 0.001}, index=b.index)  # "a" gets the tight stop
    same = pd.DataFrame({"a": 0.001, "b": 0.5}, index=b.index)
    swapped = backtest(b, Signals(target, sl=tight), periods_per_year=8760)
    ordered = backtest(b, Signals(target, sl=same), periods_per_year=8760)
    pd.testing.assert_frame_equal(swapped.trades, ordered.trades)
    up = b * 2.0  # asset "y" trades at twice the prices of asset "x"
    multi = pd.concat({"x": b, "y": up}, axis=1).swaplevel(axis=1)
    yx = pd.DataFrame(np.tile(TARGET[:, None], 2), index=b.index, columns=["y", "x"])
    trades = backtest(multi, Signals(yx), periods_per_year=8760).trades
    first = trades.groupby("column")["entry_price"].first()
    assert first["y"] == 2.0 * first["x"]


def test_weekday_daily_bars_east_of_utc_are_a_252_day_market():
    """Daily bars at local midnight in Berlin or Tokyo fall on Sunday..Thursday in UTC:
    five weekdays, so 252 trading days (a Sunday bar alone made it 365, inflating the
    Sharpe by 1.2x); bars on all seven weekdays are a 365-day market."""
    from mlbt.sim.frequency import periods_per_year

    for tz in ("Europe/Berlin", "Asia/Tokyo", "America/New_York"):
        days = pd.bdate_range("2020-01-01", periods=300).tz_localize(tz).tz_convert("UTC")
        assert periods_per_year(days) == 252.0, tz
    assert periods_per_year(pd.date_range("2020-01-01", periods=300, freq="D", tz="UTC")) == 365.0
