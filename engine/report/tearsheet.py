"""Run and sweep reports as single self-contained HTML files.

``write_run_report(run, path)`` writes the tearsheet of a RunData (from ``bt run`` or a
directory saved with ``--save``); ``write_sweep_report(sweep_dir, path)`` the report
of a stored sweep. Both write under a temporary name beside ``path`` and rename it
into place, so a report is either complete or absent. plotly is imported here, not
by ``mlbt.report`` itself, so nothing loads it until a report is written.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlbt.io import write_text
from mlbt.report import analytics
from mlbt.report import ml_figures as mf
from mlbt.report import run_figures as rf
from mlbt.report.formatting import fmt
from mlbt.report.html import Block, Figure, Section, esc, page, table
from mlbt.report.rundata import RunData
from mlbt.report.sweep_figures import SweepData, sweep_report_html
from mlbt.sim import periods_per_year

MAX_TRADE_ROWS = 500  # trades listed in the table (the newest are cut)

def default_report_name(strategy: str, when: float | None = None) -> str:
    """``<strategy>-YYYYmmdd-HHMMSS.html`` (local time), characters other than
    letters, digits, '-', '_' and '.' in the name replaced by '_'."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in strategy) or "report"
    return f"{safe}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}.html"


# -- run tearsheet ------------------------------------------------------------------

def _kv(rows: list[tuple[str, Any]]) -> str:
    return table(["", ""], [(k, v) for k, v in rows], cls="kv")


def _header(run: RunData) -> str:
    m = run.meta
    synthetic = " (SYNTHETIC data)" if m.get("synthetic") else ""
    params = ", ".join(f"{k}={v}" for k, v in (m.get("params") or {}).items()) or "(none)"
    fill = m.get("fill")
    fill_note = "next bar's open (decision at bar t's close fills at t+1's open)" if fill == "next_open" else \
        "same bar's close (opt-in: fills at the close that made the decision; optimistic)"
    left = _kv([
        ("strategy", m.get("strategy")), ("description", m.get("description") or ""), ("params", params),
        ("data", f"{m.get('data')}{synthetic}" + (f", symbol {m.get('symbol')}" if m.get("symbol") else "")),
        ("range", f"{m.get('start')} .. {m.get('end')} ({fmt(m.get('bars'))} bars)"),
        ("fees", f"fee {fmt(m.get('fee'))} x notional per fill, fixed {fmt(m.get('fixed_fee'))}, "
                 f"slippage {fmt(m.get('slippage'))}"),
        ("fill", f"{fill}: {fill_note}"), ("initial cash", fmt(m.get("cash"))),
    ])
    right = _kv([
        ("bt version", m.get("bt_version")), ("data fingerprint", m.get("data_fingerprint")),
        ("model", m.get("model") or "none"), ("model hash (cache key)", m.get("model_hash") or "-"),
        ("device", m.get("device")),
        ("predictions", {True: "from cache", False: "trained now", None: "-"}.get(m.get("cache_hit"), "-")),
    ])
    warn = '<p class="warn">Synthetic data: these prices are simulated, not a market.</p>' if synthetic else ""
    return (f"<h1>{esc(m.get('strategy'))}{esc(synthetic)}</h1>{warn}"
            f'<div class="row"><div>{left}</div><div><b>manifest</b>{right}</div></div>')


def _metrics_block(run: RunData, bh_stats: dict[str, float]) -> str:
    rows = []
    for k, v in run.stats.items():
        rows.append((k, fmt(v, k), fmt(bh_stats[k], k) if k in bh_stats else ""))
    return table(["metric", "strategy", "buy & hold"], rows, cls="metrics")


def _trades_block(trades: pd.DataFrame) -> str:
    n = len(trades)
    cols = ["side", "entry_time", "entry_price", "exit_time", "exit_price", "size", "fees", "pnl", "return",
            "bars_held", "exit_reason"]
    shown = trades.iloc[:MAX_TRADE_ROWS]
    body = [[i, *(fmt(v, c) for c, v in zip(cols, r, strict=True))]
            for i, r in zip(range(1, len(shown) + 1), shown[cols].itertuples(index=False), strict=True)]
    note = (f"First {len(shown):,} of {n:,} trades by entry time; save the run with --save to keep them all."
            if n > len(shown) else f"All {n:,} trades.")
    return f'<p class="note">{esc(note)}</p><div class="scroll">{table(["#", *cols], body)}</div>'


def run_sections(run: RunData) -> list[Section]:
    """The tearsheet's sections for ``run`` (a RunData)."""
    m = run.meta
    cash, equity = float(m.get("cash") or run.equity.iloc[0]), run.equity
    ppy = float(m.get("ppy") or 0) or periods_per_year(equity.index)
    held = analytics.buy_and_hold(run.close, cash, ppy)
    bh, bh_stats = held.equity, held.stats.to_dict()
    dd = analytics.drawdown(equity, cash)
    worst = analytics.worst_drawdowns(equity, cash, 5)
    yearly = analytics.period_returns(equity, cash, "YE")
    yearly_bh = analytics.period_returns(bh, cash, "YE")
    window = analytics.rolling_window(ppy, len(equity))
    rolling = analytics.rolling_sharpe_vol(equity, cash, ppy, window)
    trades = run.trades
    closed = trades[~trades["is_open"]] if len(trades) else trades
    reasons = rf.exit_reason_table(trades)

    overview = Section("Performance", [
        Block(f'<div class="row"><div>{_metrics_block(run, bh_stats)}</div>'
              f'<div style="flex:1;min-width:480px">'),
        Figure("fig-equity", rf.equity_figure(equity, bh)),
        Figure("fig-drawdown", rf.drawdown_figure(dd)),
        Block("</div></div>"),
    ], anchor="performance")
    price = Section("Trades on the price", [Figure("fig-price", rf.price_figure(run.close, trades))], anchor="price")
    calendar = Section("Calendar and rolling", [
        Figure("fig-monthly", rf.monthly_figure(analytics.monthly_table(equity, cash))),
        Figure("fig-yearly", rf.yearly_figure(yearly, yearly_bh)),
        Figure("fig-rolling", rf.rolling_figure(rolling, window)),
    ], anchor="calendar")
    wdd = [[i + 1, fmt(r.peak), fmt(r.trough), fmt(r.recovery) if pd.notna(r.recovery) else "not recovered",
            fmt(r.depth, "depth"), fmt(r.bars_to_trough, "bars_to_trough"),
            fmt(r.bars_underwater, "bars_underwater")]
           for i, r in enumerate(worst.itertuples(index=False))]
    reason_rows = [[r.reason, fmt(r.trades), fmt(r.share, "share"), fmt(r.win_rate, "win_rate"),
                    fmt(r.mean_return, "mean_return"), fmt(r.pnl)] for r in reasons.itertuples(index=False)]
    trade_sec = Section("Trades", [
        Figure("fig-trade-returns", rf.trade_returns_figure(closed["return"].to_numpy() if len(closed) else [])),
        Block(table(["reason", "trades", "share", "win rate", "mean return", "pnl"], reason_rows,
                    caption="Exit-reason breakdown")),
        Figure("fig-exit-reasons", rf.exit_reason_figure(reasons)),
        Block(table(["#", "peak", "trough", "recovery", "depth", "bars to trough", "bars under water"], wdd,
                    caption="Worst five drawdowns")),
        Block(_trades_block(trades)),
    ], anchor="trades")
    sections = [overview, price, calendar, trade_sec]
    if run.funnel:
        sections.append(funnel_section(run.funnel))
    if run.has_model and run.actual is not None:
        sections.append(ml_section(run))
    return sections


def funnel_section(funnel: dict[str, Any]) -> Section:
    """The signal funnel: per side, each condition of the rule with the bars it passes
    alone and the bars left once it and every condition above it hold."""
    blocks = []
    for side, rows in funnel.items():
        if side == "bars":
            continue
        body = [[r["condition"], fmt(r["alone"]), fmt(r["left"])] for r in rows]
        blocks.append(Block(f'<div style="min-width:420px">{table(["condition", "alone", "left"], body, caption=side)}'
                            "</div>"))
    note = (f'<p class="note">Bars of {fmt(funnel.get("bars"))} on which each condition of the signal rule holds '
            "(alone) and on which it and every condition above it hold (left), at this run's params.</p>")
    return Section("Signal funnel", [Block(note + '<div class="row">'), *blocks, Block("</div>")], anchor="funnel")


def ml_section(run: RunData) -> Section:
    """The ML panel: confusion matrix, ROC with AUC, predicted vs actual, per-fold table."""
    pred, actual = np.asarray(run.prediction, dtype="float64"), np.asarray(run.actual, dtype="float64")
    cm, labels = mf.confusion(pred, actual)
    items: list = []
    if run.ml:
        items.append(Block(table(["model metric (out of sample)", "value"],
                                 [(k, fmt(v, k)) for k, v in run.ml.items()], cls="metrics")))
    row = [Figure("fig-confusion", mf.confusion_figure(cm, labels))]
    r = mf.roc(pred, actual)
    if r is not None:
        row.append(Figure("fig-roc", mf.roc_figure(*r)))
    items.append(Block('<div class="row"><div style="width:440px">'))
    items.append(row[0])
    if len(row) > 1:
        items.append(Block('</div><div style="width:440px">'))
        items.append(row[1])
    items.append(Block("</div></div>"))
    if mf.is_direction(pred, actual):
        items.append(Figure("fig-pred-scatter", mf.scatter_figure(pred, actual)))
    if run.folds:
        ft = mf.fold_table(run.folds, pred, actual, run.fold, run.equity.index)
        keys = {"direction_acc": "direction_acc", "accuracy": "direction_accuracy"}
        items.append(Block(table(list(ft.columns), [[fmt(v, keys.get(c, c)) for c, v in zip(ft.columns, r,
                                                                                             strict=True)]
                                                    for r in ft.itertuples(index=False)],
                                 caption="Walk-forward folds (metrics on each fold's out-of-sample bars)")))
    return Section("Model (out of sample)", items, anchor="model")


def run_report_html(run: RunData) -> str:
    """The run tearsheet of ``run`` (a RunData) as an HTML string."""
    m = run.meta
    return page(f"bt: {m.get('strategy')} on {m.get('data')}", _header(run), run_sections(run))


def write_run_report(run: RunData, path: str | os.PathLike) -> Path:
    """Write the run tearsheet of ``run`` (mlbt.report.RunData) to ``path`` atomically;
    returns the path."""
    return write_text(path, run_report_html(run))


# -- sweep report -------------------------------------------------------------------

def write_sweep_report(sweep_dir: str | os.PathLike | SweepData, path: str | os.PathLike, *,
                       metric: str | None = None, top: int = 20, dsr: dict[str, Any] | None = None) -> Path:
    """Write the report of the sweep stored in ``sweep_dir`` (``bt sweep --out``) to
    ``path`` atomically. ``metric`` ranks (default: the one stored with the sweep,
    else sharpe); ``dsr`` is the sweep's Deflated Sharpe Ratio when the caller has it
    (else the stored one, else an estimate from the table, labelled as such)."""
    return write_text(path, sweep_report_html(sweep_dir, metric=metric, top=top, dsr=dsr))
