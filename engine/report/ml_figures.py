"""The tearsheet's ML panel, on the bars where the walk-forward model made a
prediction (out of sample by construction) and the label is known.

Direction: the sign of the prediction (a predicted change, or a score centred on 0)
against the sign of the actual label; bars where either is exactly 0 are left out.
ROC: the prediction as a score for "up" against the actual direction, with its AUC
(``mlbt.models.metrics``). Scatter: predicted vs actual change, at most ``max_points``
bars (an evenly spaced subset). Per-fold table: each walk-forward fold's training
range and its out-of-sample direction accuracy, AUC, MAE and correlation.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlbt.report.html import COMPACT_TOP, compact_title, graph_objects

MAX_POINTS = 3000

if TYPE_CHECKING:
    from plotly.graph_objects import Figure as PlotlyFigure


def pairs(prediction: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Mask of bars with a finite prediction and a finite actual value."""
    return np.isfinite(prediction) & np.isfinite(actual)


def is_direction(prediction: np.ndarray, actual: np.ndarray) -> bool:
    """Whether labels and predictions are continuous or signed (direction metrics
    apply), rather than class indices (0, 1, 2 ...)."""
    a = actual[np.isfinite(actual)]
    return bool(len(a) == 0 or (a < 0).any())


def confusion(prediction: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(counts, labels): rows actual, columns predicted. Directions (down/up) for
    signed values, else classes."""
    from mlbt.models.metrics import confusion_matrix  # mlbt.models loads torch: only for a model panel

    m = pairs(prediction, actual)
    p, a = prediction[m], actual[m]
    if is_direction(prediction, actual):
        keep = (p != 0) & (a != 0)
        cm = confusion_matrix(np.sign(a[keep]), np.sign(p[keep]), labels=[-1.0, 1.0])
        return cm, ["down", "up"]
    labels = np.unique(np.r_[a, p])
    return confusion_matrix(a, p, labels=labels), [f"class {v:g}" for v in labels]


def confusion_figure(cm: np.ndarray, labels: list[str]) -> PlotlyFigure:
    """Heatmap of the confusion matrix with counts and row shares in the cells."""
    go = graph_objects()

    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    text = [[f"{int(cm[i, j]):,}<br>{share[i, j]:.1%}" for j in range(cm.shape[1])] for i in range(cm.shape[0])]
    total = cm.sum()
    acc = np.trace(cm) / total if total else math.nan
    fig = go.Figure(go.Heatmap(z=cm, x=[f"pred {x}" for x in labels], y=[f"actual {x}" for x in labels],
                               text=text, texttemplate="%{text}", colorscale="Blues", showscale=False))
    fig.update_layout(title=compact_title(f"Confusion matrix (accuracy {acc:.1%} of {int(total):,})"),
                      height=340 + COMPACT_TOP - 50, width=420, margin=dict(l=90, r=20, t=COMPACT_TOP, b=40),
                      template="none",
                      yaxis=dict(autorange="reversed"))
    return fig


def roc(prediction: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(fpr, tpr, auc) of the prediction as a score for an up move, or None when
    there is no score (classes) or only one direction occurs."""
    from mlbt.models.metrics import roc_auc, roc_curve  # mlbt.models loads torch: only for a model panel

    if not is_direction(prediction, actual):
        return None
    m = pairs(prediction, actual) & (actual != 0)
    y = (actual[m] > 0).astype(float)
    if len(y) == 0 or y.min() == y.max():
        return None
    fpr, tpr, _ = roc_curve(y, prediction[m])
    return np.asarray(fpr), np.asarray(tpr), float(roc_auc(y, prediction[m]))


def roc_figure(fpr: np.ndarray, tpr: np.ndarray, auc: float, max_points: int = MAX_POINTS) -> PlotlyFigure:
    """ROC curve (thinned to ``max_points`` along its length) and the chance line."""
    go = graph_objects()

    if len(fpr) > max_points:
        keep = np.unique(np.r_[np.linspace(0, len(fpr) - 1, max_points).astype(np.int64), len(fpr) - 1])
        fpr, tpr = fpr[keep], tpr[keep]
    fig = go.Figure([go.Scatter(x=fpr, y=tpr, mode="lines", name=f"model (AUC {auc:.3f})"),
                     go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(dash="dash",
                                                                                          color="#999"))])
    fig.update_layout(title=compact_title(f"ROC, up vs down (AUC {auc:.3f})"), height=340 + COMPACT_TOP - 50,
                      width=420, margin=dict(l=60, r=20, t=COMPACT_TOP, b=50), template="none",
                      xaxis=dict(title="false positive rate", range=[0, 1]),
                      yaxis=dict(title="true positive rate", range=[0, 1]), legend=dict(x=0.45, y=0.05))
    return fig


def scatter_figure(prediction: np.ndarray, actual: np.ndarray, max_points: int = MAX_POINTS) -> PlotlyFigure:
    """Predicted vs actual change, an evenly spaced subset of at most ``max_points``."""
    go = graph_objects()

    m = np.flatnonzero(pairs(prediction, actual))
    n = len(m)
    if n > max_points:
        m = m[np.unique(np.linspace(0, n - 1, max_points).astype(np.int64))]
    p, a = prediction[m], actual[m]
    corr = float(np.corrcoef(prediction[pairs(prediction, actual)], actual[pairs(prediction, actual)])[0, 1]) \
        if n > 2 else math.nan
    shown = f", {len(m):,} of {n:,} shown" if len(m) < n else ""
    fig = go.Figure(go.Scatter(x=p, y=a, mode="markers", marker=dict(size=3, opacity=0.4, color="#1f77b4"),
                                 name="bars"))
    fig.update_layout(title=dict(text=f"Predicted vs actual change (corr {corr:.3f}{shown})"), height=340,
                      margin=dict(l=60, r=20, t=50, b=40), template="none",
                      xaxis=dict(title="predicted", zeroline=True), yaxis=dict(title="actual", zeroline=True))
    return fig


def fold_table(folds: list[dict[str, Any]], prediction: np.ndarray, actual: np.ndarray, fold: np.ndarray | None,
               index: pd.Index) -> pd.DataFrame:
    """One row per walk-forward fold: training and prediction ranges (timestamps),
    epochs, validation loss, and out-of-sample metrics on the bars it predicted."""
    from mlbt.models.metrics import accuracy, mae, roc_auc  # mlbt.models loads torch: only for a model panel

    rows = []
    direction = is_direction(prediction, actual)
    for f in folds:
        k = f.get("fold")
        if fold is not None:
            sel = (fold == k) & pairs(prediction, actual)
        else:
            sel = np.zeros(len(prediction), dtype=bool)
            sel[int(f["predict_start"]):int(f["predict_end"])] = True
            sel &= pairs(prediction, actual)
        p, a = prediction[sel], actual[sel]
        row = {"fold": k,
               "train": f"{_ts(index, f.get('train_start'))} .. {_ts(index, f.get('train_end'))}",
               "predict": f"{_ts(index, f.get('predict_start'))} .. {_ts(index, _last(f.get('predict_end')))}",
               "epochs": f.get("epochs"), "best_loss": f.get("best_loss"), "bars": int(sel.sum())}
        if direction and len(p):
            nz = (p != 0) & (a != 0)
            row["direction_acc"] = accuracy(np.sign(a[nz]), np.sign(p[nz])) if nz.any() else math.nan
            up = a[nz] > 0
            row["auc"] = float(roc_auc(up.astype(float), p[nz])) if 0 < up.sum() < len(up) else math.nan
            row["mae"] = mae(a, p)
            row["corr"] = float(np.corrcoef(p, a)[0, 1]) if len(p) > 2 and p.std() > 0 and a.std() > 0 else math.nan
        elif len(p):
            row["accuracy"] = accuracy(a, p)
        rows.append(row)
    return pd.DataFrame(rows)


def _last(end: Any) -> Any:
    return None if end is None else int(end) - 1


def _ts(index: pd.Index, i: Any) -> str:
    if i is None or not (0 <= int(i) < len(index)):
        return "?"
    return str(index[int(i)])[:16]
