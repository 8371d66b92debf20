"""Annualization: periods (bars) per year inferred from a DatetimeIndex, and the one
scan of the index that the input checks read too."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from mlbt.sim.checks_nb import scan_index_nb

_DAY = pd.Timedelta(days=1)
_DAY_IN_UNITS = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
ALL_WEEKDAYS = 0b1111111
#: What to do when the bar frequency cannot be inferred, in every context that runs a backtest.
PPY_FIX = ("give the bars per year: --periods-per-year N (bt run, bt sweep), periods_per_year = N in the plugin "
           "class (every command) or backtest(..., periods_per_year=N) in Python, e.g. 8760 for hourly bars of a "
           "24/7 market, 252 for daily bars of a weekday market; or load more bars")
WEEKEND = 0b1100000  # Saturday, Sunday


class IndexScan(NamedTuple):
    """What one pass over a DatetimeIndex tells (``checks_nb.scan_index_nb``)."""

    first_bad: int   # first position not after the one before it; -1: sorted and unique
    regular: bool    # every step equals the first
    weekdays: int    # UTC weekdays present, bits from Monday (1) to Sunday (64)


def scan_index(index: pd.Index) -> IndexScan | None:
    """The scan of ``index`` (None for an empty index or one that is not a DatetimeIndex)."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) == 0:
        return None
    return IndexScan(*scan_index_nb(index.asi8, _DAY_IN_UNITS[index.unit]))


def periods_per_year(index: pd.Index, scan: IndexScan | None = None) -> float:
    """Bars per year implied by ``index`` (``scan``: its scan, when the caller has it).

    Markets that trade every day (crypto: bars on all seven UTC weekdays, or for data
    spanning less than a week any weekend bar) have 365 trading days a year, others 252:
    a weekday market stamped at local midnight east of UTC (Berlin, Tokyo) has its
    Monday bar on Sunday in UTC, and five weekdays still. Bars per trading day come
    from the median bar spacing for intraday data of a 24/7 market, else from the
    median number of bars per calendar day present. Weekly and slower data: 365.25 days
    divided by the median spacing. Raises ValueError if it cannot tell (fewer than two
    timestamps, or not a DatetimeIndex), saying how to give ``periods_per_year`` then.
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        what = (f"{len(index)} bar{'s' if len(index) != 1 else ''} (it takes at least 2 timestamps)"
                if isinstance(index, pd.DatetimeIndex) else f"a {type(index).__name__} (it takes timestamps)")
        raise ValueError(f"periods_per_year: cannot infer the bar frequency from {what}; {PPY_FIX}")
    scan = scan or scan_index(index)
    assert scan is not None
    if scan.first_bad >= 0:
        raise ValueError("periods_per_year: the index is not increasing; sort the bars first")
    ns = index.asi8
    day = _DAY_IN_UNITS[index.unit]
    # Regular series (the common case) skip the O(n log n) median and the diffs.
    step = int(ns[1] - ns[0] if scan.regular else np.median(np.diff(ns)))  # in the index's unit, like day
    weekends = scan.weekdays == ALL_WEEKDAYS if ns[-1] - ns[0] >= 7 * day else bool(scan.weekdays & WEEKEND)
    days = 365.0 if weekends else 252.0
    if step >= 4 * day:
        return 365.25 * _DAY / pd.Timedelta(step, unit=index.unit)
    if step >= day:
        return days
    if weekends:
        return days * (day / step)  # int / int: the exact ratio, rounded once
    per_day = pd.Series(1, index=index).groupby(index.normalize()).size().median()
    return days * float(per_day)
