"""Blocks both tearsheets share (a single asset's and a universe's): the header with
the run's manifest, performance beside a buy-and-hold, the calendar, the trades."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlbt.report import analytics
from mlbt.report import run_figures as rf
from mlbt.report.formatting import bar_spacing, fmt, metric_groups, undefined
from mlbt.report.html import Block, Figure, Section, esc, table
from mlbt.report.rundata import RunData
from mlbt.settings import settings_text
from mlbt.sim import Result, periods_per_year

MAX_TRADE_ROWS = 500  # trades listed in the table (the newest are cut)
SHOWN_SYMBOLS = 12  # a universe's assets named in the header (the per-asset table lists them all)


def kv(rows: list[tuple[str, Any]]) -> str:
    return table(["", ""], [(k, v) for k, v in rows], cls="kv")


def _selection(m: dict[str, Any]) -> str:
    """What the run took from its source: a symbol, or a universe's assets and how they
    share the account."""
    if m.get("symbols"):
        flat = f"; flat (no walk-forward fold): {', '.join(m['flat_assets'])}" if m.get("flat_assets") else ""
        sharing = "shared cash" if (m.get("engine") or {}).get("cash_sharing") else "cash per asset"
        names = m["symbols"]
        shown = ", ".join(names[:SHOWN_SYMBOLS]) + (f" and {len(names) - SHOWN_SYMBOLS} more"
                                                     if len(names) > SHOWN_SYMBOLS else "")
        return f", universe of {len(names)}: {shown} ({sharing}, allocation {m.get('allocation')}{flat})"
    return f", symbol {m.get('symbol')}" if m.get("symbol") else ""


def header(run: RunData) -> str:
    m = run.meta
    synthetic = " (SYNTHETIC data)" if m.get("synthetic") else ""
    params = ", ".join(f"{k}={v}" for k, v in (m.get("params") or {}).items()) or "(none)"
    fill = m.get("fill")
    fill_note = "next bar's open (decision at bar t's close fills at t+1's open)" if fill == "next_open" else \
        "same bar's close (opt-in: fills at the close that made the decision; optimistic)"
    left = kv([
        ("strategy", m.get("strategy")), ("description", m.get("description") or ""), ("params", params),
        ("data", f"{m.get('data')}{synthetic}" + _selection(m)),
        ("range", f"{m.get('start')} .. {m.get('end')} ({fmt(m.get('bars'))} bars)"),
        ("fees", f"fee {fmt(m.get('fee'))} x notional per fill, fixed {fmt(m.get('fixed_fee'))}, "
                 f"slippage {fmt(m.get('slippage'))}"),
        ("fill", f"{fill}: {fill_note}"), ("initial cash", fmt(m.get("cash"))),
        ("engine settings", settings_text(m.get("engine") or {})),
    ])
    right = kv([
        ("bt version", m.get("bt_version")), ("data fingerprint", m.get("data_fingerprint")),
        ("model", m.get("model") or "none"), ("model hash (cache key)", m.get("model_hash") or "-"),
        ("device", m.get("device")),
        ("predictions", {True: "from cache", False: "trained now", None: "-"}.get(m.get("cache_hit"), "-")),
    ])
    warn = '<p class="warn">Synthetic data: these prices are simulated, not a market.</p>' if synthetic else ""
    warn += "".join(f'<p class="warn">{esc(note)}</p>' for note in m.get("notes") or [])
    return (f"<h1>{esc(m.get('strategy'))}{esc(synthetic)}</h1>{warn}"
            f'<div class="row"><div>{left}</div><div><b>manifest</b>{right}</div></div>')


def metrics_block(run: RunData, bh_stats: dict[str, float], bh_name: str = "buy & hold") -> str:
    """The metrics in their groups beside the buy-and-hold's; an undefined cell says why
    on hover, and a note below lists the reasons."""
    index = run.equity.index
    bar = bar_spacing(index)
    body = []
    for name, rows in metric_groups(run.stats, bar=bar, index=index):
        body.append(f'<tr class="group"><th colspan="3">{esc(name)}</th></tr>')
        for r in rows:
            held = fmt(bh_stats[r.key], r.key, bar=bar, index=index) if r.key in bh_stats else ""
            cell = f'<td title="{esc(r.reason)}">-</td>' if r.reason else f"<td>{esc(r.text)}</td>"
            body.append(f"<tr><td>{esc(r.key)}</td>{cell}<td>{esc(held)}</td></tr>")
    reasons = undefined(run.stats)
    note = ('<p class="note">- undefined: ' + esc("; ".join(f"{k} ({why})" for k, why in reasons.items()))
            + "</p>") if reasons else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in ("metric", "strategy", bh_name))
    return f'<table class="metrics"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{note}'


def trades_block(trades: pd.DataFrame) -> str:
    n = len(trades)
    cols = ["asset"] * ("asset" in trades.columns) + [
        "side", "entry_time", "entry_price", "exit_time", "exit_price", "size", "fees", "pnl", "return",
        "bars_held", "exit_reason"]
    shown = trades.iloc[:MAX_TRADE_ROWS]
    body = [[i, *(fmt(v, c) for c, v in zip(cols, r, strict=True))]
            for i, r in zip(range(1, len(shown) + 1), shown[cols].itertuples(index=False), strict=True)]
    note = (f"First {len(shown):,} of {n:,} trades by entry time; save the run with --save to keep them all."
            if n > len(shown) else f"All {n:,} trades.")
    return f'<p class="note">{esc(note)}</p><div class="scroll">{table(["#", *cols], body)}</div>'


def account(run: RunData) -> tuple[float, float]:
    """(initial cash, bars per year) of ``run``."""
    m = run.meta
    return float(m.get("cash") or run.equity.iloc[0]), float(m.get("ppy") or 0) or periods_per_year(run.equity.index)


def performance_section(run: RunData, held: Result, bh_name: str = "buy & hold") -> Section:
    """The metrics beside ``held``'s (a buy-and-hold Result), equity and drawdown."""
    cash, _ = account(run)
    return Section("Performance", [
        Block(f'<div class="row"><div>{metrics_block(run, held.stats.to_dict(), bh_name)}</div>'
              f'<div style="flex:1;min-width:480px">'),
        Figure("fig-equity", rf.equity_figure(run.equity, held.equity, bh_name=bh_name, band=run.twins_band,
                                              twins=int(run.twins.get("n") or 0))),
        Figure("fig-drawdown", rf.drawdown_figure(analytics.drawdown(run.equity, cash))),
        Block("</div></div>"),
    ], anchor="performance")


def calendar_section(run: RunData, held: Result, bh_name: str = "buy & hold") -> Section:
    """Monthly returns, yearly returns beside ``held``'s, rolling Sharpe and volatility."""
    cash, ppy = account(run)
    equity = run.equity
    window = analytics.rolling_window(ppy, len(equity))
    return Section("Calendar and rolling", [
        Figure("fig-monthly", rf.monthly_figure(analytics.monthly_table(equity, cash))),
        Figure("fig-yearly", rf.yearly_figure(analytics.period_returns(equity, cash, "YE"),
                                              analytics.period_returns(held.equity, cash, "YE"), bh_name)),
        Figure("fig-rolling", rf.rolling_figure(analytics.rolling_sharpe_vol(equity, cash, ppy, window), window)),
    ], anchor="calendar")


def trades_section(run: RunData) -> Section:
    """Trade returns, exit reasons, the worst drawdowns and the trades table."""
    cash, _ = account(run)
    trades = run.trades
    closed = trades[~trades["is_open"]] if len(trades) else trades
    reasons = rf.exit_reason_table(trades)
    worst = analytics.worst_drawdowns(run.equity, cash, 5)
    wdd = [[i + 1, fmt(r.peak), fmt(r.trough), fmt(r.recovery) if pd.notna(r.recovery) else "not recovered",
            fmt(r.depth, "depth"), fmt(r.bars_to_trough, "bars_to_trough"),
            fmt(r.bars_underwater, "bars_underwater")]
           for i, r in enumerate(worst.itertuples(index=False))]
    reason_rows = [[r.reason, fmt(r.trades), fmt(r.share, "share"), fmt(r.win_rate, "win_rate"),
                    fmt(r.mean_return, "mean_return"), fmt(r.pnl)] for r in reasons.itertuples(index=False)]
    return Section("Trades", [
        Figure("fig-trade-returns", rf.trade_returns_figure(closed["return"].to_numpy() if len(closed) else [])),
        Block(table(["reason", "trades", "share", "win rate", "mean return", "pnl"], reason_rows,
                    caption="Exit-reason breakdown") if reason_rows else '<p class="note">No trades to break down '
              "by exit reason.</p>"),
        Figure("fig-exit-reasons", rf.exit_reason_figure(reasons)),
        Block(table(["#", "peak", "trough", "recovery", "depth", "bars to trough", "bars under water"], wdd,
                    caption="Worst five drawdowns") if wdd else '<p class="note">No drawdown: the equity never fell '
              "below a peak.</p>"),
        Block(trades_block(trades)),
    ], anchor="trades")
