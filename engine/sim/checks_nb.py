"""One-pass numba checks of bars, targets and the index; each returns the first
offending position, so validating 20M values allocates nothing.

The price and target checks first count problems in a branch-free pass over the
values in memory order (C or Fortran: a DataFrame's values arrive column by column,
and are read in place), which the compiler turns into SIMD code, and only when there
is one walk the values in row order to name the first."""

import numpy as np
from numba import njit, prange

# Price problems, in the order they are checked per bar.
PARTIAL_NAN, NOT_FINITE_OR_POSITIVE, HIGH_BELOW_LOW, HIGH_BELOW_OC, LOW_ABOVE_OC = 1, 2, 3, 4, 5


@njit(cache=True, nogil=True, inline="always")
def _bad_bar(a: float, b: float, d: float, e: float) -> bool:
    """A bar (open a, high b, low d, close e) neither entirely NaN nor consistent:
    0 < low <= open, close <= high < inf. Any NaN fails a comparison; high >= everything
    and low <= everything make low > 0 and high < inf bound all four prices."""
    good = (d > 0.0) & (b < np.inf) & (b >= d) & (b >= a) & (b >= e) & (d <= a) & (d <= e)
    some = (a == a) | (b == b) | (d == d) | (e == e)  # not entirely NaN
    return (not good) & some


@njit(cache=True, nogil=True)
def count_bad_bars_nb(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> int:
    """Number of bars (elements of the (T, N) arrays, all of one memory layout) that
    ``_bad_bar`` refuses, counted in memory order."""
    T, N = c.shape
    n_bad = 0
    if c.flags.f_contiguous:
        for j in range(N):
            for i in range(T):
                n_bad += _bad_bar(o[i, j], h[i, j], lo[i, j], c[i, j])
    else:
        for i in range(T):
            for j in range(N):
                n_bad += _bad_bar(o[i, j], h[i, j], lo[i, j], c[i, j])
    return n_bad


PARALLEL_ROWS = 1 << 18  # bars above which the counting pass runs in row blocks on several threads


@njit(cache=True, nogil=True, parallel=True)
def count_bad_bars_blocks_nb(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> int:
    """``count_bad_bars_nb`` over blocks of rows in parallel threads (the pass is memory-bound)."""
    T = c.shape[0]
    blocks = 8
    counts = np.zeros(blocks, dtype=np.int64)
    for b in prange(blocks):
        start, end = T * b // blocks, T * (b + 1) // blocks
        counts[b] = count_bad_bars_nb(o[start:end], h[start:end], lo[start:end], c[start:end])
    return counts.sum()


@njit(cache=True, nogil=True)
def check_prices_nb(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> tuple[int, int, int]:
    """First problem among (T, N) open/high/low/close in row order: a bar partly NaN,
    a price not finite or not positive, high < low, high < max(open, close), low >
    min(open, close); (-1, -1, 0) when there is none."""
    return first_bad_bar_nb(o, h, lo, c) if count_bad_bars_nb(o, h, lo, c) else (-1, -1, 0)


@njit(cache=True, nogil=True)
def first_bad_bar_nb(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> tuple[int, int, int]:
    """``check_prices_nb``'s walk in row order, for prices known to have a problem."""
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


@njit(cache=True, nogil=True, inline="always")
def _target_counts(v: float) -> tuple[bool, bool]:
    """(1 when ``v`` is not a target value (+1, -1, 0, NaN), 1 when it is +1 or -1)."""
    return not ((v == 0.0) | (v == 1.0) | (v == -1.0) | (v != v)), (v == 1.0) | (v == -1.0)


@njit(cache=True, nogil=True)
def check_target_nb(target: np.ndarray) -> tuple[int, int, int]:
    """(row, column) of the first value of the (T, N) ``target`` in row order that is
    not +1, -1, 0 or NaN, or (-1, -1); and, from the same pass, the number of +1/-1
    values: every entry is decided by one, so it bounds the trades."""
    T, N = target.shape
    n_bad = 0
    n_orders = 0
    if target.flags.f_contiguous:
        for j in range(N):
            for i in range(T):
                bad, order = _target_counts(target[i, j])
                n_bad += bad
                n_orders += order
    else:
        for i in range(T):
            for j in range(N):
                bad, order = _target_counts(target[i, j])
                n_bad += bad
                n_orders += order
    i, j = first_bad_target_nb(target) if n_bad else (-1, -1)
    return i, j, n_orders


@njit(cache=True, nogil=True)
def first_bad_target_nb(target: np.ndarray) -> tuple[int, int]:
    """(row, column) of the first value in row order that is not a target value."""
    T, N = target.shape
    for i in range(T):
        for j in range(N):
            v = target[i, j]
            if not (v == 0.0 or v == 1.0 or v == -1.0 or np.isnan(v)):
                return i, j
    return -1, -1


@njit(cache=True, nogil=True)
def scan_index_nb(ns: np.ndarray, day: int) -> tuple[int, bool, int]:
    """What the input check and the frequency inference need from int64 timestamps
    ``ns`` (at least one) in units where a day is ``day``: (the first position whose
    timestamp is not after the one before it, -1 when they strictly increase; whether
    every step equals the first; the UTC weekdays present as bits, 1 << 0 Monday ...
    1 << 6 Sunday, 0 when the timestamps do not increase).

    The steps are checked in one branch-free pass; the weekdays are then looked up
    once per calendar day present (1970-01-01 was a Thursday), jumping to the next day
    by binary search and stopping once all seven are seen."""
    n = ns.shape[0]
    step = ns[1] - ns[0] if n > 1 else 0
    n_bad = 0
    n_other = 0
    for k in range(1, n):
        d = ns[k] - ns[k - 1]
        n_bad += d <= 0
        n_other += d != step
    if n_bad:
        for k in range(1, n):
            if ns[k] <= ns[k - 1]:
                return k, n_other == 0, 0
    weekdays = 0
    k = 0
    while k < n and weekdays != 0b1111111:
        days = ns[k] // day
        weekdays |= 1 << ((days + 3) % 7)
        k += np.searchsorted(ns[k:], (days + 1) * day)
    return -1, n_other == 0, weekdays


@njit(cache=True, nogil=True, parallel=True)
def count_target_columns_nb(target: np.ndarray) -> tuple[int, int]:
    """``check_target_nb``'s counting pass over the columns of ``target`` in parallel
    threads: (values that are not +1, -1, 0 or NaN, +1/-1 values)."""
    T, N = target.shape
    bad = np.zeros(N, dtype=np.int64)
    orders = np.zeros(N, dtype=np.int64)
    for j in prange(N):
        n_bad = 0
        n_orders = 0
        for i in range(T):
            b, o = _target_counts(target[i, j])
            n_bad += b
            n_orders += o
        bad[j] = n_bad
        orders[j] = n_orders
    return bad.sum(), orders.sum()


@njit(cache=True, nogil=True)
def first_gross_excess_nb(targets: np.ndarray, cols: np.ndarray, start: np.ndarray,
                          leverage: np.ndarray) -> tuple[int, int, float, float]:
    """(bar, group, gross, cap) of the earliest bar (the first group's on a tie) at which a group's
    target weights (rows of ``targets``, one per column; NaN keeps the last one, 0
    before any) add up in absolute value to more than its leverage (the largest of
    its columns' at that bar, a (1|T, 1|N) array); (-1, -1, 0, 0) when none does.
    One pass, without a forward-filled copy of the targets."""
    T = targets.shape[1]
    first, first_g, first_gross, first_cap = -1, -1, 0.0, 0.0
    for g in range(start.shape[0] - 1):
        members = cols[start[g]:start[g + 1]]
        held = np.zeros(members.shape[0])
        for i in range(T if first < 0 else first):
            gross, cap = 0.0, 0.0
            for k in range(members.shape[0]):
                c = members[k]
                w = targets[c, i]
                if w == w:
                    held[k] = w
                gross += abs(held[k])
                cap = max(cap, leverage[i if leverage.shape[0] > 1 else 0, c if leverage.shape[1] > 1 else 0])
            if gross > cap * (1.0 + 1e-12):
                first, first_g, first_gross, first_cap = i, g, gross, cap
                break
    return first, first_g, first_gross, first_cap


@njit(cache=True, nogil=True)
def check_weights_nb(target: np.ndarray) -> tuple[int, int, int]:
    """(row, column) of the first infinite target weight of the (T, N) ``target`` in
    row order, or (-1, -1); and the number of non-NaN weights (decisions), in one pass
    in the array's memory order."""
    T, N = target.shape
    n_inf = 0
    decided = 0
    if target.flags.f_contiguous:
        for j in range(N):
            for i in range(T):
                v = target[i, j]
                decided += v == v
                n_inf += abs(v) == np.inf
    else:
        for i in range(T):
            for j in range(N):
                v = target[i, j]
                decided += v == v
                n_inf += abs(v) == np.inf
    if n_inf:
        for i in range(T):
            for j in range(N):
                if abs(target[i, j]) == np.inf:
                    return i, j, decided
    return -1, -1, decided
