"""Walk-forward: schedule, embargo, no lookahead, target scaling, and the prediction cache."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from mlbt.models import ModelConfig, TrainConfig
from mlbt.models.cache import PredictionCache, cache_key, cached
from mlbt.models.walkforward import WalkForward, model_from_state, walk_forward

torch.set_num_threads(1)
TINY = TrainConfig(loss="mse", epochs=2, batch_size=64, patience=None, lr_patience=None, seed=3)


def series(n: int = 700, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    X[:7] = np.nan  # indicator warm-up
    y = np.r_[X[1:, 0] * 0.5 + 100.0, np.nan]  # label at t uses bar t + 1 (horizon 1)
    return X, y


CONFIG = ModelConfig("price", profile="fast", options={"hidden": 8}, train=TINY)
WF = WalkForward(lookback=8, horizon=1, min_train=200, retrain_every=150, target_scalers=("standard",))


def test_schedule_embargo_and_alignment():
    X, y = series()
    wf = WalkForward(lookback=8, horizon=3, embargo=5, min_train=200, retrain_every=150, target_scalers=("standard",))
    y3 = np.r_[X[3:, 0], [np.nan] * 3]
    result = walk_forward(X, y3, CONFIG, wf, device="cpu")
    first = result.folds[0]
    # usable samples start at bar 14 (window of 8 from bar 7); 200 of them end at bar 213; embargo 5
    assert (first.train_start, first.train_end, first.predict_start) == (14, 213, 218)
    for fold in result.folds:
        assert fold.train_end + wf.gap <= fold.predict_start  # the embargo
        assert fold.train_end + wf.horizon < fold.predict_start + 1  # every training label known at predict_start
        assert fold.predict_end - fold.predict_start <= wf.retrain_every
    pred = result.predictions["prediction"]
    assert np.isnan(pred[:218]).all() and np.isfinite(pred[218:]).all()
    assert (result.fold_of_bar[:218] == -1).all() and result.fold_of_bar[-1] == len(result.folds) - 1
    frame = result.frame(np.arange(len(X)))
    assert list(frame.columns) == ["prediction", "fold"]
    with pytest.raises(ValueError, match="embargo 1 is shorter than the label horizon 3"):
        WalkForward(lookback=8, horizon=3, embargo=1)


def test_predictions_at_or_before_t_ignore_everything_after_t():
    X, y = series()
    base = walk_forward(X, y, CONFIG, WF, device="cpu").predictions["prediction"]
    for t in (400, 520):
        X2, y2 = X.copy(), y.copy()
        X2[t + 1:] = np.random.default_rng(t).normal(size=X2[t + 1:].shape) * 10  # a different future
        y2[t:] = np.r_[X2[t + 1:, 0] * 0.5 + 100.0, np.nan]  # labels of bars >= t use bars > t
        other = walk_forward(X2, y2, CONFIG, WF, device="cpu").predictions["prediction"]
        np.testing.assert_array_equal(other[: t + 1], base[: t + 1])
        assert not np.array_equal(other[t + 1:], base[t + 1:], equal_nan=True)


def test_target_scaling_is_inverted_and_rolling_windows_are_bounded():
    X, y = series()
    wf = WalkForward(lookback=8, min_train=200, retrain_every=150, train_window=250, target_scalers=("standard",))
    result = walk_forward(X, y, CONFIG, wf, device="cpu")
    pred = result.predictions["prediction"]
    assert abs(np.nanmean(pred) - 100.0) < 2.0  # original units, not scaled ones
    assert all(f.train_end - f.train_start + 1 <= 250 for f in result.folds)
    assert result.folds[-1].train_start > result.folds[0].train_start


def test_multi_head_targets():
    X, _ = series(500)
    rng = np.random.default_rng(1)
    cls = rng.integers(0, 3, len(X)).astype(np.float64)
    sl, tp = rng.uniform(0.01, 0.03, len(X)), rng.uniform(0.02, 0.05, len(X))
    cls[-5:] = sl[-5:] = tp[-5:] = np.nan
    config = ModelConfig("sltp", profile="fast", options={"hidden": 8},
                         train=TrainConfig(loss="sltp", epochs=1, patience=None, lr_patience=None))
    wf = WalkForward(lookback=8, horizon=5, min_train=150, retrain_every=200, target_scalers=(None, "minmax", "minmax"))
    result = walk_forward(X, (cls, sl, tp), config, wf, device="cpu")
    assert set(result.predictions) == {"logits", "sl", "tp"}
    assert result.predictions["logits"].shape == (len(X), 3)
    frame = result.frame(np.arange(len(X)))
    assert {"logits_0", "logits_2", "sl", "tp", "fold"} <= set(frame.columns)
    assert np.nanmax(np.abs(result.predictions["sl"])) < 1.0  # inverted from scaled units to fractions


def warnings_logged(caplog) -> list[str]:
    """The warnings logged since the last call (and forget them)."""
    out = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    caplog.clear()
    return out


def test_cache_hit_miss_corrupt_and_model_state(tmp_path, caplog):
    X, y = series(500)
    cache = PredictionCache(tmp_path)
    parts = {"data": "abc", "features": "price", "model": CONFIG.to_dict(), "wf": WF.to_dict()}
    calls = []

    def compute():
        calls.append(1)
        return walk_forward(X, y, CONFIG, WF, device="cpu")

    first, hit = cached(cache, parts, compute, n_bars=len(X))
    assert not hit and len(calls) == 1
    again, hit = cached(cache, parts, compute, n_bars=len(X))
    assert hit and len(calls) == 1
    np.testing.assert_array_equal(again.predictions["prediction"], first.predictions["prediction"])
    assert [f.to_dict() for f in again.folds] == [f.to_dict() for f in first.folds]
    assert [p.name for p in (tmp_path / "walkforward").iterdir()] == [cache_key(parts)]  # no temporary left

    state = cache.load_model_state(cache_key(parts))  # weights_only=True
    model = model_from_state(state)
    Xs = (X - state["scaler"]["center"].numpy()) / state["scaler"]["scale"].numpy()
    with torch.no_grad():
        raw = model(torch.from_numpy(Xs[-8:].astype(np.float32))[None]).double().numpy()
    scale = state["target_scalers"][0]
    last = raw * scale["scale"].numpy() + scale["center"].numpy()
    assert last.ravel()[0] == pytest.approx(first.predictions["prediction"][-1], rel=1e-5)

    # a different key part is a miss
    _, hit = cached(cache, {**parts, "data": "other"}, compute, n_bars=len(X))
    assert not hit and len(calls) == 2

    # a corrupt file: one warning, rebuilt, never a crash
    npz = cache.path(cache_key(parts)) / "predictions.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    warnings_logged(caplog)
    rebuilt, hit = cached(cache, parts, compute, n_bars=len(X))
    err = warnings_logged(caplog)
    assert not hit and len(calls) == 3 and len(err) == 1 and "is corrupt or incompatible" in err[0]
    np.testing.assert_array_equal(rebuilt.predictions["prediction"], first.predictions["prediction"])

    # an entry for a different number of bars is incompatible
    assert cache.load(cache_key(parts), n_bars=len(X) + 1) is None
    assert any("500 bars stored, 501 expected" in w for w in warnings_logged(caplog))
    (cache.path(cache_key(parts)) / "model.pt").parent.mkdir(parents=True, exist_ok=True)
    (cache.path(cache_key(parts)) / "model.pt").write_bytes(b"not a checkpoint")
    assert cache.load_model_state(cache_key(parts)) is None
    assert any("unreadable" in w for w in warnings_logged(caplog))


def test_prediction_cache_key_follows_the_feature_and_label_values(tmp_path, monkeypatch):
    """The key hashes what the network sees and learns: feature values changed by an
    indicator edit (or another TA backend) and labels changed by a helper the plugin's
    ``labels`` calls both miss the cache, though no hashed source changed."""
    from mlbt import data
    from mlbt.strategy import pipeline
    from mlbt.strategy.pipeline import prepare
    from mlbt.strategy.plugins import load_strategy

    bars = data.load("spx_vix_1d", warn=False).iloc[:700]
    strategy = load_strategy("strategies/etf50_lstm.py", epochs=1, min_train=300, retrain_every=300)
    run = lambda s: prepare(s, bars, device="cpu", profile="fast", cache_dir=str(tmp_path))  # noqa: E731
    first, again = run(strategy), run(strategy)
    assert first.cache_hit is False and again.cache_hit is True and again.cache_key == first.cache_key

    real = data.features

    def edited(frame, name, **kw):  # an indicator whose code changed: values move, names do not
        out = real(frame, name, **kw)
        column = out.columns[-1]
        out[column] = out[column] * 1.001
        return out

    monkeypatch.setattr(pipeline, "features", edited)
    moved = run(strategy)
    assert moved.cache_hit is False and moved.cache_key != first.cache_key
    monkeypatch.setattr(data, "features", real)

    own = strategy.labels
    strategy.labels = lambda ctx: -np.asarray(own(ctx))  # same source of type(strategy).labels
    flipped = run(strategy)
    assert flipped.cache_hit is False and flipped.cache_key not in (first.cache_key, moved.cache_key)
