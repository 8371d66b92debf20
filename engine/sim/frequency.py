"""Annualization: periods (bars) per year inferred from a DatetimeIndex."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlbt.sim.checks_nb import regular_step_nb

_DAY = pd.Timedelta(days=1)
_DAY_IN_UNITS = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
_HEAD = 1024  # bars looked at first for a weekend: 24/7 data has one in its first week


def _has_weekend_bar(ns: np.ndarray, day: int) -> bool:
    """Whether the market trades seven days a week: its bars fall on all seven UTC
    weekdays (1970-01-01 was a Thursday). Not merely "a Saturday or Sunday bar": a
    weekday market stamped at local midnight east of UTC (Berlin, Tokyo) has its
    Monday bar on Sunday in UTC, and five weekdays still. Data spanning less than a
    week cannot show seven, and falls back to any weekend bar."""
    if int(ns[-1] - ns[0]) < 7 * day:
        return bool(((ns // day + 3) % 7 >= 5).any())
    for part in (ns[:_HEAD], ns):  # 24/7 data shows all seven in its first week
        if np.count_nonzero(np.bincount((part // day + 3) % 7, minlength=7)) == 7:
            return True
    return False


def periods_per_year(index: pd.Index) -> float:
    """Bars per year implied by ``index``.

    Markets that trade every day (crypto: bars on all seven weekdays) have 365
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
    day = _DAY_IN_UNITS[index.unit]
    # Regular series (the common case) skip the O(n log n) median and the diffs.
    step_raw = ns[1] - ns[0] if regular_step_nb(ns) else np.median(np.diff(ns))
    if step_raw <= 0:
        raise ValueError("periods_per_year: the index is not increasing; sort the bars first")
    step = int(step_raw)  # in the index's unit, like day
    weekends = _has_weekend_bar(ns, day)
    days = 365.0 if weekends else 252.0
    if step >= 4 * day:
        return 365.25 * _DAY / pd.Timedelta(step, unit=index.unit)
    if step >= day:
        return days
    if weekends:
        return days * (day / step)  # int / int: the exact ratio, rounded once
    per_day = pd.Series(1, index=index).groupby(index.normalize()).size().median()
    return days * float(per_day)
