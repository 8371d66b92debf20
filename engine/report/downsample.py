"""Downsampling of long series for display: functions over arrays that return the
*indices* of the points to keep (sorted, unique), so several arrays that share an x
axis can be thinned by one selection. The selection itself is tsdownsample's (Rust).

- ``lttb(x, y, n)``: Largest-Triangle-Three-Buckets (S. Steinarsson, "Downsampling
  Time Series for Visual Representation", 2013), tsdownsample's ``LTTBDownsampler``.
  Keeps the first and the last point and, from each of n - 2 equal-count buckets of
  the interior (bucket i starts at floor(i * (len - 2) / (n - 2)) + 1), the point
  forming the largest triangle with the point kept from the previous bucket and the
  next bucket's average point: mean y, and x halfway between that bucket's first and
  last x (the mean x for evenly spaced x). Preserves the visual shape of a line.
- ``minmax(y, n)``: the first and last points plus the minimum and the maximum of
  each of n // 2 equal-count buckets (tsdownsample's ``MinMaxDownsampler``): every
  local extreme at bucket scale survives (at most n + 2 points).
- ``downsample(x, y, n)``: LTTB plus the global minimum and maximum of y (so a
  drawdown's trough or an equity peak is never thinned away): at most n + 2 points.

NaN in y: ``lttb`` picks among the finite points only (tsdownsample's LTTB has no NaN
handling) and adds the first point of every NaN run at least a bucket long, so the line
shows the gap; ``minmax`` picks a NaN point only when its whole bucket is NaN. Arrays
shorter than or equal to the requested size are returned whole (``arange``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tsdownsample import LTTBDownsampler, MinMaxDownsampler


def _as_float(a: Any) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "M":
        a = a.astype("datetime64[ns]").astype(np.int64)
    return a.astype(np.float64, copy=False)


def _lttb(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    # x shifted to start at 0: tsdownsample's area formula cancels large offsets (epoch timestamps)
    picks = LTTBDownsampler().downsample(np.ascontiguousarray(x - x[0]), np.ascontiguousarray(y), n_out=n)
    return np.unique(picks.astype(np.int64))


def _gap_starts(nan: np.ndarray, length: float) -> np.ndarray:
    """First index of every run of True in ``nan`` at least ``length`` long."""
    edges = np.diff(np.r_[0, nan.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return starts[ends - starts >= length]


def lttb(x: Any, y: Any, n: int) -> np.ndarray:
    """Indices (int64, sorted, unique) of at most ``n`` points of (x, y) chosen by LTTB;
    always index 0 and len - 1. ``x`` increasing (numbers or datetime64), ``n`` >= 3.
    With NaN in y, at most max(n, 3 + number of marked NaN runs) points."""
    x, y = _as_float(x), _as_float(y)
    size = len(y)
    if len(x) != size:
        raise ValueError(f"lttb: x and y differ in length: {len(x)} and {size}")
    if n < 3:
        raise ValueError(f"lttb: n must be at least 3, got {n}")
    if size <= n:
        return np.arange(size, dtype=np.int64)
    nan = np.isnan(y)
    if not nan.any():
        return _lttb(x, y, n)
    # Own code, a thin wrapper: tsdownsample's LTTB ranks a NaN area above every finite one.
    marks = np.unique(np.r_[0, size - 1, _gap_starts(nan, (size - 2) / (n - 2))])
    marks = marks[nan[marks]]  # a finite first or last point is the finite selection's own
    finite = np.flatnonzero(~nan)
    budget = max(3, n - len(marks))
    picks = finite if len(finite) <= budget else finite[_lttb(x[finite], y[finite], budget)]
    return np.unique(np.r_[marks, picks]).astype(np.int64)


def minmax(y: Any, n: int) -> np.ndarray:
    """Indices (sorted, unique) of the first and last points and of each bucket's
    minimum and maximum, over max(1, n // 2) equal-count buckets of y."""
    y = _as_float(y)
    size = len(y)
    if size <= n:
        return np.arange(size, dtype=np.int64)
    picks = MinMaxDownsampler().downsample(np.ascontiguousarray(y), n_out=2 * max(1, n // 2))
    return np.unique(np.r_[0, picks.astype(np.int64), size - 1])


def downsample(x: Any, y: Any, n: int) -> np.ndarray:
    """LTTB indices plus the global minimum and maximum of y (NaN ignored): at most
    n + 2 sorted unique indices, including the first and last point."""
    y_f = _as_float(y)
    idx = lttb(x, y_f, n)
    if len(idx) == len(y_f) or np.isnan(y_f).all():
        return idx
    return np.unique(np.r_[idx, np.nanargmin(y_f), np.nanargmax(y_f)])
