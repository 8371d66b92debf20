"""The pooled walk-forward model of a universe: one asset gives the single-asset
walk-forward bit for bit, its schedule counts every asset's samples, its predictions
at or before bar t ignore every asset's bars after t, an asset listed later is
predicted from its own first windows, and the per-asset split carries own bar numbers."""

from __future__ import annotations

import numpy as np
import torch

from mlbt.models.pooled import pooled_schedule, split, walk_forward_pooled
from mlbt.models.walkforward import usable_samples, walk_forward
from tests.models.test_walkforward import CONFIG, WF, series

torch.set_num_threads(1)


def test_one_asset_is_the_single_asset_walk_forward():
    X, y = series()
    alone = walk_forward(X, y, CONFIG, WF, device="cpu")
    pooled = walk_forward_pooled([X], [y], [np.arange(len(X))], len(X), CONFIG, WF, device="cpu")
    np.testing.assert_array_equal(pooled.predictions["prediction"], alone.predictions["prediction"])
    np.testing.assert_array_equal(pooled.fold_of_bar, alone.fold_of_bar)
    assert [(f.train_start, f.train_end, f.predict_start, f.predict_end) for f in pooled.folds] == \
        [(f.train_start, f.train_end, f.predict_start, f.predict_end) for f in alone.folds]


def two_assets():
    """Asset 0 on all 700 bars; asset 1 listed at bar 300 (400 bars), its own scale."""
    X0, y0 = series(700, seed=0)
    X1, y1 = series(400, seed=1)
    X1 = X1 * 50 + 1000  # another price level: scaled on its own rows
    y1 = np.r_[X1[1:, 0] * 0.5, np.nan]
    return [X0, X1], [y0, y1], [np.arange(700), np.arange(300, 700)]


def test_the_schedule_counts_every_asset_s_samples():
    X, y, pos = two_assets()
    usable = [usable_samples(x, (v,), WF.lookback) for x, v in zip(X, y, strict=True)]
    # asset 0 alone reaches 200 usable samples at bar 213; from bar 300 asset 1 adds its own, but the first
    # fold is earlier: at 213 + embargo 1
    assert pooled_schedule(usable, pos, 700, WF)[0] == (214, 364)
    late = WF.__class__(**{**WF.to_dict(), "min_train": 550})
    # 550 samples: asset 0's 486 usable by bar 499 plus asset 1's from its bar 14 (universe 314): counted together
    total = np.cumsum(np.bincount(np.concatenate([p[u] for p, u in zip(pos, usable, strict=True)]), minlength=700))
    assert pooled_schedule(usable, pos, 700, late)[0][0] == int(np.flatnonzero(total >= 550)[0]) + late.gap


def test_pooled_predictions_at_or_before_t_ignore_every_asset_s_later_bars():
    X, y, pos = two_assets()
    base = walk_forward_pooled(X, y, pos, 700, CONFIG, WF, device="cpu").predictions["prediction"]
    t = 520
    X2 = [x.copy() for x in X]
    y2 = [v.copy() for v in y]
    for a, p in enumerate(pos):
        later = p > t
        X2[a][later] = np.random.default_rng(a).normal(size=X2[a][later].shape) * 10  # a different future
        y2[a][p >= t] = np.nan  # labels at bars >= t use bars > t: unknown in the other future
    other = walk_forward_pooled(X2, y2, pos, 700, CONFIG, WF, device="cpu").predictions["prediction"]
    known = np.concatenate([p <= t for p in pos])
    np.testing.assert_array_equal(other[known], base[known])


def test_an_asset_listed_after_t_does_not_change_the_predictions_at_or_before_t():
    X, y, pos = two_assets()
    full = walk_forward_pooled(X, y, pos, 700, CONFIG, WF, device="cpu").predictions["prediction"]
    t = 290  # before asset 1 lists at bar 300: the prefix universe holds asset 0 alone
    y0 = y[0][: t + 1].copy()
    y0[t] = np.nan  # its label uses bar t + 1
    prefix = walk_forward_pooled([X[0][: t + 1]], [y0], [np.arange(t + 1)], t + 1, CONFIG, WF, device="cpu")
    np.testing.assert_array_equal(prefix.predictions["prediction"], full[: t + 1])


def test_a_later_asset_is_predicted_from_its_own_first_windows_and_split_numbers_its_bars():
    X, y, pos = two_assets()
    result = walk_forward_pooled(X, y, pos, 700, CONFIG, WF, device="cpu")
    first, second = split(result, [700, 400], pos)
    p1 = second.predictions["prediction"]
    # asset 1 has training rows from its bar 8 (universe 308) on; the fold predicting universe 364..513 trains on
    # samples up to bar 363, its own bar 63: it predicts asset 1 from its bar 64 (universe 364), not before
    assert np.isnan(p1[:64]).all() and np.isfinite(p1[64:]).all()
    assert np.isfinite(first.predictions["prediction"][214:]).all()
    assert second.folds[0].predict_start == 64 and second.folds[-1].predict_end == 400
    assert len(first.folds) == len(result.folds) and len(second.folds) == len(result.folds) - 1
    assert abs(np.nanmean(p1) - np.nanmean(y[1])) < 5 * np.nanstd(y[1])  # back in asset 1's own units
