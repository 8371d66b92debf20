"""Explicit repairs, applied only when the caller asks (``repair=`` in mlbt.load)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlbt.data.errors import DataError
from mlbt.data.validate import spacing, trades_weekends

REPAIRS = ("duplicates", "gaps")


def drop_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the last row of each duplicated timestamp (the latest revision in an
    append-only export). ``frame`` must be sorted by a stable sort."""
    return frame[~frame.index.duplicated(keep="last")]


def fill_gaps(bars: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Insert the missing bars of a regular series as flat bars: open = high = low =
    close = the previous close, volume 0, extra columns carried forward. A market that
    trades every day is filled on its full step grid; a daily session market on the
    weekday grid (so holidays get flat bars too). Intraday session data is refused:
    where its sessions start and end is not knowable from the bars."""
    step = spacing(bars.index)
    if step is None:
        return bars
    if trades_weekends(bars.index):
        grid = pd.date_range(bars.index[0], bars.index[-1], freq=step)
    elif step == pd.Timedelta(days=1):
        grid = pd.bdate_range(bars.index[0], bars.index[-1])
    else:
        raise DataError(f"{source}: gap filling needs a market that trades every day or a daily series; "
                        f"this {step} series has no weekend bars, so its session times are unknown")
    grid = grid.union(bars.index).as_unit("ns").rename(bars.index.name)
    out = bars.reindex(grid)
    missing = out["close"].isna().to_numpy()
    if not missing.any():
        return bars
    prev_close = out["close"].ffill()
    for c in ("open", "high", "low", "close"):
        out[c] = out[c].where(~missing, prev_close)
    out["volume"] = out["volume"].fillna(0.0)
    extras = [c for c in out.columns if c not in ("open", "high", "low", "close", "volume")]
    if extras:
        out[extras] = out[extras].ffill()
    out.attrs = dict(bars.attrs, filled_bars=int(np.sum(missing)))
    return out
