"""Figures of the run tearsheet (plotly, imported by the functions that use it).

Every time axis carries milliseconds since the epoch (UTC) on a ``type="date"`` axis,
so arrays travel as compact binary blocks; long series are thinned to about
``points`` samples with ``downsample`` (LTTB plus the extremes) before they are drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlbt.report import analytics
from mlbt.report.downsample import downsample
from mlbt.report.html import Placeholder, graph_objects

#: Colours of exit reasons (the engine's set) in the price chart and the breakdown.
REASON_COLORS = {"signal": "#1f77b4", "sl": "#d62728", "tp": "#2ca02c", "trail": "#ff7f0e", "time": "#9467bd",
                 "end": "#7f7f7f", "liquidation": "#8c564b"}
POINTS = 2000  # samples per drawn line
MAX_MARKERS = 1500  # trades marked on the price chart

if TYPE_CHECKING:
    from plotly.graph_objects import Figure as PlotlyFigure


def ms(index: pd.Index) -> np.ndarray:
    """Timestamps as float milliseconds since the epoch (UTC)."""
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.as_unit("ns").asi8 / 1e6


def _thin(index: pd.Index, values: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    x = ms(index)
    v = np.asarray(values, dtype="float64")
    if len(v) > points:
        keep = downsample(x, v, points)
        return x[keep], v[keep]
    return x, v


def _layout(title: str | dict, **kw) -> dict:
    """The tearsheet's common layout; ``title`` a text or a whole title dict."""
    base = dict(title=dict(text=title) if isinstance(title, str) else title, margin=dict(l=60, r=20, t=50, b=40),
                height=380, legend=dict(orientation="h", y=-0.15), template="none")
    base.update(kw)
    return base


def equity_figure(equity: pd.Series, bh: pd.Series, points: int = POINTS, bh_name: str = "buy & hold",
                  band: pd.DataFrame | None = None, twins: int = 0) -> PlotlyFigure:
    """Strategy equity and buy-and-hold (named ``bh_name``), with a linear/log y-axis
    toggle; with ``band`` (columns p5, p50, p95 on the bars kept) the 5-95% band and the
    median of ``twins`` random-entry twins' account value behind them."""
    go = graph_objects()

    fig = go.Figure()
    if band is not None and len(band):
        x = ms(band.index)
        fig.add_trace(go.Scatter(x=x, y=band["p95"].to_numpy(), mode="lines", line=dict(width=0, color="#b0c4de"),
                                 name="twins 95th percentile", showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=band["p5"].to_numpy(), mode="lines", line=dict(width=0, color="#b0c4de"),
                                 fill="tonexty", fillcolor="rgba(176,196,222,0.45)",
                                 name=f"{twins:,} random-entry twins, 5-95%"))
        fig.add_trace(go.Scatter(x=x, y=band["p50"].to_numpy(), mode="lines", name="twins' median",
                                 line=dict(color="#7f9cc0", width=1, dash="dot")))
    for name, s, color in (("strategy", equity, "#1f77b4"), (bh_name, bh, "#999999")):
        x, y = _thin(s.index, s.to_numpy(), points)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line=dict(color=color, width=1.5)))
    menu = dict(type="buttons", direction="right", x=0, y=1.12, xanchor="left", showactive=True, buttons=[
        dict(label="linear", method="relayout", args=[{"yaxis.type": "linear"}]),
        dict(label="log", method="relayout", args=[{"yaxis.type": "log"}]),
    ])
    fig.update_layout(**_layout(f"Equity vs {bh_name}", updatemenus=[menu]), xaxis=dict(type="date"),
                      yaxis=dict(title="account value", type="linear"))
    return fig


def drawdown_figure(dd: pd.Series, points: int = POINTS) -> PlotlyFigure:
    """Underwater curve: drawdown from the running peak, shaded to zero."""
    go = graph_objects()

    x, y = _thin(dd.index, dd.to_numpy(), points)
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", fill="tozeroy", name="drawdown",
                               line=dict(color="#d62728", width=1)))
    fig.update_layout(**_layout("Underwater (drawdown from peak)", height=280), xaxis=dict(type="date"),
                      yaxis=dict(tickformat=".0%"))
    return fig


def _pick(n: int, cap: int) -> np.ndarray:
    return np.arange(n) if n <= cap else np.unique(np.linspace(0, n - 1, cap).astype(np.int64))


def price_figure(close: pd.Series, trades: pd.DataFrame, points: int = POINTS,
                 max_markers: int = MAX_MARKERS) -> PlotlyFigure:
    """Close with exits (open rings coloured by exit reason) and entries (triangles:
    up long, down short). The entries are drawn last, over the exits, and each ring is
    wider than a triangle, so a trade that exits on the bar it entered (or the next
    one) still shows both; hovering a marker names both ends of its trade. More than
    ``max_markers`` trades: an evenly spaced subset is marked (the title says how many)."""
    go = graph_objects()

    fig = go.Figure()
    x, y = _thin(close.index, close.to_numpy(), points)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="close", line=dict(color="#444", width=1)))
    n = len(trades)
    sel = trades.iloc[_pick(n, max_markers)] if n else trades
    closed = sel[~sel["is_open"]] if len(sel) else sel
    reasons = closed["exit_reason"].astype(str).to_numpy() if len(closed) else np.array([], dtype=str)
    hover = ("%{customdata[1]} trade (%{customdata[0]})<br>entry %{customdata[2]}<br>exit %{customdata[3]}"
             "<extra></extra>")
    for rank, (reason, color) in enumerate(REASON_COLORS.items()):
        t = closed[reasons == reason] if len(closed) else closed
        if len(t):
            fig.add_trace(go.Scatter(x=ms(t["exit_time"]), y=t["exit_price"].to_numpy(dtype="float64"),
                                     mode="markers", name=f"exit: {reason}", legendrank=1010 + rank,
                                     customdata=_trade_hover(t, "exit"), hovertemplate=hover,
                                     marker=dict(symbol="circle-open", size=11, color=color,
                                                 line=dict(width=2, color=color))))
    for rank, (side, symbol, color) in enumerate((("long", "triangle-up", "#2ca02c"),
                                                  ("short", "triangle-down", "#d62728"))):
        t = sel[sel["side"] == side]
        if len(t):
            fig.add_trace(go.Scatter(x=ms(t["entry_time"]), y=t["entry_price"].to_numpy(dtype="float64"),
                                     mode="markers", name=f"{side} entry", legendrank=1001 + rank,
                                     customdata=_trade_hover(t, "entry"), hovertemplate=hover,
                                     marker=dict(symbol=symbol, size=8, color=color,
                                                 line=dict(width=0.5, color="#fff"))))
    shown = f" ({len(sel):,} of {n:,} trades marked)" if len(sel) < n else ""
    fig.update_layout(**_layout(f"Price with entries and exits{shown}", height=420), xaxis=dict(type="date"))
    return fig


def _trade_hover(t: pd.DataFrame, end: str) -> np.ndarray:
    """Per trade, the hover text of both of its markers: which end this marker is, the
    side, the entry (time at price) and the exit (time at price, reason; or 'still
    open')."""
    def at(time_col: str, price_col: str) -> list[str]:
        times = pd.DatetimeIndex(t[time_col]).strftime("%Y-%m-%d %H:%M")
        return [f"{w} at {p:,.6g}" for w, p in zip(times, t[price_col].to_numpy(dtype="float64"), strict=True)]

    exits = [("still open" if is_open else f"{text} ({reason})") for text, reason, is_open in
             zip(at("exit_time", "exit_price"), t["exit_reason"].astype(str), t["is_open"].to_numpy(dtype=bool),
                 strict=True)]
    return np.array([[end, side, entry, exit_] for side, entry, exit_ in
                     zip(t["side"].astype(str), at("entry_time", "entry_price"), exits, strict=True)],
                    dtype=object).reshape(len(t), 4)


def monthly_figure(table: pd.DataFrame) -> PlotlyFigure:
    """Heatmap of monthly returns, years down, months across, the value in each cell."""
    go = graph_objects()

    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    z = table.to_numpy(dtype="float64")
    text = np.where(np.isfinite(z), np.char.mod("%.1f%%", np.nan_to_num(z) * 100), "")
    lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = go.Figure(go.Heatmap(z=z, x=months, y=[str(y) for y in table.index], text=text,
                               texttemplate="%{text}", colorscale="RdYlGn", zmid=0, zmin=-lim, zmax=lim,
                               colorbar=dict(tickformat=".0%"), hoverongaps=False))
    fig.update_layout(**_layout("Monthly returns", height=max(220, 60 + 28 * len(table))),
                      yaxis=dict(autorange="reversed", type="category"))
    return fig


def yearly_figure(strategy: pd.Series, bh: pd.Series, bh_name: str = "buy & hold") -> PlotlyFigure:
    """Calendar-year returns of the strategy beside buy-and-hold (named ``bh_name``)."""
    go = graph_objects()

    years = [str(i.year) for i in strategy.index]
    fig = go.Figure([go.Bar(x=years, y=strategy.to_numpy(), name="strategy", marker_color="#1f77b4"),
                     go.Bar(x=years, y=bh.to_numpy(), name=bh_name, marker_color="#999999")])
    fig.update_layout(**_layout("Yearly returns", height=300, barmode="group"), yaxis=dict(tickformat=".0%"),
                      xaxis=dict(type="category"))
    return fig


def rolling_figure(rolling: pd.DataFrame, window: int, points: int = POINTS) -> PlotlyFigure:
    """Rolling annualized Sharpe (left axis) and volatility (right axis)."""
    go = graph_objects()

    fig = go.Figure()
    for col, axis, color in (("sharpe", "y", "#1f77b4"), ("volatility", "y2", "#ff7f0e")):
        s = rolling[col].dropna()
        if len(s):
            x, y = _thin(s.index, s.to_numpy(), points)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"rolling {col}", yaxis=axis,
                                     line=dict(color=color, width=1)))
    # the right axis's ticks and title need room of their own: automargin widens the
    # margin to fit them, standoff keeps the title clear of the tick labels
    fig.update_layout(**_layout(f"Rolling Sharpe and volatility ({window:,}-bar window, annualized)", height=320,
                                margin=dict(l=60, r=70, t=50, b=40)),
                      xaxis=dict(type="date"), yaxis=dict(title=dict(text="Sharpe", standoff=8), automargin=True),
                      yaxis2=dict(title=dict(text="volatility", standoff=8), overlaying="y", side="right",
                                  tickformat=".0%", automargin=True))
    return fig


def trade_returns_figure(returns: np.ndarray) -> PlotlyFigure | Placeholder:
    """Histogram of closed trades' returns (pnl / entry value), 50 bins; a line that
    says so when no trade closed."""
    if not np.isfinite(np.asarray(returns, dtype="float64")).any():
        return Placeholder("Trade return distribution: no trades closed in this run, so there is no return "
                           "to draw.")
    go = graph_objects()
    counts, edges = analytics.histogram(returns, 50)
    mids = (edges[:-1] + edges[1:]) / 2 if len(counts) else edges[:0]
    colors = np.where(mids >= 0, "#2ca02c", "#d62728")
    fig = go.Figure(go.Bar(x=mids, y=counts, width=np.diff(edges) if len(counts) else None,
                           marker_color=colors.tolist(), name="trades"))
    fig.update_layout(**_layout(f"Trade return distribution ({int(counts.sum()):,} closed trades)", height=300),
                      xaxis=dict(tickformat=".1%", title="return"), yaxis=dict(title="trades"), bargap=0.02)
    return fig


def exit_reason_table(trades: pd.DataFrame) -> pd.DataFrame:
    """Per exit reason: trades, share, win rate, mean return, total pnl."""
    if not len(trades):
        return pd.DataFrame(columns=["reason", "trades", "share", "win_rate", "mean_return", "pnl"])
    reason = trades["exit_reason"].astype(str)
    g = trades.assign(reason=reason, win=trades["pnl"] > 0).groupby("reason", sort=False)
    out = pd.DataFrame({"trades": g.size(), "win_rate": g["win"].mean(), "mean_return": g["return"].mean(),
                        "pnl": g["pnl"].sum()})
    out.insert(1, "share", out["trades"] / len(trades))
    order = [r for r in REASON_COLORS if r in out.index]
    return out.loc[order].reset_index()


def exit_reason_figure(table: pd.DataFrame) -> PlotlyFigure | Placeholder:
    """Bars of trades per exit reason, hover with win rate and mean return; a line
    that says so when there are no trades."""
    if not len(table):
        return Placeholder("Exit reasons: no trades in this run.")
    go = graph_objects()
    reasons = table["reason"].tolist()
    fig = go.Figure(go.Bar(
        x=reasons, y=table["trades"].to_numpy(), marker_color=[REASON_COLORS.get(r, "#333") for r in reasons],
        customdata=np.c_[table["win_rate"], table["mean_return"]],
        hovertemplate="%{x}: %{y} trades<br>win rate %{customdata[0]:.1%}<br>mean return %{customdata[1]:.2%}"
                      "<extra></extra>"))
    fig.update_layout(**_layout("Exit reasons", height=300), xaxis=dict(type="category"), yaxis=dict(title="trades"))
    return fig
