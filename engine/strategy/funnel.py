"""Signal funnel: how many bars survive each condition of a strategy's signal rule.

The seed systems reported signal statistics next to their backtests; a rule of eight
filters that never fires is otherwise a silent zero-trade result. The funnel runs the
rule's own conditions (``Strategy.conditions``) at the strategy's own param values and
counts, per side, the bars on which every condition so far holds.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from mlbt.strategy.base import Context, Strategy


def signal_funnel(strategy: Strategy, ctx: Context) -> dict[str, Any]:
    """``{"bars": T, "long": [{"condition", "alone", "left"}, ...], "short": [...]}`` for
    the strategy's own values (one column): ``alone`` counts the bars on which the
    condition holds, ``left`` those on which it and every condition before it hold;
    ``{}`` when the strategy declares no conditions."""
    sides = strategy.conditions(ctx, strategy.grid())
    if not sides:
        return {}
    T = len(ctx.bars)
    out: dict[str, Any] = {"bars": T}
    for side, steps in sides.items():
        alive = np.ones((T, 1), dtype=bool)
        rows = []
        for name, mask in steps:
            m = np.asarray(mask, dtype=bool)
            m = m.reshape(-1, 1) if m.ndim == 1 else m[:, :1]  # one grid column: the first counts
            m = np.broadcast_to(m, (T, 1))
            alive = alive & m
            rows.append({"condition": name, "alone": int(m.sum()), "left": int(alive.sum())})
        out[side] = rows
    return out


def merged_funnel(funnels: list[dict[str, Any]]) -> dict[str, Any]:
    """The funnels of a universe's assets as one: bars and counts summed over assets
    (asset-bars), conditions matched by side and position; ``{}`` when none has any."""
    funnels = [f for f in funnels if f]
    if not funnels:
        return {}
    out: dict[str, Any] = {"bars": sum(f["bars"] for f in funnels)}
    for side in (k for k in funnels[0] if k != "bars"):
        out[side] = [{"condition": row["condition"], "alone": sum(f[side][i]["alone"] for f in funnels),
                      "left": sum(f[side][i]["left"] for f in funnels)} for i, row in enumerate(funnels[0][side])]
    return out


def funnel_lines(funnel: dict[str, Any]) -> list[str]:
    """The funnel as a text table: per side the condition, the bars it passes alone and
    the bars left after it and every condition above it."""
    sides = [k for k in funnel if k != "bars"]
    if not sides:
        return []
    cells = {k: [(r["condition"], f"{r['alone']:,}", f"{r['left']:,}") for r in funnel[k]] for k in sides}
    w = {k: [max(len(h), *(len(row[j]) for row in cells[k])) for j, h in enumerate((k, "alone", "left"))]
         for k in sides}

    def fmt(k: str, row: tuple[str, str, str]) -> str:
        return f"{row[0].ljust(w[k][0])}  {row[1].rjust(w[k][1])}  {row[2].rjust(w[k][2])}"

    lines = [f"signal funnel, bars of {funnel['bars']:,} (left: this condition and every one above it hold):"]
    lines.append("  " + "   ".join(fmt(k, (k, "alone", "left")) for k in sides).rstrip())
    for i in range(max(len(v) for v in cells.values())):
        row = [fmt(k, cells[k][i] if i < len(cells[k]) else ("", "", "")) for k in sides]
        lines.append(("  " + "   ".join(row)).rstrip())
    return lines


FEW_TRADES = 10  # below this many trades a run says so, and what blocks it


def few_trades_notes(strategy: Strategy, trades: int, funnel: dict[str, Any], plugin: str,
                     bars: str = "bars") -> list[str]:
    """One line when a run made fewer than ``FEW_TRADES`` trades: how many, and, when
    the plugin declares conditions, the one that holds on the fewest bars (it blocks
    most) with a ``bt sweep`` of the first signal param its name mentions, from the
    param's low end to twice its value (or its high end) in 10 steps; [] otherwise.
    ``bars``: what the funnel counts ("asset-bars" for a universe's merged funnel)."""
    if trades >= FEW_TRADES:
        return []
    head = f"{trades} trade{'s' if trades != 1 else ''}: too few to judge the strategy (fewer than {FEW_TRADES})"
    rows = [(side, r) for side in funnel if side != "bars" for r in funnel[side]]
    if not rows:
        return [f"{head}; loosen its params or give it more data"]
    side, row = min(rows, key=lambda x: x[1]["alone"])
    where = (f"{head}. The {side} condition '{row['condition']}' blocks most: it holds on {row['alone']:,} of "
             f"{funnel['bars']:,} {bars}")
    names = [n for n in strategy.signal_params if re.search(rf"\b{re.escape(n)}\b", row["condition"])]
    bounds = strategy.params[names[0]] if names else None
    if bounds is None or bounds.low is None or not isinstance(strategy.values[names[0]], int | float):
        return [f"{where}; loosen it"]
    name, value, low = names[0], float(strategy.values[names[0]]), float(bounds.low)
    top = float(bounds.high) if bounds.high is not None else max(2 * value, low + 1)
    high = min(top, 2 * value) if value > low else top
    step = (high - low) / 10
    if step <= 0:
        return [f"{where}; loosen it"]
    return [f"{where}; explore it with: bt sweep {plugin} --grid {name}={low:g}:{high:g}:{step:g}"]


def bankrupt_notes(stats: dict[str, Any], index: pd.Index) -> list[str]:
    """One line when the run went bankrupt (execution rule 11): when, and the equity it
    ended with (below zero when a bar gapped through it); [] otherwise."""
    if not stats.get("bankrupt"):
        return []
    raw = stats.get("bankrupt_bar")
    bar = math.nan if raw is None else float(raw)
    at = int(bar) if math.isfinite(bar) else -1
    when = f"{index[at]} (bar {at:,})" if 0 <= at < len(index) else "an unknown bar"
    return [f"bankrupt at {when}: the equity reached zero and every position was closed; it "
            f"ended at {float(stats['final_equity']):,.2f} (below zero when a bar gapped through it). Lower the "
            "size or the leverage, or add a stop (--sl)"]

