"""One-pass numba checks of bars and targets; each returns the first offending
(row, column, code) or (-1, -1, 0), so validating 20M values allocates nothing.

Each check first counts problems in a branch-free pass that the compiler turns
into SIMD code, and only when there is one walks the values in order to name the
first."""

import numpy as np
from numba import njit

# Price problems, in the order they are checked per bar.
PARTIAL_NAN, NOT_FINITE_OR_POSITIVE, HIGH_BELOW_LOW, HIGH_BELOW_OC, LOW_ABOVE_OC = 1, 2, 3, 4, 5


@njit(cache=True, nogil=True)
def count_bad_bars_nb(o, h, lo, c):
    """Number of bars (elements of the C-contiguous arrays) that are neither
    entirely NaN nor consistent: 0 < low <= open, close <= high < inf."""
    a_, b_, d_, e_ = o.reshape(-1), h.reshape(-1), lo.reshape(-1), c.reshape(-1)
    n_bad = 0
    for k in range(a_.shape[0]):
        a, b, d, e = a_[k], b_[k], d_[k], e_[k]
        # Any NaN fails a comparison; high >= everything and low <= everything make
        # low > 0 and high < inf bound all four prices.
        good = (d > 0.0) & (b < np.inf) & (b >= d) & (b >= a) & (b >= e) & (d <= a) & (d <= e)
        some = (a == a) | (b == b) | (d == d) | (e == e)  # not entirely NaN
        n_bad += (not good) & some
    return n_bad


@njit(cache=True, nogil=True)
def check_prices_nb(o, h, lo, c):
    """First problem among (T, N) open/high/low/close: a bar partly NaN, a price not
    finite or not positive, high < low, high < max(open, close), low > min(open, close)."""
    if count_bad_bars_nb(o, h, lo, c) == 0:
        return -1, -1, 0
    T, N = c.shape
    for i in range(T):
        for j in range(N):
            a, b, d, e = o[i, j], h[i, j], lo[i, j], c[i, j]
            n_nan = np.isnan(a) + np.isnan(b) + np.isnan(d) + np.isnan(e)
            if n_nan == 4:
                continue
            if n_nan > 0:
                return i, j, PARTIAL_NAN
            if not (0.0 < a < np.inf and 0.0 < b < np.inf and 0.0 < d < np.inf and 0.0 < e < np.inf):
                return i, j, NOT_FINITE_OR_POSITIVE
            if b < d:
                return i, j, HIGH_BELOW_LOW
            if b < max(a, e):
                return i, j, HIGH_BELOW_OC
            if d > min(a, e):
                return i, j, LOW_ABOVE_OC
    return -1, -1, 0


@njit(cache=True, nogil=True)
def check_target_nb(target):
    """(row, column) of the first value of the C-contiguous (T, N) ``target`` that is
    not +1, -1, 0 or NaN, or (-1, -1); and, from the same pass, the number of +1/-1
    values: every entry is decided by one, so it bounds the trades."""
    flat = target.reshape(-1)
    n_bad = 0
    n_orders = 0
    for k in range(flat.shape[0]):
        v = flat[k]
        n_bad += not ((v == 0.0) | (v == 1.0) | (v == -1.0) | (v != v))
        n_orders += (v == 1.0) | (v == -1.0)
    if n_bad == 0:
        return -1, -1, n_orders
    T, N = target.shape
    for i in range(T):
        for j in range(N):
            v = target[i, j]
            if not (v == 0.0 or v == 1.0 or v == -1.0 or np.isnan(v)):
                return i, j, n_orders
    return -1, -1, n_orders


@njit(cache=True, nogil=True)
def regular_step_nb(ns):
    """Whether every step between consecutive int64 timestamps ``ns`` (at least two)
    equals the first one."""
    step = ns[1] - ns[0]
    n_other = 0
    for k in range(1, ns.shape[0] - 1):
        n_other += (ns[k + 1] - ns[k]) != step
    return n_other == 0
