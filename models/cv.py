"""Purged, embargoed k-fold cross-validation, for choosing model params (López de
Prado, *Advances in Financial Machine Learning*, 2018, ch. 7).

Walk-forward (``mlbt.models.walkforward``) is how bt trades: every prediction comes
from a model trained on the past only. For *model selection* k-fold uses every sample
as a test sample once, at the price of training on data from both sides of the test
fold; purging and an embargo keep the labels it learns from out of the test fold.

Alignment (as in the walk-forward). A sample t is the window of bars
t-lookback+1 .. t and the label y[t], which looks ``horizon`` bars ahead: its label
interval is the bars [t, t + horizon] (closed: a label is counted as overlapping
another when they share a bar's close). Samples are bar numbers; only *usable* ones
(finite window and label) take part.

Splits. The usable samples are cut into K contiguous test folds in time order
(scikit-learn's ``KFold`` without shuffling: the first ``n % K`` folds one sample
larger). For the test fold with first and last samples a .. b (its labels span the
bars [a, b + horizon]), the training set is every other usable sample minus

* the *purged*: those whose label interval overlaps the test labels' span, i.e.
  a - horizon <= t <= b + horizon (t outside a .. b). Before the fold these are the
  samples whose label reaches a; after it, those whose label starts inside the test
  labels' span. Purging removes exactly the label overlap; overlapping input windows
  are fine (features at bar t use bars <= t only, which leaks no label);
* the *embargo*: the samples of the ``embargo`` bars after that, b + horizon < t <=
  b + horizon + embargo, for serial correlation beyond the label horizon (a train sample
  right after the fold whose features still echo the test period).

Only what follows a test fold is embargoed: a training sample before the fold has a
label that ends before the test labels begin once purged, while features right after
the fold are computed from test-period bars. The purging and embargo are written here:
scikit-learn's splitters have neither (its ``TimeSeriesSplit(gap=...)`` is a walk-forward).

Default embargo (``default_embargo``): 1% of the usable samples rounded up (the book's
suggestion, h ~ 0.01 T), and at least the walk-forward's own embargo beyond its horizon
(``WalkForward.gap - horizon``), so a plugin that asks its walk-forward for a longer
embargo gets it here too.

Per fold, ``cross_validate`` fits the feature scaler and the target scalers on that
fold's training samples only (the rows at their bars), trains with ``fit`` (which holds
out the last part of the training samples, by time, for early stopping, purging
``horizon`` samples before it), predicts the test fold and scores it. Walk-forward
settings a k-fold has no use for (``min_train``, ``retrain_every``, ``train_window``,
``warm_start``) are ignored.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import KFold

from mlbt.models.config import ModelConfig
from mlbt.models.inference import predict
from mlbt.models.metrics import accuracy, direction_accuracy, mae, mse, roc_auc
from mlbt.models.scalers import make_scaler
from mlbt.models.training import fit
from mlbt.models.walkforward import (
    WalkForward,
    checked_labels,
    fit_targets,
    label_components,
    outputs_of,
    store_outputs,
    usable_samples,
)
from mlbt.models.windows import sliding_windows

log = logging.getLogger(__name__)

#: A fold's scorer: (predictions by output name, per bar, NaN outside the test fold;
#: the test fold's sample bars) -> metric name -> value.
Scorer = Callable[[dict[str, np.ndarray], np.ndarray], dict[str, float]]

#: Metric names (or endings) where lower is better; every other metric: higher is better.
LOWER_IS_BETTER = ("mse", "mae", "rmse", "log_loss", "loss")


def lower_is_better(metric: str) -> bool:
    """Whether a smaller ``metric`` is a better model (errors and losses)."""
    return any(metric == name or metric.endswith("_" + name) for name in LOWER_IS_BETTER)


@dataclass(frozen=True)
class Split:
    """One fold's sample indices (bar numbers, sorted): ``test``, ``train`` and what
    was left out of training, ``purged`` and ``embargoed``."""

    fold: int
    test: np.ndarray
    train: np.ndarray
    purged: np.ndarray
    embargoed: np.ndarray


@dataclass(frozen=True)
class PurgedKFold:
    """K contiguous test folds over the usable samples, each trained on the others
    minus the purged and embargoed samples; see the module docstring.

    folds: K >= 2. horizon: bars a label looks ahead (>= 1, the walk-forward's).
    embargo: bars after the purged samples that follow a test fold whose samples are
    left out of training too (>= 0).
    """

    folds: int = 5
    horizon: int = 1
    embargo: int = 0

    def __post_init__(self) -> None:
        for name in ("folds", "horizon", "embargo"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"PurgedKFold {name} = {value!r}: expected an int")
        if self.folds < 2:
            raise ValueError(f"--folds {self.folds}: purged k-fold needs at least 2 folds")
        if self.horizon < 1 or self.embargo < 0:
            raise ValueError(f"horizon {self.horizon} must be >= 1 and embargo {self.embargo} >= 0 (bars)")

    def split(self, samples: int | np.ndarray) -> list[Split]:
        """The folds over ``samples``: a number of bars (every one usable) or a boolean
        mask per bar of the usable samples. ValueError when there are fewer usable
        samples than folds, or a fold would train on nothing."""
        usable = np.ones(samples, dtype=bool) if isinstance(samples, int | np.integer) else np.asarray(samples, bool)
        bars = np.flatnonzero(usable)
        if len(bars) < self.folds:
            raise ValueError(f"{len(bars)} usable samples cannot make {self.folds} folds")
        out = []
        for k, (_, test_pos) in enumerate(KFold(n_splits=self.folds, shuffle=False).split(bars)):
            test = bars[test_pos]
            a, b = int(test[0]), int(test[-1])
            others = bars[(bars < a) | (bars > b)]
            purged = others[(others >= a - self.horizon) & (others <= b + self.horizon)]
            embargoed = others[(others > b + self.horizon) & (others <= b + self.horizon + self.embargo)]
            train = others[(others < a - self.horizon) | (others > b + self.horizon + self.embargo)]
            if not len(train):
                raise ValueError(f"fold {k + 1} of {self.folds} (test bars {a}..{b}) leaves no training sample after "
                                 f"purging {len(purged)} and embargoing {len(embargoed)}; use fewer folds or a "
                                 "shorter embargo")
            out.append(Split(k, test, train, purged, embargoed))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"method": "purged-kfold", "folds": int(self.folds), "horizon": int(self.horizon),
                "embargo": int(self.embargo)}


def default_embargo(n_usable: int, wf: WalkForward) -> int:
    """The embargo (bars) a purged k-fold uses unless told: ceil(1% of the usable
    samples), and at least the walk-forward's embargo beyond its horizon."""
    return max(math.ceil(0.01 * n_usable), wf.gap - wf.horizon)


@dataclass
class CVFold:
    """One fold's record. The test fold is the ``n_test`` usable samples of bars
    test_start .. test_end (inclusive). n_train: the fold's training samples (after
    purging ``n_purged`` and embargoing ``n_embargoed``), of which ``fit`` held out the
    last ``n_val`` for early stopping (and ``val_gap`` before them). epochs, best_epoch
    (1-based), best_loss: the training's; seconds: the fold's wall time. ``metrics``:
    its out-of-sample scores."""

    fold: int
    test_start: int
    test_end: int
    n_test: int
    n_train: int
    n_val: int
    n_purged: int
    n_embargoed: int
    epochs: int
    best_epoch: int
    best_loss: float
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__) | {"metrics": dict(self.metrics)}


@dataclass
class CVResult:
    """Out-of-sample predictions of every fold aligned to the bars (row t: the
    prediction for sample t by the model that did not train on it; NaN for bars in no
    test fold), the test fold of each bar (-1 where none), the per-fold records and
    the splitter's settings (``PurgedKFold.to_dict``)."""

    predictions: dict[str, np.ndarray]
    fold_of_bar: np.ndarray
    folds: list[CVFold] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def fold_predictions(self, k: int) -> dict[str, np.ndarray]:
        """The predictions with every bar outside test fold ``k`` set to NaN."""
        outside = self.fold_of_bar != k
        out = {}
        for name, values in self.predictions.items():
            masked = values.copy()
            masked[outside] = np.nan
            out[name] = masked
        return out

    def scored(self, score: Scorer) -> CVResult:
        """This result with every fold's metrics (re)computed by ``score``."""
        for f in self.folds:
            bars = np.flatnonzero(self.fold_of_bar == f.fold)
            f.metrics = {k: float(v) for k, v in score(self.fold_predictions(f.fold), bars).items()}
        return self

    def metric_names(self) -> list[str]:
        """Every metric of any fold, in first-seen order."""
        return list(dict.fromkeys(name for f in self.folds for name in f.metrics))

    def values(self, metric: str) -> np.ndarray:
        """``metric`` of each fold (NaN where a fold has none)."""
        return np.array([f.metrics.get(metric, math.nan) for f in self.folds], dtype=np.float64)

    def mean(self) -> dict[str, float]:
        """Per metric, the mean over the folds where it is finite (NaN if none is)."""
        out = {}
        for m in self.metric_names():
            v = self.values(m)
            v = v[np.isfinite(v)]
            out[m] = float(v.mean()) if len(v) else math.nan
        return out

    def std(self) -> dict[str, float]:
        """Per metric, the sample standard deviation (ddof 1) over the folds where it is
        finite (NaN with fewer than two)."""
        out = {}
        for m in self.metric_names():
            v = self.values(m)
            v = v[np.isfinite(v)]
            out[m] = float(v.std(ddof=1)) if len(v) >= 2 else math.nan
        return out


def label_scorer(y: Any, target_scalers: tuple[str | None, ...]) -> Scorer:
    """A scorer of the first output against the first label part, for callers without
    metrics of their own. A regression target (a scaler kind given): ``mse``, ``mae``
    and ``sign_accuracy`` (the sign of the prediction against the label's, as
    ``direction_accuracy`` of changes from 0; labels of 0 left out). A class target:
    ``accuracy`` of the arg-max of a (bars, classes) output, or of a one-column score
    thresholded at 0.5 for {0, 1} labels (also ``roc_auc``) and at 0 for {-1, 1} labels."""
    label = label_components(y)[0]
    regression = target_scalers[0] is not None

    def score(predictions: dict[str, np.ndarray], bars: np.ndarray) -> dict[str, float]:
        pred = next(iter(predictions.values()))[bars]
        t = label[bars].reshape(len(bars), -1)[:, 0]
        if regression:
            p = pred.reshape(len(bars), -1)[:, 0]
            return {"mse": mse(t, p), "mae": mae(t, p), "sign_accuracy": direction_accuracy(p, np.zeros_like(p), t)}
        if pred.ndim == 2 and pred.shape[1] > 1:
            return {"accuracy": accuracy(t, np.argmax(pred, axis=1).astype(np.float64))}
        p = pred.reshape(-1)
        if set(np.unique(t[np.isfinite(t)])) <= {-1.0, 1.0}:
            return {"accuracy": accuracy(t, np.where(p >= 0, 1.0, -1.0)), "roc_auc": roc_auc(t > 0, p)}
        return {"accuracy": accuracy(t, (p > 0.5).astype(np.float64)), "roc_auc": roc_auc(t, p)}

    return score


def cross_validate(
    X: np.ndarray | Any,
    y: Any,
    config: ModelConfig,
    wf: WalkForward,
    cv: PurgedKFold,
    *,
    device: str | torch.device | None = "auto",
    score: Scorer | None = None,
) -> CVResult:
    """Train and test each fold of ``cv``; see the module docstring.

    X: (bars, features) causal features (NaN in warm-up); y: labels aligned to the bars
    (y[t] uses bars up to t + horizon), an array or a tuple of arrays, as for
    ``walk_forward``; wf: the lookback, the scalers and the label horizon (``cv``'s
    horizon must be the same). score: each fold's metrics (default ``label_scorer``).
    Returns the out-of-sample predictions in original units and the per-fold records.
    """
    X = np.asarray(X, dtype=np.float32)
    parts = checked_labels(X, y, wf)
    if cv.horizon != wf.horizon:
        raise ValueError(f"the k-fold purges a horizon of {cv.horizon} bars, the labels look {wf.horizon} ahead")
    usable = usable_samples(X, parts, wf.lookback)
    splits = cv.split(usable)
    n = len(X)
    config = config.resolved(device, n_features=X.shape[1])
    train_cfg = replace(config.training(), val_gap=max(config.training().val_gap, wf.horizon))
    result = CVResult(predictions={}, fold_of_bar=np.full(n, -1, dtype=np.int64), settings=cv.to_dict())
    for s in splits:
        started = time.perf_counter()
        scaler = make_scaler(wf.scaler).fit(X[s.train])  # the training samples' own rows: no test-fold bar
        windows = sliding_windows(torch.from_numpy(np.ascontiguousarray(scaler.transform(X))), wf.lookback)
        targets, t_scalers = fit_targets(parts, s.train, wf.target_scalers)
        y_train = targets[0] if len(targets) == 1 else tuple(targets)
        task = f"cv fold {s.fold + 1}/{cv.folds}"
        fitted = fit(config, windows[torch.from_numpy(s.train - wf.lookback + 1)], y_train, train=train_cfg,
                     device=device, task=task)
        outs = outputs_of(predict(fitted.model, windows[torch.from_numpy(s.test - wf.lookback + 1)],
                                  batch_size=wf.batch_size, device=device))
        store_outputs(result.predictions, outs, t_scalers, s.test, n)
        result.fold_of_bar[s.test] = s.fold
        result.folds.append(CVFold(s.fold, int(s.test[0]), int(s.test[-1]), len(s.test), len(s.train),
                                   fitted.n_val, len(s.purged), len(s.embargoed), len(fitted.history),
                                   fitted.best_epoch, float(fitted.best_loss), time.perf_counter() - started))
        log.info(f"{task}: trained on {len(s.train)} samples ({len(s.purged)} purged, {len(s.embargoed)} "
                 f"embargoed), {len(fitted.history)} epochs, best loss {fitted.best_loss:.4g}, tested bars "
                 f"{s.test[0]}..{s.test[-1]} in {time.perf_counter() - started:.1f}s")
    return result.scored(score or label_scorer(y, wf.target_scalers))
