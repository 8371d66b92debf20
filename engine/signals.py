"""Signals: what a strategy hands the engine."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Signals:
    """Target positions and per-trade settings for T bars x N columns.

    target: +1 long, -1 short, 0 flat, NaN keep the current position. Row t is the
        decision taken with data up to and including bar t's close (it fills at bar
        t+1's open by default). A DataFrame (T x N, columns naming parameter
        combinations or assets), a Series (one column) or an array.
    size: fraction of current equity committed on entry, in (0, 1]; read at the
        entry's decision bar.
    sl, tp: stop-loss and take-profit distances as fractions of the entry fill
        price (0.02 = 2%); NaN means no stop. Read at the entry's decision bar, so a
        per-bar array gives each trade its own stops.
    trail: trailing stop distance (fraction of the best price since entry), or
        True to make ``sl`` trailing.
    max_hold: close at the first fill after this many bars in the trade.

    Each optional field is a scalar, a per-column Series/array (N,), a per-bar
    Series (T,), or a T x N frame; unset (None) fields take backtest()'s keywords.
    """

    target: Any
    size: Any = None
    sl: Any = None
    tp: Any = None
    trail: Any = None
    max_hold: Any = None

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

    def __repr__(self) -> str:
        shape = getattr(self.target, "shape", None)
        set_ = [f.name for f in fields(self)[1:] if getattr(self, f.name) is not None]
        return f"Signals(target={shape}, set={set_})"


def entry_targets(long: np.ndarray, short: np.ndarray, max_hold: Any, exit_on_neutral: Any) -> np.ndarray:
    """Engine targets from entry signals (T x N): the engine opens a trade only on a
    change of the forward-filled target, so emit +1 / -1 where a signal differs from the
    target in force, 0 to re-arm once ``max_hold`` bars have passed since the last entry
    (that trade has ended by then) or on a neutral bar with ``exit_on_neutral``, NaN
    (keep) otherwise."""
    sig = np.where(long, 1.0, np.where(short, -1.0, 0.0))
    hold = np.broadcast_to(max_hold, (1, sig.shape[1]))[0]
    on_neutral = np.broadcast_to(exit_on_neutral, (1, sig.shape[1]))[0].astype(bool)
    out, cur, last = np.full(sig.shape, np.nan), np.zeros(sig.shape[1]), np.zeros(sig.shape[1])
    for t, s in enumerate(sig):
        fresh = (s != 0) & (s != cur)
        rearm = (cur != 0) & ~fresh & ((t - last >= hold) | ((s == 0) & on_neutral))
        out[t] = np.where(fresh, s, np.where(rearm, 0.0, np.nan))
        cur, last = np.where(fresh, s, np.where(rearm, 0.0, cur)), np.where(fresh, t, last)
    return out
