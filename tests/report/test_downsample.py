"""Downsampling for display: LTTB keeps the first and last points and the shape,
``downsample`` adds the global extremes, ``minmax`` keeps every bucket's extremes.

The selection is tsdownsample's since bt stopped shipping its own (``legacy_downsample``,
a frozen oracle). How tsdownsample's LTTB differs from the old code, exactly:

1. the next bucket's average x is the midpoint of its first and last x, not the mean of
   its x values: the same for evenly spaced x, different for gaps (weekends, nights);
2. bucket i starts at int(every * i) + 1 with every = (len - 2) / (n - 2) in float64, the
   old code at int(linspace(1, len - 1, n - 1)[i]): rounding can move an edge by one point;
3. its area formula rounds differently, so exact ties between areas (rounded y) may go to
   another point of the tie;
4. NaN: the old code could pick a NaN point for a bucket that was all NaN; now LTTB runs
   over the finite points and the first point of every NaN run a bucket long is added.

For evenly spaced x, y without ties or NaN and the same bucket edges, the indices are
identical (asserted below), and ``test_lttb_matches_a_plain_loop`` pins 1 and 2.
MinMax: tsdownsample's n // 2 buckets may differ by a point at the edges from the old
ceil(len / buckets)-sized ones; the property (every bucket-scale extreme kept) is asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlbt.report.downsample import downsample, lttb, minmax
from tests.report import legacy_downsample as legacy


def walk(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.arange(n, dtype=float), np.cumsum(rng.normal(size=n))


@pytest.mark.parametrize("n, k", [(10, 3), (1000, 50), (100_003, 2000), (5000, 4999)])
def test_lttb_keeps_ends_sorted_unique_and_at_most_n(n, k):
    x, y = walk(n)
    idx = lttb(x, y, k)
    assert idx[0] == 0 and idx[-1] == n - 1
    assert len(idx) <= k and np.all(np.diff(idx) > 0)


def test_lttb_short_input_is_returned_whole():
    x, y = walk(7)
    np.testing.assert_array_equal(lttb(x, y, 10), np.arange(7))
    np.testing.assert_array_equal(minmax(y, 10), np.arange(7))


def test_lttb_one_point_per_bucket_and_keeps_a_spike():
    x, y = np.arange(10_000.0), np.zeros(10_000)
    y[4321] = 50.0  # an isolated spike is the largest triangle of its bucket
    idx = lttb(x, y, 100)
    assert 4321 in idx
    assert len(idx) == 100


def reference_lttb(x, y, n):
    """LTTB as published, one bucket at a time, with tsdownsample's conventions (1) and (2)."""
    size = len(y)
    every = (size - 2) / (n - 2)
    ref, a = [0], 0
    for i in range(n - 2):
        lo, hi = int(every * i) + 1, int(every * (i + 1)) + 1
        nhi = min(int(every * (i + 2)) + 1, size)  # the next bucket [hi, nhi); the last point after the last one
        ax, ay = (x[hi] + x[nhi - 1]) / 2, y[hi:nhi].mean()
        best, best_j = -1.0, lo
        for j in range(lo, hi):
            area = abs((x[a] - ax) * (y[j] - y[a]) - (x[a] - x[j]) * (ay - y[a]))
            if area > best:
                best, best_j = area, j
        ref.append(best_j)
        a = best_j
    ref.append(size - 1)
    return np.array(ref)


@pytest.mark.parametrize("seed", range(5))
def test_lttb_matches_a_plain_loop(seed):
    rng = np.random.default_rng(seed)
    for size, n in [(997, 40), (1000, 51), (5000, 333), (20, 19)]:
        _, y = walk(size, seed)
        even = np.arange(size, dtype=float)
        gaps = np.cumsum(rng.choice([1.0, 1.0, 1.0, 60.0], size))  # bars with overnight gaps
        for x in (even, gaps, 1.7e12 + 3.6e6 * gaps):  # and epoch milliseconds
            np.testing.assert_array_equal(lttb(x, y, n), reference_lttb(x, y, n))


def test_lttb_is_the_legacy_selection_for_evenly_spaced_x():
    rng = np.random.default_rng(7)
    same = 0
    for _ in range(150):
        size = int(rng.integers(4, 3000))
        n = int(rng.integers(3, min(size, 400) + 1))
        x, y = walk(size, int(rng.integers(1 << 30)))
        old_edges = np.linspace(1, size - 1, n - 1).astype(np.int64)
        new_edges = ((size - 2) / (n - 2) * np.arange(n - 1)).astype(np.int64) + 1
        if size > n and not np.array_equal(old_edges, new_edges):
            continue  # difference (2): an edge rounded the other way
        np.testing.assert_array_equal(lttb(x, y, n), legacy.lttb(x, y, n))
        same += 1
    assert same > 120


def test_lttb_with_datetimes_equals_lttb_with_their_nanoseconds():
    x = np.arange("2020-01-01", "2020-01-08", dtype="datetime64[m]")
    _, y = walk(len(x), 4)
    ns = x.astype("datetime64[ns]").astype(np.int64).astype(float)
    np.testing.assert_array_equal(lttb(x, y, 300), lttb(ns, y, 300))
    np.testing.assert_array_equal(lttb(x, y, 300), legacy.lttb(x, y, 300))  # evenly spaced minutes


def test_lttb_nan_runs_are_marked_and_never_displace_finite_points():
    x, y = walk(10_000, 6)
    y[:500] = np.nan  # warm-up: a run many buckets long
    y[4000:4010] = np.nan  # shorter than a bucket (~100 points): not marked
    y[7000:7300] = np.nan
    y[-1] = np.nan
    idx = lttb(x, y, 100)
    assert idx[0] == 0 and idx[-1] == len(y) - 1 and len(idx) <= 100
    assert set(idx[np.isnan(y[idx])]) == {0, 7000, len(y) - 1}
    finite = np.flatnonzero(~np.isnan(y))
    chosen = idx[~np.isnan(y[idx])]
    np.testing.assert_array_equal(chosen, finite[lttb(x[finite], y[finite], 100 - 3)])
    assert len(lttb(x, np.full(len(y), np.nan), 100)) == 2  # all NaN: the two ends


def test_downsample_adds_global_extremes():
    x, y = walk(50_000, seed=2)
    idx = downsample(x, y, 500)
    assert int(np.argmin(y)) in idx and int(np.argmax(y)) in idx
    assert idx[0] == 0 and idx[-1] == len(y) - 1 and len(idx) <= 502
    assert y[idx].min() == y.min() and y[idx].max() == y.max()


@pytest.mark.parametrize("size, n", [(10_000, 200), (1750, 100), (999, 37), (50, 2)])
def test_minmax_keeps_bucket_extremes(size, n):
    _, y = walk(size, seed=3)
    idx = minmax(y, n)
    assert idx[0] == 0 and idx[-1] == size - 1 and len(idx) <= n + 2 and np.all(np.diff(idx) > 0)
    assert np.argmin(y) in idx and np.argmax(y) in idx
    w = 2 * -(-size // max(1, n // 2))  # wider than any bucket, wherever its edges lie
    for j in range(size):
        seg = y[max(0, j - w):j + w + 1]
        if y[j] in (seg.min(), seg.max()):
            assert j in idx  # the extreme of every window holding its bucket is its bucket's extreme
    assert len(idx) >= len(legacy.minmax(y, n)) - 2  # about as many points as the old code


def test_minmax_picks_a_nan_only_for_an_all_nan_bucket():
    y = np.arange(400.0)
    y[50:60] = np.nan
    y[200:300] = np.nan  # whole buckets of 20
    idx = minmax(y, 40)
    nan_picks = idx[np.isnan(y[idx])]
    assert len(nan_picks) > 0 and np.all((nan_picks >= 200) & (nan_picks < 300))


def test_a_nan_gap_is_one_nan_point_and_datetimes_work():
    x = np.arange("2020-01-01", "2020-01-08", dtype="datetime64[m]")
    y = np.sin(np.arange(len(x)) / 100.0)
    y[1000:1100] = np.nan
    idx = downsample(x, y, 300)
    # buckets hold ~34 points: the 100 NaN bars are one gap, marked by its first point
    assert np.flatnonzero(np.isnan(y[idx])).tolist() == [np.searchsorted(idx, 1000)] and 1000 in idx
    assert len(idx) <= 302
    assert idx[0] == 0 and idx[-1] == len(y) - 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="differ in length"):
        lttb(np.arange(5.0), np.arange(4.0), 3)
    with pytest.raises(ValueError, match="at least 3"):
        lttb(np.arange(5.0), np.arange(5.0), 2)
