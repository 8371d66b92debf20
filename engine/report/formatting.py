"""How a number reads, for every table a person reads: ``bt run``, ``bt sweep``, ``bt
report`` and the tearsheets. Machine output (``--json``, saved runs) keeps the raw
values: fractions, bars, null.

The rules, by unit (a metric's unit is declared beside its definition,
``mlbt.sim.STAT_UNITS``; other columns' units are below):

- a fraction (returns, drawdowns, exposure, win rate) in percent with 2 decimals;
- a count as a whole number with thousands separators;
- a duration in bars as time and bars, ``91 days 4 h (2,188 bars)``, the time being
  bars x the bar spacing (trading time, for a market that closes), or bars alone when
  the spacing is unknown;
- currency with thousands separators and 2 decimals;
- a ratio with 2 decimals, 3 below 1 in size, none from 1,000;
- a flag as yes/no, a bar number as its timestamp when the index is known;
- an undefined value (NaN, None) as ``-``; ``undefined_reason`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd

from mlbt.sim import STAT_GROUPS, STAT_UNITS

#: Units of the other columns and keys the reports show (trades, drawdowns, sweeps, funnels).
COLUMN_UNITS = {
    "return": "fraction", "share": "fraction", "mean_return": "fraction", "depth": "fraction",
    "threshold_crossed": "fraction", "direction_acc": "fraction", "buy_share": "fraction",
    "traded_share": "fraction", "mean_confidence": "fraction", "trades": "count", "bars_held": "bars",
    "bars_to_trough": "bars", "bars_underwater": "bars", "bars": "count", "predicted_bars": "count",
    "epochs": "count", "combo": "count", "trials": "count", "observations": "count", "fold": "count",
    "pnl": "currency", "fees": "currency", "cash": "currency", "mae": "number", "mse": "number",
    "change_correlation": "ratio", "roc_auc": "ratio", "log_loss": "ratio",
}
#: ML metrics named ``*accuracy`` or ``*_share`` are fractions too (the plugins' own keys).
FRACTION_SUFFIXES = ("accuracy", "_share")


def unit_of(key: str) -> str:
    """The unit ``key`` is formatted by ('' when unknown: then by the value's type)."""
    unit = STAT_UNITS.get(key) or COLUMN_UNITS.get(key)
    if unit:
        return unit
    return "fraction" if key.endswith(FRACTION_SUFFIXES) else ""


def bar_spacing(index: pd.Index) -> pd.Timedelta | None:
    """The median spacing of a DatetimeIndex (one bar's time), None for other indexes."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return None
    step = pd.Series(index[1:] - index[:-1]).median()
    return step if pd.notna(step) and step > pd.Timedelta(0) else None


_UNITS = (("days", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def duration(seconds: float) -> str:
    """``seconds`` as its largest nonzero unit and the next one when nonzero (truncated):
    '91 days 4 h', '3 h 12 min', '45 s'."""
    counts = []
    left = round(seconds)
    for name, size in _UNITS:
        n, left = divmod(left, size)
        counts.append((n, "day" if name == "days" and n == 1 else name))
    first = next((i for i, (n, _) in enumerate(counts) if n), len(counts) - 1)
    shown = [c for c in counts[first:first + 2] if c[0]] or [counts[-1]]
    return " ".join(f"{n:,} {name}" for n, name in shown)


def _bars(value: float, bar: pd.Timedelta | None) -> str:
    count = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    unit = "bar" if value == 1 else "bars"
    if bar is None or value == 0:
        return f"{count} {unit}"
    return f"{duration(value * bar.total_seconds())} ({count} {unit})"


def _ratio(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3f}"


_BY_UNIT = {
    "fraction": lambda v: f"{v:,.2%}",
    "count": lambda v: f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}",
    "currency": lambda v: f"{v:,.2f}",
    "ratio": lambda v: _ratio(float(v)),
    "flag": lambda v: "yes" if v else "no",
}


def fmt(value: Any, key: str = "", *, bar: pd.Timedelta | None = None, index: pd.Index | None = None) -> str:
    """One cell: ``value`` formatted by ``key``'s unit (see the module docstring).
    ``bar``: one bar's time, for durations; ``index``: the bars, for a bar number."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return "-" if pd.isna(value) else str(value)
    if isinstance(value, bool):
        return str(value)
    if not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    unit = unit_of(key)
    if unit == "bars":
        return _bars(float(value), bar)
    if unit == "bar":
        at = int(value)
        return str(index[at]) if index is not None and 0 <= at < len(index) else f"bar {at:,}"
    if unit in _BY_UNIT:
        return _BY_UNIT[unit](value)
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1e5:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else (f"{value:.4f}" if abs(value) >= 1e-3 or value == 0
                                                    else f"{value:.3e}")


def is_undefined(v: Any) -> bool:
    """None or NaN: a value a table shows as '-'."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def param_text(v: Any) -> str:
    """A param's value as given: a float in its shortest form, NaN as 'none' (off)."""
    if hasattr(v, "item") and not isinstance(v, str):
        v = v.item()
    if isinstance(v, float):
        return "none" if math.isnan(v) else f"{v:g}"
    return str(v)


def undefined_reason(key: str, stats: Mapping[str, Any]) -> str:
    """Why the metric ``key`` of a run whose metrics are ``stats`` is undefined (call it
    for a NaN value): a few words a reader acts on."""
    closed = float(stats.get("trades") or 0) - float(stats.get("open_trades") or 0)
    flat = not (float(stats.get("ann_volatility") or 0) > 0)
    if key == "bankrupt_bar":
        return "never bankrupt"
    if key in ("sharpe", "sortino", "omega", "skew", "kurtosis", "psr") and flat:
        return "the equity never moved" if float(stats.get("trades") or 0) == 0 else "the bar returns never varied"
    if key in ("sortino", "omega"):
        return "no losing bar"
    if key == "calmar":
        return "no drawdown"
    if key in ("win_rate", "expectancy", "best_trade", "worst_trade", "avg_bars_held") or closed <= 0:
        return "no closed trade"
    if key == "avg_win":
        return "no winning trade"
    if key in ("avg_loss", "profit_factor"):
        return "no losing trade"
    return "undefined for this run"


class Row(NamedTuple):
    """One metric as a table shows it."""

    key: str
    text: str
    reason: str  # why the value is undefined ('' when it is defined)


def metric_groups(stats: Mapping[str, Any], *, bar: pd.Timedelta | None = None,
                  index: pd.Index | None = None) -> list[tuple[str, list[Row]]]:
    """The trading metrics in the groups a reader scans (``mlbt.sim.STAT_GROUPS``),
    formatted; a metric missing from ``stats`` is left out."""
    groups = []
    for name, keys in STAT_GROUPS:
        rows = [Row(k, fmt(stats[k], k, bar=bar, index=index),
                    undefined_reason(k, stats) if is_undefined(stats[k]) else "") for k in keys if k in stats]
        if rows:
            groups.append((name, rows))
    return groups


def undefined(stats: Mapping[str, Any]) -> dict[str, str]:
    """{metric: why it is undefined} for every NaN metric of ``stats``."""
    return {k: undefined_reason(k, stats) for k, v in stats.items() if k in STAT_UNITS and is_undefined(v)}
