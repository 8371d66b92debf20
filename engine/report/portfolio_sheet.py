"""The portfolio tearsheet of a plugin over a universe: the first group's equity
against an equal-weight buy-and-hold of the universe (``analytics.universe_buy_and_hold``),
each asset's contribution, weights over time, a per-asset table, the correlation of
asset returns, gross exposure and leverage, liquidations and funding when there are
any, the calendar, the trades and each asset's model metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlbt.report import analytics
from mlbt.report import portfolio_figures as pf
from mlbt.report.formatting import fmt
from mlbt.report.html import Block, Figure, Section, esc, table
from mlbt.report.rundata import RunData
from mlbt.report.sheet_blocks import account, calendar_section, performance_section, trades_section

BH_NAME = "equal-weight buy & hold"


def portfolio_frames(run: RunData) -> dict[str, pd.DataFrame | pd.Series]:
    """The shown group's per-asset series: ``value`` and ``weight`` (a column per asset,
    at each close), ``gross`` exposure (sum of |value|) and ``leverage`` (gross /
    equity), per bar; ``contribution`` per asset; ``liquidations``: the group's
    liquidation fills (``PortfolioResult.orders`` rows)."""
    result, cols = run.result, run.portfolio_columns()
    names = pd.Index([str(a) for a in result.asset_of.take(cols)], name="asset")
    value = result.value.iloc[:, cols].set_axis(names, axis=1)
    weight = result.weight.iloc[:, cols].set_axis(names, axis=1)
    gross = value.abs().sum(axis=1)
    orders = result.orders
    liquidations = orders[(orders["group"] == result.groups[0]) & (orders["reason"] == "liquidation")] \
        if len(orders) else orders
    return {"value": value, "weight": weight, "gross": gross, "leverage": gross / run.equity,
            "contribution": result.contributions.iloc[cols].set_axis(names), "liquidations": liquidations}


def asset_table(run: RunData, frames: dict) -> tuple[list[str], list[list[str]]]:
    """One row per asset: listing, its own buy-and-hold return, contribution, trades,
    win rate, time held, mean |weight|, funding and borrow paid, liquidations."""
    trades, close = run.trades, run.close
    liquidated = frames["liquidations"]["asset"].astype(str).value_counts()
    rows = []
    for asset in frames["weight"].columns:
        c = close[asset].dropna() if asset in close.columns else pd.Series(dtype="float64")
        own = trades[trades["asset"].astype(str) == asset] if len(trades) else trades
        done = own[~own["is_open"]] if len(own) else own
        w = frames["weight"][asset].to_numpy(dtype="float64")
        rows.append([
            asset, fmt(c.index[0]) if len(c) else "never", fmt(len(c)),
            fmt(float(c.iloc[-1] / c.iloc[0] - 1.0) if len(c) else float("nan"), "total_return"),
            fmt(float(frames["contribution"][asset]), "total_return"), fmt(len(own)),
            fmt(float((done["pnl"] > 0).mean()) if len(done) else float("nan"), "win_rate"),
            fmt(float(np.mean(np.nan_to_num(w) != 0.0)), "exposure"),
            fmt(float(np.nanmean(np.abs(w))) if np.isfinite(w).any() else float("nan"), "exposure"),
            fmt(float(own["funding"].sum()) if len(own) else 0.0), fmt(int(liquidated.get(asset, 0))),
        ])
    head = ["asset", "first bar", "bars", "buy & hold", "contribution", "trades", "win rate", "time held",
            "mean |weight|", "funding + borrow", "liquidations"]
    return head, rows


def _carry_section(run: RunData, frames: dict) -> Section | None:
    """Liquidations and carrying costs, only when the run had any."""
    shown = frames["liquidations"]
    trades = run.trades
    carried = trades.groupby(trades["asset"].astype(str))["funding"].sum() if len(trades) else pd.Series()
    carried = carried.reindex(frames["weight"].columns, fill_value=0.0)
    funding, borrow = run.stats.get("funding_paid", 0.0), run.stats.get("borrow_paid", 0.0)
    if not len(shown) and not carried.abs().sum() and not funding and not borrow:
        return None
    items: list = [Block(f'<p class="note">{esc(f"Funding paid {fmt(funding)}, borrow paid {fmt(borrow)}; ")}'
                         f'{esc(f"{len(shown):,} liquidation fills.")}</p>')]
    if carried.abs().sum():
        items.append(Figure("fig-carry", pf.carry_figure(carried)))
    if len(shown):
        rows = [[fmt(r.time), r.asset, r.side, fmt(r.size), fmt(r.price), fmt(r.fee)]
                for r in shown.itertuples(index=False)]
        items.append(Block(table(["time", "asset", "side", "units", "price", "fee"], rows, caption="Liquidations")))
    return Section("Liquidations and funding", items, anchor="carry")


SKILL_COLUMNS = (("test", ""), ("baseline", ""), ("statistic", "change_correlation"), ("p_value", ""), ("verdict", ""))


def _model_section(run: RunData) -> Section | None:
    """Each asset's out-of-sample model metrics, a row per asset."""
    if not run.ml:
        return None
    keys = list(dict.fromkeys(k for m in run.ml.values() for k, v in m.items() if not isinstance(v, dict)))
    rows = [[asset, *(fmt(m.get(k), k) for k in keys)] for asset, m in run.ml.items()]
    flat = run.meta.get("flat_assets") or []
    note = f"Flat (no walk-forward fold on their bars): {', '.join(flat)}." if flat else ""
    note = f'<p class="note">{esc(note)}</p>' if note else ""
    blocks = [Block(table(["asset", *keys], rows, cls="metrics") + note)]
    skill = [[asset, *(fmt(m["skill"].get(k), u) for k, u in SKILL_COLUMNS)] for asset, m in run.ml.items()
             if isinstance(m.get("skill"), dict)]  # mlbt.models.skill: each model against its naive baseline
    if skill:
        blocks.append(Block(table(["asset", "test", "baseline", "statistic", "p-value", "verdict"], skill,
                                  cls="metrics", caption="Is it skill?")))
    return Section("Models (out of sample, one per asset)", blocks, anchor="model")


def portfolio_sections(run: RunData) -> list[Section]:
    """The portfolio tearsheet's sections for ``run`` (a universe's RunData)."""
    cash, ppy = account(run)
    held = analytics.universe_buy_and_hold(run.close, cash, ppy)
    frames = portfolio_frames(run)
    head, rows = asset_table(run, frames)
    returns = run.close.pct_change(fill_method=None)
    assets = Section("Assets", [
        Figure("fig-contribution", pf.contribution_figure(frames["contribution"])),
        Block(f'<div class="scroll">{table(head, rows, caption="Per asset (the first group)")}</div>'),
        Figure("fig-correlation", pf.correlation_figure(returns.corr())),
    ], anchor="assets")
    exposure = Section("Weights and exposure", [
        Figure("fig-weights", pf.weights_figure(frames["weight"])),
        Figure("fig-exposure", pf.exposure_figure(frames["gross"], frames["leverage"])),
    ], anchor="exposure")
    sections = [performance_section(run, held, BH_NAME), assets, exposure]
    sections += [s for s in (_carry_section(run, frames),) if s is not None]
    sections += [calendar_section(run, held, BH_NAME), trades_section(run)]
    sections += [s for s in (_model_section(run),) if s is not None]
    return sections
