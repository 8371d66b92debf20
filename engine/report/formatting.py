"""Table cells of the reports: percentages for return-like keys, counts as whole
numbers, '-' for a missing value."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

#: Metrics where a percentage reads better than a fraction.
PERCENT = {"total_return", "cagr", "ann_volatility", "max_drawdown", "win_rate", "exposure", "avg_win", "avg_loss",
           "best_trade", "worst_trade", "buy_hold_return", "threshold_crossed", "direction_accuracy", "return",
           "share", "mean_return", "depth", "direction_acc"}
#: Keys whose float values are whole counts.
COUNTS = {"trades", "open_trades", "max_dd_duration", "bars_held", "bars_to_trough", "bars_underwater", "bars",
          "predicted_bars", "epochs", "combo", "trials", "observations", "fold"}


def fmt(value: Any, key: str = "") -> str:
    """A table cell: percentages for return-like keys, 4 significant decimals for
    other floats, thousands separators for large numbers and counts, '-' for NaN/None."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return "-" if pd.isna(value) else str(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if key in COUNTS and value.is_integer():
            return f"{int(value):,}"
        if key in PERCENT:
            return f"{value:.2%}"
        if abs(value) >= 1e5:
            return f"{value:,.0f}"
        return f"{value:,.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return str(value)
