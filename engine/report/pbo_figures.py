"""Figures of the probability of backtest overfitting (``mlbt.sweep.pbo``): the
distribution of the CSCV logits, and the selected column's in-sample against its
out-of-sample per-bar Sharpe ratio with the degradation line.

Both take an ``Overfitting``; plotly is imported by the functions that draw.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from mlbt.report.html import COMPACT_TOP, compact_title, graph_objects
from mlbt.sweep.pbo import Overfitting

MAX_SCATTER_POINTS = 5000  # combinations drawn in the IS / OOS scatter (a seeded sample beyond)
LOGIT_BINS = 40
OVERFIT_COLOR, FIT_COLOR = "#d62728", "#2ca02c"  # logit <= 0 (the IS best at or below the OOS median), > 0

if TYPE_CHECKING:
    from plotly.graph_objects import Figure as PlotlyFigure


def _logit_bins(logits: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of equal-width bins with 0 on an edge, each bin (a, b] closed on
    the right, so a logit of exactly 0 (the median) falls on the overfit side."""
    v = logits[np.isfinite(logits)]
    if len(v) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(1)
    lo, hi = min(float(v.min()), 0.0), max(float(v.max()), 0.0)
    width = (hi - lo) / bins if hi > lo else 1.0
    k_lo, k_hi = math.ceil(lo / width) - 1, math.ceil(hi / width)  # edges[0] < lo, edges[-1] >= hi
    edges = np.arange(k_lo, max(k_hi, k_lo + 1) + 1) * width
    idx = np.clip(np.searchsorted(edges, v, side="left") - 1, 0, len(edges) - 2)
    return np.bincount(idx, minlength=len(edges) - 1), edges


def logit_histogram(overfit: Overfitting, bins: int = LOGIT_BINS) -> PlotlyFigure:
    """Histogram of the logits lambda = ln(w / (1 - w)) of the IS-best column's OOS
    relative rank w, one per combination, in about ``bins`` bins closed on the right;
    bars at or left of the dashed line at 0 (red) are the combinations counted by the
    PBO, given in the title."""
    go = graph_objects()
    counts, edges = _logit_bins(np.asarray(overfit.logits, dtype="float64"), bins)
    mids = (edges[:-1] + edges[1:]) / 2
    colors = np.where(edges[1:] <= 0, OVERFIT_COLOR, FIT_COLOR)
    fig = go.Figure(go.Bar(x=mids, y=counts, width=np.diff(edges), marker_color=colors.tolist(), name="combinations",
                           customdata=np.stack([edges[:-1], edges[1:]], axis=1) if len(counts) else None,
                           hovertemplate="logit (%{customdata[0]:.2f}, %{customdata[1]:.2f}]: "
                                         "%{y} combinations<extra></extra>"))
    fig.add_vline(x=0, line=dict(color="#000", dash="dash", width=1.5), layer="above")
    title = f"PBO {overfit.pbo:.1%}: OOS rank logits of the IS best ({overfit.combinations:,} splits)"
    fig.update_layout(title=compact_title(title), height=360, width=620, margin=dict(l=60, r=20, t=COMPACT_TOP, b=50),
                      template="none", bargap=0.02, showlegend=False,
                      xaxis=dict(title=dict(text="logit of the OOS relative rank (0 = median)", standoff=8),
                                 automargin=True, zeroline=False),
                      yaxis=dict(title=dict(text="combinations", standoff=8), automargin=True))
    return fig


def _sample(n: int, cap: int, seed: int) -> np.ndarray:
    """Sorted positions of at most ``cap`` of ``n`` items: all, or a seeded sample."""
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def is_oos_scatter(overfit: Overfitting, max_points: int = MAX_SCATTER_POINTS, seed: int = 0) -> PlotlyFigure:
    """The IS-best column's per-bar Sharpe ratio in sample (x) against out of sample (y),
    a point per combination where both are defined (a seeded sample of ``max_points``
    when there are more), with the least-squares degradation line OOS = intercept +
    slope IS fitted over all of them."""
    go = graph_objects()
    x = np.asarray(overfit.is_sharpe, dtype="float64")
    y = np.asarray(overfit.oos_sharpe, dtype="float64")
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    keep = ok[_sample(len(ok), max_points, seed)]
    d = overfit.degradation
    shown = f" ({len(keep):,} of {len(ok):,} shown)" if len(keep) < len(ok) else ""
    traces = [go.Scatter(x=x[keep], y=y[keep], mode="markers", name=f"combinations{shown}",
                         marker=dict(size=4, opacity=0.4, color="#1f77b4"),
                         hovertemplate="IS %{x:.4f}<br>OOS %{y:.4f}<extra></extra>")]
    if len(ok) and math.isfinite(d.slope) and math.isfinite(d.intercept):
        xs = np.array([x[ok].min(), x[ok].max()])
        traces.append(go.Scatter(x=xs, y=d.intercept + d.slope * xs, mode="lines", name="least squares",
                                 line=dict(color=OVERFIT_COLOR, width=2),
                                 hovertemplate=f"OOS = {d.intercept:.4f} + {d.slope:.3f} IS<extra></extra>"))
    fig = go.Figure(traces)
    slope = f"slope {d.slope:.2f}" if math.isfinite(d.slope) else "no slope"
    title = f"IS best in vs out of sample: {slope}, P(OOS < 0) {d.prob_oos_loss:.1%}"
    fig.update_layout(title=compact_title(title), height=420, width=620, margin=dict(l=60, r=20, t=COMPACT_TOP, b=80),
                      template="none",
                      legend=dict(orientation="h", x=0, y=0, xref="container", yref="container", yanchor="bottom"),
                      xaxis=dict(title=dict(text="per-bar Sharpe, in sample", standoff=8), automargin=True),
                      yaxis=dict(title=dict(text="per-bar Sharpe, out of sample", standoff=8), automargin=True,
                                 zeroline=True, zerolinecolor="#bbb"))
    return fig
