"""Frozen oracle: the hand-written implementation bt shipped before switching to scikit-learn,
kept unchanged as an oracle for the before/after agreement tests. Do not edit.

Original module docstring:

ML metrics for the seed systems' reports (numpy only; inputs may be numpy, torch or lists).

Classification: ``accuracy``, ``per_class_accuracy``, ``confusion_matrix``, ``roc_auc``,
``roc_curve``, ``log_loss``. Regression: ``mae``, ``mse``, ``rmse``, and for price
predictions ``direction_accuracy`` and ``change_correlation``, both measured on the
predicted change relative to the current close (not on price levels, which makes any
lagging predictor look 99% "accurate").

Per-bar alignment for price metrics: at bar t, ``pred[t]`` is the prediction of bar
t+1's close made at bar t's close, ``close[t]`` is bar t's close and ``next_close[t]`` is
bar t+1's close. Regression and probability metrics skip pairs with a NaN (warm-up bars).
"""

from __future__ import annotations

from typing import Any

import numpy as np


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


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples whose predicted label equals the true label (NaN if empty)."""
    t, p = _np(y_true), _np(y_pred)
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred differ in length: {len(t)} and {len(p)}")
    return float(np.mean(t == p)) if len(t) else float("nan")


def _labels(t: np.ndarray, p: np.ndarray, labels: Any) -> np.ndarray:
    return np.unique(np.concatenate([t, p])) if labels is None else np.asarray(labels)


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
    ref = t if by == "true" else p
    out = {}
    for c in _labels(t, p, labels):
        sel = ref == c
        out[c.item() if hasattr(c, "item") else c] = float(np.mean(t[sel] == p[sel])) if sel.any() else float("nan")
    return out


def confusion_matrix(y_true: Any, y_pred: Any, labels: Any = None) -> np.ndarray:
    """Counts (classes, classes): row = true class, column = predicted class, in ``labels`` order
    (default: all seen, sorted). Samples with a label outside ``labels`` are not counted."""
    t, p = _np(y_true), _np(y_pred)
    labels = _labels(t, p, labels)
    k = len(labels)
    order = np.argsort(labels, kind="mergesort")
    sorted_labels = labels[order]

    def position(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        i = np.clip(np.searchsorted(sorted_labels, v), 0, max(k - 1, 0))
        return order[i], sorted_labels[i] == v if k else np.zeros(len(v), dtype=bool)

    (ti, t_ok), (pi, p_ok) = position(t), position(p)
    ok = t_ok & p_ok
    return np.bincount(ti[ok] * k + pi[ok], minlength=k * k).reshape(k, k).astype(np.int64)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of their ranks."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def roc_auc(y_true: Any, score: Any) -> float:
    """Area under the ROC curve from ranks (Mann-Whitney U): the probability that a random
    positive scores above a random negative, ties counting one half. y_true: 1/True
    positive, 0/False negative. NaN scores are skipped; NaN if a class is absent."""
    t, s = _np(y_true, np.float64), _np(score, np.float64)
    keep = _finite(t, s)
    t, s = t[keep] > 0.5, s[keep]
    n_pos, n_neg = int(t.sum()), int((~t).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(s)
    return float((ranks[t].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(y_true: Any, score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds), thresholds descending from +inf:
    point k counts samples with score >= thresholds[k] as positive."""
    t, s = _np(y_true, np.float64), _np(score, np.float64)
    keep = _finite(t, s)
    t, s = t[keep] > 0.5, s[keep]
    order = np.argsort(-s, kind="mergesort")
    s, t = s[order], t[order]
    last_of_value = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1] if len(s) else np.array([], dtype=int)
    tp = np.cumsum(t)[last_of_value]
    fp = np.cumsum(~t)[last_of_value]
    n_pos, n_neg = max(int(t.sum()), 1), max(int((~t).sum()), 1)
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos], np.r_[np.inf, s[last_of_value]]


def log_loss(y_true: Any, prob: Any, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood (natural log), probabilities clipped to [eps, 1 - eps].

    Binary: prob (n,) = P(class 1), y_true in {0, 1}. Multi-class: prob (n, classes)
    rows of class scores, clipped and then divided by their sum (as scikit-learn
    does, so rows need not sum to 1 exactly), y_true class indices. Rows with a NaN
    are skipped.
    """
    if hasattr(prob, "detach"):
        prob = prob.detach().cpu().numpy()
    p = np.asarray(prob, dtype=np.float64)
    t = _np(y_true, np.float64)
    if p.ndim == 2:
        keep = np.isfinite(t) & np.isfinite(p).all(axis=1)
        p, t = np.clip(p[keep], eps, 1 - eps), t[keep].astype(np.int64)
        p = p / p.sum(axis=1, keepdims=True)
        return float(-np.mean(np.log(p[np.arange(len(t)), t]))) if len(t) else float("nan")
    p = p.ravel()
    keep = _finite(t, p)
    p, t = np.clip(p[keep], eps, 1 - eps), t[keep]
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))) if len(t) else float("nan")


def _pairs(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _np(a, np.float64), _np(b, np.float64)
    keep = _finite(x, y)
    return x[keep], y[keep]


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error over finite pairs."""
    t, p = _pairs(y_true, y_pred)
    return float(np.mean(np.abs(p - t))) if len(t) else float("nan")


def mse(y_true: Any, y_pred: Any) -> float:
    """Mean squared error over finite pairs."""
    t, p = _pairs(y_true, y_pred)
    return float(np.mean((p - t) ** 2)) if len(t) else float("nan")


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error over finite pairs."""
    return float(np.sqrt(mse(y_true, y_pred)))


def _changes(pred: Any, close: Any, next_close: Any) -> tuple[np.ndarray, np.ndarray]:
    p, c, n = _np(pred, np.float64), _np(close, np.float64), _np(next_close, np.float64)
    keep = _finite(p, c, n)
    return p[keep] - c[keep], n[keep] - c[keep]


def direction_accuracy(pred: Any, close: Any, next_close: Any) -> float:
    """Fraction of bars where sign(pred - close) == sign(next_close - close).

    Bars where the close did not change (no direction) are left out; a predicted change
    of exactly 0 counts as wrong. See the module docstring for the alignment."""
    predicted, actual = _changes(pred, close, next_close)
    moved = actual != 0
    return float(np.mean(np.sign(predicted[moved]) == np.sign(actual[moved]))) if moved.any() else float("nan")


def change_correlation(pred: Any, close: Any, next_close: Any) -> float:
    """Pearson correlation of the predicted change (pred - close) and the actual change
    (next_close - close); NaN when either is constant."""
    predicted, actual = _changes(pred, close, next_close)
    if len(actual) < 2 or predicted.std() == 0 or actual.std() == 0:
        return float("nan")
    return float(np.corrcoef(predicted, actual)[0, 1])
