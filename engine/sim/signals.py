"""Signals: what a strategy hands the engine."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pandas as pd


@dataclass
class Signals:
    """Target positions and per-trade settings for T bars x N columns.

    target: +1 long, -1 short, 0 flat, NaN keep the current position. Row t is the
        decision taken with data up to and including bar t's close (it fills at bar
        t+1's open by default). A DataFrame (T x N, columns naming parameter
        combinations or assets), a Series (one column) or an array.
    size: fraction of current equity committed on entry, in (0, leverage]; read at the
        entry's decision bar.
    sl, tp: stop-loss and take-profit distances as fractions of the entry fill
        price (0.02 = 2%); NaN means no stop. Read at the entry's decision bar, so a
        per-bar array gives each trade its own stops.
    trail: trailing stop distance (fraction of the best price since entry), or
        True to make ``sl`` trailing.
    max_hold: close at the first fill after this many bars in the trade.
    leverage, mmr: the exposure cap and maintenance margin rate of each entry (read at
        its decision bar); funding_rate, borrow_rate: carrying costs per bar;
        rebalance_drift: the drift that rebalances a target weight, per bar (see
        ``mlbt.settings`` for each).
    reentry: how a repeated target reads after a forced exit (stop, max_hold). False:
        the engine enters only on a change of the forward-filled target, so a target
        that stays +1 does not re-enter (execution rule 2). True: every bar with an
        explicit +1/-1 is an entry signal, so a flat position re-enters at that bar's
        fill; emit +1/-1 on signal bars and NaN (keep) elsewhere. One bool for all
        columns.

    Each optional field is a scalar, a per-column Series/array (N,), a per-bar
    Series (T,), or a T x N frame (``reentry`` is a plain bool); unset (None) fields take backtest()'s keywords.
    """

    target: Any
    size: Any = None
    sl: Any = None
    tp: Any = None
    trail: Any = None
    max_hold: Any = None
    leverage: Any = None
    mmr: Any = None
    funding_rate: Any = None
    borrow_rate: Any = None
    rebalance_drift: Any = None
    reentry: bool | None = None

    @property
    def columns(self) -> pd.Index:
        """Column index of the target (a RangeIndex for arrays)."""
        t = self.target
        if isinstance(t, pd.DataFrame):
            return t.columns
        if isinstance(t, pd.Series):
            return pd.Index([t.name if t.name is not None else 0])
        ndim = getattr(t, "ndim", 1)
        return pd.RangeIndex(t.shape[1] if ndim == 2 else 1)

    def settings(self) -> dict[str, Any]:
        """The engine settings a Signals may set, by name (None where unset): every
        field but ``target`` and ``reentry``."""
        return {name: getattr(self, name) for name in SETTING_FIELDS}

    def __repr__(self) -> str:
        shape = getattr(self.target, "shape", None)
        set_ = [f.name for f in fields(self)[1:] if getattr(self, f.name) is not None]
        return f"Signals(target={shape}, set={set_})"



#: The Signals fields that are engine settings (``mlbt.settings``), in declaration order.
SETTING_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Signals) if f.name not in ("target", "reentry"))
