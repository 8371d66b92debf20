"""Figures of the portfolio tearsheet (a plugin over a universe, shared cash): each
asset's contribution, weights over time, gross exposure and leverage, the correlation
of asset returns, funding. Time axes as in ``run_figures`` (epoch milliseconds on a
date axis); several lines over the same bars are thinned on one common set of bars,
the union of each line's LTTB picks, so a stacked area stays stacked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlbt.report.downsample import downsample
from mlbt.report.html import COMPACT_TOP, compact_title, graph_objects
from mlbt.report.run_figures import POINTS, _layout, ms

if TYPE_CHECKING:
    from plotly.graph_objects import Figure as PlotlyFigure

#: One colour per asset, in asset order (plotly's default cycle).
ASSET_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf")


def _color(k: int) -> str:
    return ASSET_COLORS[k % len(ASSET_COLORS)]


MAX_LABELLED = 20  # assets up to which the correlation heatmap writes each value
MAX_SHAPED = 10  # columns above which the common bars are evenly spaced, not each column's LTTB picks


def common_picks(frame: pd.DataFrame, points: int) -> np.ndarray:
    """Bar positions that keep every column's shape: the union of each column's
    ``downsample`` picks (about ``points`` / columns each, at least 100), all bars when
    that is fewer; with more than ``MAX_SHAPED`` columns evenly spaced bars, fewer as
    the columns grow (``points`` x ``MAX_SHAPED`` values in all, at least 200 bars):
    the union of so many columns' picks would be most of the bars."""
    n = len(frame)
    if frame.shape[1] > MAX_SHAPED:
        count = max(200, points * MAX_SHAPED // frame.shape[1])
        return np.arange(n) if n <= count else np.unique(np.linspace(0, n - 1, count).astype(np.int64))
    if n <= points:
        return np.arange(n)
    x = ms(frame.index)
    per = max(points // max(frame.shape[1], 1), 100)
    keep = [downsample(x, np.nan_to_num(frame.iloc[:, k].to_numpy(dtype="float64")), per)
            for k in range(frame.shape[1])]
    return np.unique(np.concatenate(keep)) if keep else np.arange(0)


def contribution_figure(contributions: pd.Series) -> PlotlyFigure:
    """Each asset's contribution to the portfolio's total return (its trades' pnl over
    the initial cash; the bars add up to the total return)."""
    go = graph_objects()

    v = contributions.to_numpy(dtype="float64")
    fig = go.Figure(go.Bar(x=[str(a) for a in contributions.index], y=v,
                           marker_color=np.where(v >= 0, "#2ca02c", "#d62728").tolist(),
                           hovertemplate="%{x}: %{y:.2%} of the initial cash<extra></extra>"))
    fig.update_layout(**_layout(f"Contribution to return (total {np.nansum(v):.2%})", height=320),
                      xaxis=dict(type="category"), yaxis=dict(tickformat=".0%", title="pnl / initial cash"))
    return fig


def weights_figure(weights: pd.DataFrame, points: int = POINTS) -> PlotlyFigure:
    """Each asset's weight of the portfolio's equity at each close, stacked (longs
    above zero, shorts below: plotly stacks each sign in its own group)."""
    go = graph_objects()

    pick = common_picks(weights, points)
    x = ms(weights.index[pick])
    fig = go.Figure()
    for k, asset in enumerate(weights.columns):
        w = np.nan_to_num(weights.iloc[pick, k].to_numpy(dtype="float64"))
        fig.add_trace(go.Scatter(x=x, y=w, mode="lines", name=str(asset), stackgroup="w",
                                 line=dict(width=0.5, color=_color(k))))
    fig.update_layout(**_layout("Weights over time (position value / portfolio equity)", height=340),
                      xaxis=dict(type="date"), yaxis=dict(tickformat=".0%", title="weight"))
    return fig


def exposure_figure(gross: pd.Series, leverage: pd.Series, points: int = POINTS) -> PlotlyFigure:
    """Gross exposure (sum of |position value|, left axis) and leverage (gross
    exposure / equity, right axis) at each close."""
    go = graph_objects()

    frame = pd.DataFrame({"gross": gross, "leverage": leverage})
    pick = common_picks(frame, points)
    x = ms(frame.index[pick])
    fig = go.Figure([
        go.Scatter(x=x, y=frame["gross"].to_numpy()[pick], mode="lines", name="gross exposure",
                   line=dict(color="#1f77b4", width=1)),
        go.Scatter(x=x, y=frame["leverage"].to_numpy()[pick], mode="lines", name="leverage", yaxis="y2",
                   line=dict(color="#d62728", width=1)),
    ])
    fig.update_layout(**_layout("Gross exposure and leverage", height=320, margin=dict(l=60, r=70, t=50, b=40)),
                      xaxis=dict(type="date"), yaxis=dict(title=dict(text="gross exposure", standoff=8),
                                                          automargin=True),
                      yaxis2=dict(title=dict(text="leverage (x equity)", standoff=8), overlaying="y", side="right",
                                  rangemode="tozero", automargin=True))
    return fig


def correlation_figure(corr: pd.DataFrame) -> PlotlyFigure:
    """Heatmap of the correlation of the assets' close-to-close returns (each pair on
    the bars both have), the value in each cell."""
    go = graph_objects()

    z = corr.to_numpy(dtype="float64")
    names = [str(a) for a in corr.columns]
    shown = len(names) <= MAX_LABELLED  # a value in each cell while they are legible
    text = np.where(np.isfinite(z), np.char.mod("%.2f", np.nan_to_num(z)), "") if shown else None
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, text=text, texttemplate="%{text}" if shown else None,
                               colorscale="RdBu", zmid=0, zmin=-1, zmax=1, hoverongaps=False))
    side = min(max(300, 80 + 40 * len(names)), 900)
    fig.update_layout(**_layout(compact_title("Correlation of asset returns"), height=side + COMPACT_TOP - 50,
                                width=side + 120, margin=dict(l=60, r=20, t=COMPACT_TOP, b=40)),
                      xaxis=dict(type="category"), yaxis=dict(type="category", autorange="reversed"))
    return fig


def carry_figure(carried: pd.Series) -> PlotlyFigure:
    """Funding and borrow paid per asset over the run (its trades' ``funding``;
    negative: received), in the cash currency."""
    go = graph_objects()

    v = carried.to_numpy(dtype="float64")
    fig = go.Figure(go.Bar(x=[str(a) for a in carried.index], y=v, name="funding and borrow paid",
                           marker_color=np.where(v >= 0, "#9467bd", "#17becf").tolist()))
    fig.update_layout(**_layout("Funding and borrow paid per asset (negative: received)", height=300),
                      xaxis=dict(type="category"), yaxis=dict(title="paid (cash currency)"))
    return fig
