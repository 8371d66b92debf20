"""Downsampling for display: LTTB keeps the first and last points and the shape,
``downsample`` adds the global extremes, ``minmax`` keeps every bucket's extremes."""

from __future__ import annotations

import numpy as np
import pytest

from mlbt.report.downsample import downsample, lttb, minmax


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


def test_lttb_matches_a_plain_loop():
    x, y = walk(997, seed=5)
    n = 40
    # reference: the algorithm as published, one bucket at a time
    every = (len(y) - 2) / (n - 2)
    ref, a = [0], 0
    edges = np.linspace(1, len(y) - 1, n - 1).astype(int)
    for i in range(n - 2):
        lo, hi = edges[i], edges[i + 1]
        nlo, nhi = (edges[i + 1], edges[i + 2]) if i + 2 < len(edges) else (len(y) - 1, len(y))
        ax, ay = x[nlo:nhi].mean(), y[nlo:nhi].mean()
        best, best_j = -1.0, lo
        for j in range(lo, hi):
            area = abs((x[a] - ax) * (y[j] - y[a]) - (x[a] - x[j]) * (ay - y[a]))
            if area > best:
                best, best_j = area, j
        ref.append(best_j)
        a = best_j
    ref.append(len(y) - 1)
    assert every > 1
    np.testing.assert_array_equal(lttb(x, y, n), np.array(ref))


def test_downsample_adds_global_extremes():
    x, y = walk(50_000, seed=2)
    idx = downsample(x, y, 500)
    assert int(np.argmin(y)) in idx and int(np.argmax(y)) in idx
    assert idx[0] == 0 and idx[-1] == len(y) - 1 and len(idx) <= 502
    assert y[idx].min() == y.min() and y[idx].max() == y.max()


def test_minmax_keeps_bucket_extremes():
    _, y = walk(10_000, seed=3)
    idx = minmax(y, 200)
    assert idx[0] == 0 and idx[-1] == len(y) - 1 and len(idx) <= 202
    k = -(-len(y) // 100)
    for b in range(100):
        seg = y[b * k:(b + 1) * k]
        assert b * k + int(np.argmin(seg)) in idx and b * k + int(np.argmax(seg)) in idx


def test_nan_points_only_when_the_bucket_is_all_nan_and_datetimes_work():
    x = np.arange("2020-01-01", "2020-01-08", dtype="datetime64[m]")
    y = np.sin(np.arange(len(x)) / 100.0)
    y[1000:1100] = np.nan
    idx = downsample(x, y, 300)
    # buckets hold ~34 points: the 100 NaN bars fill at most 3 buckets entirely, one NaN point each
    assert np.isnan(y[idx]).sum() <= 3
    assert idx[0] == 0 and idx[-1] == len(y) - 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="differ in length"):
        lttb(np.arange(5.0), np.arange(4.0), 3)
    with pytest.raises(ValueError, match="at least 3"):
        lttb(np.arange(5.0), np.arange(5.0), 2)
