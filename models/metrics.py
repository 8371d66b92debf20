"""ML metrics for the seed systems' reports (inputs may be numpy, torch or lists).

Classification: ``accuracy``, ``per_class_accuracy``, ``confusion_matrix``, ``roc_auc``,
``roc_curve``, ``log_loss``. Regression: ``mae``, ``mse``, ``rmse``, and for price
predictions ``direction_accuracy`` and ``change_correlation``, both measured on the
predicted change relative to the current close (not on price levels, which makes any
lagging predictor look 99% "accurate").

The numbers come from ``sklearn.metrics``; this module only converts the inputs, checks
lengths, skips NaN pairs and returns NaN (rather than raising) where a metric is undefined.

Per-bar alignment for price metrics: at bar t, ``pred[t]`` is the prediction of bar
t+1's close made at bar t's close, ``close[t]`` is bar t's close and ``next_close[t]`` is
bar t+1's close. Regression and probability metrics skip pairs with a NaN (warm-up bars).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning


def _np(x: Any, dtype: Any = None) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype).ravel()


def _finite(*arrays: np.ndarray) -> np.ndarray:
    mask = np.ones(len(arrays[0]), dtype=bool)
    for a in arrays:
        if len(a) != len(mask):
            raise ValueError(f"inputs differ in length: {len(mask)} and {len(a)}")
        mask &= np.isfinite(a)
    return mask


def _labels(t: np.ndarray, p: np.ndarray, labels: Any) -> np.ndarray:
    return np.unique(np.concatenate([t, p])) if labels is None else np.asarray(labels)


def _codes(values: np.ndarray, labels: np.ndarray, missing: int = -1) -> np.ndarray:
    """Position of each value in ``labels`` (``missing`` for values not in it, NaN included)."""
    # Own code: sklearn's target checks refuse float classes (0.5) and NaN, which the report passes.
    k = len(labels)
    if k == 0:
        return np.full(len(values), missing, dtype=np.int64)
    order = np.argsort(labels, kind="mergesort")
    sorted_labels = labels[order]
    i = np.clip(np.searchsorted(sorted_labels, values), 0, k - 1)
    return np.where(sorted_labels[i] == values, order[i], missing).astype(np.int64)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples whose predicted label equals the true label (NaN if empty)."""
    t, p = _np(y_true), _np(y_pred)
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred differ in length: {len(t)} and {len(p)}")
    if not len(t):
        return float("nan")
    labels = _labels(t, p, None)
    # a NaN label matches nothing (NaN != NaN): distinct missing codes for the two sides
    return float(skm.accuracy_score(_codes(t, labels, -1), _codes(p, labels, -2)))


def per_class_accuracy(y_true: Any, y_pred: Any, labels: Any = None, by: str = "true") -> dict[Any, float]:
    """Accuracy within each class: {label: fraction correct}.

    by="true" (default): among samples whose true class is c, the fraction predicted c
    (recall; the 50ETF system's "buy accuracy" / "sell accuracy"). by="pred": among
    samples predicted c, the fraction truly c (precision). NaN for a class with no
    samples. labels: the classes to report (default: all seen, sorted).
    """
    if by not in ("true", "pred"):
        raise ValueError(f"by must be 'true' or 'pred', got {by!r}")
    t, p = _np(y_true), _np(y_pred)
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred differ in length: {len(t)} and {len(p)}")
    classes = _labels(t, p, labels)
    keys = [c.item() if hasattr(c, "item") else c for c in classes]
    if not len(t) or not len(classes):
        return dict.fromkeys(keys, float("nan"))
    score = skm.recall_score if by == "true" else skm.precision_score
    values = score(_codes(t, classes), _codes(p, classes), labels=np.arange(len(classes)), average=None,
                   zero_division=np.nan)
    return {c: float(v) for c, v in zip(keys, values, strict=True)}


def confusion_matrix(y_true: Any, y_pred: Any, labels: Any = None) -> np.ndarray:
    """Counts (classes, classes): row = true class, column = predicted class, in ``labels`` order
    (default: all seen, sorted). Samples with a label outside ``labels`` are not counted."""
    t, p = _np(y_true), _np(y_pred)
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred differ in length: {len(t)} and {len(p)}")
    labels = _labels(t, p, labels)
    k = len(labels)
    ti, pi = _codes(t, labels), _codes(p, labels)
    ok = (ti >= 0) & (pi >= 0)
    if not ok.any():  # sklearn refuses empty input
        return np.zeros((k, k), dtype=np.int64)
    return skm.confusion_matrix(ti[ok], pi[ok], labels=np.arange(k)).astype(np.int64)


def _scored(y_true: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    t, s = _np(y_true, np.float64), _np(score, np.float64)
    keep = _finite(t, s)
    return t[keep] > 0.5, s[keep]


def roc_auc(y_true: Any, score: Any) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a
    random negative, ties counting one half. y_true: 1/True positive, 0/False negative.
    NaN scores are skipped; NaN if a class is absent."""
    t, s = _scored(y_true, score)
    if t.all() or not t.any():
        return float("nan")
    return float(skm.roc_auc_score(t, s))


def roc_curve(y_true: Any, score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds), thresholds descending from +inf,
    one point per distinct score: point k counts samples with score >= thresholds[k] as
    positive. A rate whose class is absent is 0. NaN scores are skipped."""
    t, s = _scored(y_true, score)
    if not len(t):
        return np.zeros(1), np.zeros(1), np.array([np.inf])
    with warnings.catch_warnings():  # one class absent: sklearn warns and returns NaN rates
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, thresholds = skm.roc_curve(t, s, drop_intermediate=False)
    return np.nan_to_num(fpr, nan=0.0), np.nan_to_num(tpr, nan=0.0), thresholds


def log_loss(y_true: Any, prob: Any, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood (natural log), probabilities clipped to [eps, 1 - eps].

    Binary: prob (n,) = P(class 1), y_true in {0, 1}. Multi-class: prob (n, classes)
    rows of class scores, clipped and then divided by their sum (so rows need not sum
    to 1 exactly), y_true class indices 0 .. classes - 1. Rows with a NaN are skipped;
    NaN if none is left.
    """
    if hasattr(prob, "detach"):
        prob = prob.detach().cpu().numpy()
    p = np.asarray(prob, dtype=np.float64)
    t = _np(y_true, np.float64)
    if p.ndim == 2:
        if len(t) != len(p):
            raise ValueError(f"inputs differ in length: {len(t)} and {len(p)}")
        keep = np.isfinite(t) & np.isfinite(p).all(axis=1)
        p, t = np.clip(p[keep], eps, 1 - eps), t[keep]
        # sklearn >= 1.5 clips at float64's eps (not ``eps``) and no longer rescales rows itself
        p = p / p.sum(axis=1, keepdims=True)
        labels = np.arange(p.shape[1])
    else:
        p = p.ravel()
        keep = _finite(t, p)
        p, t = np.clip(p[keep], eps, 1 - eps), t[keep]
        labels = np.arange(2)
    return float(skm.log_loss(t, p, labels=labels)) if len(t) else float("nan")


def _pairs(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _np(a, np.float64), _np(b, np.float64)
    keep = _finite(x, y)
    return x[keep], y[keep]


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error over finite pairs (NaN if none)."""
    t, p = _pairs(y_true, y_pred)
    return float(skm.mean_absolute_error(t, p)) if len(t) else float("nan")


def mse(y_true: Any, y_pred: Any) -> float:
    """Mean squared error over finite pairs (NaN if none)."""
    t, p = _pairs(y_true, y_pred)
    return float(skm.mean_squared_error(t, p)) if len(t) else float("nan")


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error over finite pairs (NaN if none)."""
    t, p = _pairs(y_true, y_pred)
    return float(skm.root_mean_squared_error(t, p)) if len(t) else float("nan")


def _changes(pred: Any, close: Any, next_close: Any) -> tuple[np.ndarray, np.ndarray]:
    p, c, n = _np(pred, np.float64), _np(close, np.float64), _np(next_close, np.float64)
    keep = _finite(p, c, n)
    return p[keep] - c[keep], n[keep] - c[keep]


def direction_accuracy(pred: Any, close: Any, next_close: Any) -> float:
    """Fraction of bars where sign(pred - close) == sign(next_close - close).

    Bars where the close did not change (no direction) are left out; a predicted change
    of exactly 0 counts as wrong. See the module docstring for the alignment."""
    # Own code: a domain metric (sign of the change vs the close, flat bars left out); no sklearn twin.
    predicted, actual = _changes(pred, close, next_close)
    moved = actual != 0
    return float(np.mean(np.sign(predicted[moved]) == np.sign(actual[moved]))) if moved.any() else float("nan")


def change_correlation(pred: Any, close: Any, next_close: Any) -> float:
    """Pearson correlation of the predicted change (pred - close) and the actual change
    (next_close - close); NaN when either is constant."""
    # Own code: a domain metric (Pearson r of the changes, not of levels); sklearn has no correlation metric.
    predicted, actual = _changes(pred, close, next_close)
    if len(actual) < 2 or predicted.std() == 0 or actual.std() == 0:
        return float("nan")
    return float(np.corrcoef(predicted, actual)[0, 1])
