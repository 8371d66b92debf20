"""Purged, embargoed k-fold: the split's indices (by hand), purging exactly the label
overlap, no test sample ever trained on, a planted signal found, and the cache."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from mlbt.models import CVCache, ModelConfig, PurgedKFold, TrainConfig, cached, cross_validate, default_embargo
from mlbt.models.cache import cache_key
from mlbt.models.walkforward import WalkForward

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TRAIN = TrainConfig(loss="mse", lr=0.01, epochs=8, batch_size=32, patience=None, lr_patience=None, seed=1)
CONFIG = ModelConfig("price", profile="fast", options={"hidden": 8}, train=TRAIN)
WF = WalkForward(lookback=4, horizon=1, min_train=100, retrain_every=100, target_scalers=("standard",))


def test_split_indices_by_hand():
    # 20 samples, 4 folds of 5; horizon 2: a sample's label spans [t, t + 2], so the test
    # labels of fold a..b span [a, b + 2] and the purged are a-2 .. b+2; then 1 embargoed
    splits = PurgedKFold(folds=4, horizon=2, embargo=1).split(20)
    got = [(s.test.tolist(), s.train.tolist(), s.purged.tolist(), s.embargoed.tolist()) for s in splits]
    assert got == [
        ([0, 1, 2, 3, 4], list(range(8, 20)), [5, 6], [7]),
        ([5, 6, 7, 8, 9], [0, 1, 2, *range(13, 20)], [3, 4, 10, 11], [12]),
        ([10, 11, 12, 13, 14], [*range(0, 8), 18, 19], [8, 9, 15, 16], [17]),
        ([15, 16, 17, 18, 19], list(range(0, 13)), [13, 14], []),
    ]


def test_split_skips_unusable_samples_and_sizes_folds_like_kfold():
    usable = np.ones(16, dtype=bool)
    usable[:3] = False  # warm-up: no window yet
    usable[-1] = False  # the last label is unknown
    splits = PurgedKFold(folds=3, horizon=1, embargo=0).split(usable)
    # 12 usable samples (bars 3..14): folds of 4 bars each
    assert [s.test.tolist() for s in splits] == [[3, 4, 5, 6], [7, 8, 9, 10], [11, 12, 13, 14]]
    assert splits[0].train.tolist() == list(range(8, 15)) and splits[0].purged.tolist() == [7]
    assert splits[1].purged.tolist() == [6, 11] and splits[1].train.tolist() == [3, 4, 5, 12, 13, 14]
    # 13 usable samples: the first fold is one larger (sklearn's KFold)
    assert [len(s.test) for s in PurgedKFold(3, 1, 0).split(13)] == [5, 4, 4]


@pytest.mark.parametrize(("n", "folds", "horizon", "embargo"), [(50, 5, 1, 0), (97, 4, 3, 2), (200, 7, 5, 11),
                                                                (31, 2, 1, 10)])
def test_purging_removes_exactly_the_overlapping_labels(n, folds, horizon, embargo):
    rng = np.random.default_rng(n)
    usable = rng.random(n) > 0.1
    bars = np.flatnonzero(usable)
    tested = []
    for s in PurgedKFold(folds, horizon, embargo).split(usable):
        a, b = s.test[0], s.test[-1]
        for t in bars[(bars < a) | (bars > b)]:
            overlaps = t + horizon >= a and t <= b + horizon  # [t, t + h] meets the test labels' [a, b + h]
            assert (t in s.purged) == overlaps
            assert (t in s.embargoed) == (b + horizon < t <= b + horizon + embargo)
            assert (t in s.train) == (not overlaps and t not in s.embargoed)
        assert not set(s.test) & set(s.train)  # no test sample is ever trained on
        assert not set(s.test) & (set(s.purged) | set(s.embargoed))
        parts = np.concatenate([s.test, s.train, s.purged, s.embargoed])
        assert sorted(parts) == bars.tolist()  # every usable sample exactly once
        tested.extend(s.test)
    assert tested == bars.tolist()  # each usable sample is tested exactly once, in order


def test_refusals():
    with pytest.raises(ValueError, match="at least 2 folds"):
        PurgedKFold(folds=1)
    with pytest.raises(ValueError, match="embargo -1"):
        PurgedKFold(folds=3, embargo=-1)
    with pytest.raises(ValueError, match="3 usable samples cannot make 4 folds"):
        PurgedKFold(folds=4).split(3)
    with pytest.raises(ValueError, match="leaves no training sample"):
        PurgedKFold(folds=2, horizon=1, embargo=10).split(10)


def test_default_embargo():
    assert default_embargo(1159, WF) == 12  # 1% of the samples, rounded up
    assert default_embargo(50, WalkForward(lookback=4, horizon=2, embargo=9)) == 7  # the walk-forward's extra 7


def planted(n=500, seed=0, signal=True):
    """Features X (NaN warm-up) and a label that is a function of the window's last row
    (planted) or pure noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    X[:5] = np.nan
    y = X[:, 0] + 0.2 * X[:, 1] + 0.1 * rng.normal(size=n) if signal else rng.normal(size=n)
    y[-1] = np.nan  # the last bar's label is not known yet
    return X, y


def test_cross_validate_records_predictions_only_for_test_samples():
    X, y = planted(300)
    cv = PurgedKFold(3, 1, 2)
    result = cross_validate(X, y, CONFIG, WF, cv, device="cpu")
    splits = cv.split(~np.isnan(y) & (np.arange(len(y)) >= 8))  # usable: a finite window of 4 from bar 5 on
    pred = result.predictions["prediction"]
    assert np.isnan(pred[:8]).all() and np.isnan(pred[-1]) and np.isfinite(pred[8:-1]).all()
    for f, s in zip(result.folds, splits, strict=True):
        assert (f.test_start, f.test_end, f.n_test) == (s.test[0], s.test[-1], len(s.test))
        assert (f.n_train, f.n_purged, f.n_embargoed) == (len(s.train), len(s.purged), len(s.embargoed))
        assert (result.fold_of_bar[s.test] == f.fold).all()
        assert set(f.metrics) == {"mse", "mae", "sign_accuracy"}
    assert result.settings == {"method": "purged-kfold", "folds": 3, "horizon": 1, "embargo": 2}
    mean, std = result.mean(), result.std()
    values = result.values("mse")
    assert mean["mse"] == pytest.approx(values.mean()) and std["mse"] == pytest.approx(values.std(ddof=1))


def test_a_fold_never_learns_its_test_or_purged_labels():
    X, y = planted(300)
    cv = PurgedKFold(3, 1, 2)
    base = cross_validate(X, y, CONFIG, WF, cv, device="cpu")
    s = cv.split(np.isfinite(y) & (np.arange(len(y)) >= 8))[1]
    y2 = y.copy()
    y2[s.test[0] - 1: s.test[-1] + 1 + 2 + 1] += 5.0  # the test labels, the purged and the embargoed
    other = cross_validate(X, y2, CONFIG, WF, cv, device="cpu")
    fold = base.fold_of_bar == 1
    np.testing.assert_array_equal(other.predictions["prediction"][fold], base.predictions["prediction"][fold])
    assert not np.array_equal(other.predictions["prediction"][~fold], base.predictions["prediction"][~fold],
                              equal_nan=True)  # the other folds trained on those labels


def test_a_planted_signal_scores_clearly_better_than_noise():
    cv = PurgedKFold(3, 1, 3)
    signal = cross_validate(*planted(400, signal=True), CONFIG, WF, cv, device="cpu")
    noise = cross_validate(*planted(400, signal=False), CONFIG, WF, cv, device="cpu")
    assert signal.mean()["sign_accuracy"] > 0.8
    assert abs(noise.mean()["sign_accuracy"] - 0.5) < 0.1
    assert signal.values("sign_accuracy").min() > noise.values("sign_accuracy").max()


def test_cache_hit_and_corrupt_entry(tmp_path, caplog):
    X, y = planted(200)
    cv = PurgedKFold(2, 1, 1)
    parts = {"data": "planted-200", "cv": cv.to_dict()}
    cache = CVCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return cross_validate(X, y, CONFIG, WF, cv, device="cpu")

    first, hit1 = cached(cache, parts, compute, n_bars=len(X))
    second, hit2 = cached(cache, parts, compute, n_bars=len(X))
    assert (hit1, hit2, len(calls)) == (False, True, 1)
    np.testing.assert_array_equal(second.predictions["prediction"], first.predictions["prediction"])
    np.testing.assert_array_equal(second.fold_of_bar, first.fold_of_bar)
    assert [f.to_dict() for f in second.folds] == [f.to_dict() for f in first.folds]
    assert second.settings == first.settings and second.mean() == first.mean()
    where = cache.path(cache_key(parts))
    assert where.parent.name == "cv" and not [p for p in where.parent.iterdir() if p.name.startswith(".")]
    assert json.loads((where / "meta.json").read_text())["settings"] == cv.to_dict()
    assert cached(cache, parts, compute, n_bars=len(X) + 1)[1] is False  # other bars: rebuilt
    (where / "predictions.npz").write_bytes(b"not a zip")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mlbt"):
        third, hit3 = cached(cache, parts, compute, n_bars=len(X))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert hit3 is False and len(calls) == 3 and len(warnings) == 1 and "corrupt" in warnings[0].getMessage()
    assert cached(cache, parts, compute, n_bars=len(X))[1] is True  # rebuilt and stored again
