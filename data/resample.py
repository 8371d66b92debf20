"""Resample bars to a coarser timeframe.

A resampled bar is labelled by its start (``label="left"``, ``closed="left"``): the
4h bar at 08:00 aggregates the bars at 08:00, 09:00, 10:00 and 11:00, and is known at
11:00's close. Bins are anchored at the Unix epoch (00:00 UTC), so 4h bins start at
00:00, 04:00, ... and daily bins at midnight UTC. Aggregation: open first, high max,
low min, close last, volume sum; extra columns (``ivx``...) take the bin's last
value. Bins with no bars are dropped, not filled. The last bin may be partial when
the data ends inside it.
"""

from __future__ import annotations

import pandas as pd

from mlbt.data.errors import DataError

AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def resample(bars: pd.DataFrame, timeframe: str, *, source: str = "bars") -> pd.DataFrame:
    """Bars aggregated to ``timeframe`` (a pandas offset such as ``4h``, ``1D``, ``1W``).

    Refuses a timeframe finer than the data's spacing or one that does not divide
    evenly into fixed durations (months are allowed: calendar bins).
    """
    try:
        offset = pd.tseries.frequencies.to_offset(timeframe)
    except ValueError:
        raise DataError(f"{source}: unknown timeframe {timeframe!r}; use a pandas offset like 15min, 4h, 1D, 1W") \
            from None
    if len(bars) > 1:
        finest = pd.Series(bars.index).diff().min()
        try:
            step = pd.Timedelta(offset)
        except ValueError:  # calendar offsets (months, weeks anchored) have no fixed length
            step = None
        if step is not None and step < finest:
            raise DataError(f"{source}: timeframe {timeframe} is finer than the data's spacing {finest}; "
                            "bt only aggregates to coarser bars")
    agg = {c: AGG.get(c, "last") for c in bars.columns}
    kw = {} if offset.name.startswith(("W", "M", "Q", "Y", "A", "B")) else {"origin": "epoch"}
    out = bars.resample(offset, label="left", closed="left", **kw).agg(agg)
    out = out[bars["close"].resample(offset, label="left", closed="left", **kw).count().to_numpy() > 0]
    out.attrs = dict(bars.attrs)
    return out
