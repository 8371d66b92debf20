"""Frozen oracle: the hand-written implementation bt shipped before switching to tsdownsample,
kept unchanged as an oracle for the before/after agreement tests. Do not edit.

Original module docstring:

Downsampling of long series for display: pure numpy functions over arrays that
return the *indices* of the points to keep (sorted, unique), so several arrays that
share an x axis can be thinned by one selection.

- ``lttb(x, y, n)``: Largest-Triangle-Three-Buckets (S. Steinarsson, "Downsampling
  Time Series for Visual Representation", 2013). Keeps the first and the last point
  and, from each of n - 2 equal-count buckets of the interior, the point forming the
  largest triangle with the point kept from the previous bucket and the mean of the
  next bucket. Preserves the visual shape of a line.
- ``minmax(y, n)``: the first and last points plus the minimum and the maximum of
  each of n // 2 equal-count buckets: every local extreme at bucket scale survives
  (at most n + 2 points).
- ``downsample(x, y, n)``: LTTB plus the global minimum and maximum of y (so a
  drawdown's trough or an equity peak is never thinned away): at most n + 2 points.

NaN in y: a NaN point is chosen only when its whole bucket is NaN. Arrays shorter
than or equal to the requested size are returned whole (``arange``).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _as_float(a: Any) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "M":
        a = a.astype("datetime64[ns]").astype(np.int64)
    return a.astype(np.float64, copy=False)


def lttb(x: Any, y: Any, n: int) -> np.ndarray:
    """Indices (int64, sorted, unique) of at most ``n`` points of (x, y) chosen by LTTB;
    always index 0 and len - 1. ``x`` increasing (numbers or datetime64), ``n`` >= 3."""
    x, y = _as_float(x), _as_float(y)
    size = len(y)
    if len(x) != size:
        raise ValueError(f"lttb: x and y differ in length: {len(x)} and {size}")
    if n < 3:
        raise ValueError(f"lttb: n must be at least 3, got {n}")
    if size <= n:
        return np.arange(size, dtype=np.int64)
    # Bucket edges over the interior [1, size - 1): n - 2 buckets of near-equal count.
    edges = np.linspace(1, size - 1, n - 1).astype(np.int64)
    yz = np.where(np.isnan(y), 0.0, y)
    csum_x = np.r_[0.0, np.cumsum(x)]
    csum_y = np.r_[0.0, np.cumsum(yz)]
    # Mean point of every bucket (the last bucket's "next" is the last point).
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    mean_x = (csum_x[edges[1:]] - csum_x[edges[:-1]]) / counts
    mean_y = (csum_y[edges[1:]] - csum_y[edges[:-1]]) / counts
    mean_x = np.r_[mean_x[1:], x[-1]]
    mean_y = np.r_[mean_y[1:], yz[-1]]
    out = np.empty(n, dtype=np.int64)
    out[0], out[-1] = 0, size - 1
    a = 0
    nan = np.isnan(y)
    for i in range(n - 2):
        lo, hi = edges[i], max(edges[i + 1], edges[i] + 1)
        bx, by = x[lo:hi], yz[lo:hi]
        area = np.abs((x[a] - mean_x[i]) * (by - yz[a]) - (x[a] - bx) * (mean_y[i] - yz[a]))
        area[nan[lo:hi]] = -1.0
        a = lo + int(np.argmax(area))
        out[i + 1] = a
    return np.unique(out)


def minmax(y: Any, n: int) -> np.ndarray:
    """Indices (sorted, unique) of the first and last points and of each bucket's
    minimum and maximum, over max(1, n // 2) equal-count buckets of y."""
    y = _as_float(y)
    size = len(y)
    if size <= n:
        return np.arange(size, dtype=np.int64)
    buckets = max(1, n // 2)
    k = -(-size // buckets)
    pad = buckets * k - size
    lo = np.r_[np.where(np.isnan(y), np.inf, y), np.full(pad, np.inf)].reshape(buckets, k)
    hi = np.r_[np.where(np.isnan(y), -np.inf, y), np.full(pad, -np.inf)].reshape(buckets, k)
    base = np.arange(buckets, dtype=np.int64) * k
    idx = np.r_[0, base + lo.argmin(axis=1), base + hi.argmax(axis=1), size - 1]
    return np.unique(np.clip(idx, 0, size - 1))


def downsample(x: Any, y: Any, n: int) -> np.ndarray:
    """LTTB indices plus the global minimum and maximum of y (NaN ignored): at most
    n + 2 sorted unique indices, including the first and last point."""
    y_f = _as_float(y)
    idx = lttb(x, y_f, n)
    if len(idx) == len(y_f) or np.isnan(y_f).all():
        return idx
    return np.unique(np.r_[idx, np.nanargmin(y_f), np.nanargmax(y_f)])
