"""A stable content hash of Bars, for cache keys."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def fingerprint(bars: pd.DataFrame) -> str:
    """SHA-256 (hex, 64 characters) of the bars' content: the timestamps as int64
    nanoseconds since the epoch (UTC) and every column's name, dtype and values, in
    sorted column order. Independent of column order, of the index's datetime unit,
    of ``attrs`` and of memory layout; any changed value, bar or column changes it.
    """
    h = hashlib.sha256(b"bt-bars-v1")
    index = bars.index
    if isinstance(index, pd.DatetimeIndex):
        stamps = (index.tz_convert("UTC") if index.tz is not None else index).as_unit("ns").asi8
    else:
        stamps = np.asarray(index)
    h.update(np.ascontiguousarray(stamps).tobytes())
    for name in sorted(bars.columns, key=str):
        values = bars[name].to_numpy()
        h.update(f"|{name}|{values.dtype.str}|".encode())
        if values.dtype == object:
            h.update("\x1f".join(map(str, values)).encode())
        else:
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()
