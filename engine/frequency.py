"""Annualization: periods (bars) per year inferred from a DatetimeIndex."""

from __future__ import annotations

import numpy as np
import pandas as pd

_DAY = pd.Timedelta(days=1)


def periods_per_year(index: pd.Index) -> float:
    """Bars per year implied by ``index``.

    Markets that trade on weekends (crypto: any Saturday or Sunday bar) have 365
    trading days a year, others 252. Bars per trading day come from the median bar
    spacing for intraday data with weekend bars (24/7), else from the median
    number of bars per calendar day present. Weekly and slower data: 365.25 days
    divided by the median spacing. Raises ValueError if it cannot tell (fewer than
    two timestamps, or not a DatetimeIndex): pass ``periods_per_year`` then.
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        raise ValueError(
            "periods_per_year: cannot infer the bar frequency from this index "
            f"({type(index).__name__} of {len(index)} rows); pass periods_per_year="
        )
    ns = index.asi8
    day = pd.Timedelta(days=1) // pd.Timedelta(1, unit=index.unit)  # day length in the index's unit
    diffs = np.diff(ns)
    # Regular series (the common case) skip the O(n log n) median.
    step_raw = diffs[0] if (diffs == diffs[0]).all() else np.median(diffs)
    if step_raw <= 0:
        raise ValueError("periods_per_year: the index is not increasing; sort the bars first")
    step = pd.Timedelta(int(step_raw), unit=index.unit)
    # Weekday of each bar on the UTC calendar (bt's bars are UTC); 1970-01-01 was a Thursday.
    weekends = bool(((ns // day + 3) % 7 >= 5).any())
    days = 365.0 if weekends else 252.0
    if step >= pd.Timedelta(days=4):
        return 365.25 * _DAY / step
    if step >= _DAY:
        return days
    if weekends:
        return days * (_DAY / step)
    per_day = pd.Series(1, index=index).groupby(index.normalize()).size().median()
    return days * float(per_day)
