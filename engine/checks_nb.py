"""One-pass numba checks of bars and targets; each returns the first offending
(row, column, code) or (-1, -1, 0), so validating 20M values allocates nothing."""

import numpy as np
from numba import njit

# Price problems, in the order they are checked per bar.
PARTIAL_NAN, NOT_FINITE_OR_POSITIVE, HIGH_BELOW_LOW, HIGH_BELOW_OC, LOW_ABOVE_OC = 1, 2, 3, 4, 5


@njit(cache=True, nogil=True)
def check_prices_nb(o, h, lo, c):
    """First problem among (T, N) open/high/low/close: a bar partly NaN, a price not
    finite or not positive, high < low, high < max(open, close), low > min(open, close)."""
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
    """First target value that is not +1, -1, 0 or NaN."""
    T, N = target.shape
    for i in range(T):
        for j in range(N):
            v = target[i, j]
            if not (v == 0.0 or v == 1.0 or v == -1.0 or np.isnan(v)):
                return i, j
    return -1, -1
