"""A plugin over a universe: its own rule per asset, on that asset's features and
walk-forward predictions, and the assets' signals as one set of engine columns
(params..., asset) for the shared-cash engine, with an allocation of group equity.

Allocations (``ALLOCATIONS``) scale each entry's size (the plugin's, else the engine's):

- ``equal``: 1 / the number of assets, so each asset's entry commits an equal share
  of its group's equity (1/3 each for three assets at size 1);
- ``inverse_vol``: in proportion to 1 / each asset's volatility, the standard
  deviation of its last ``VOL_WINDOW`` close-to-close returns on its own bars up to
  the decision bar (so the share is known at that bar's close). An asset without
  that many returns yet (or not listed yet) keeps the equal share 1/n, and the
  assets with a volatility share the rest, so the shares add up to 1;
- ``plugin``: the plugin's own sizes, unscaled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlbt.data.universe import asset_bars, assets
from mlbt.settings import DEFAULTS
from mlbt.sim import Signals
from mlbt.strategy.base import Grid, Strategy
from mlbt.strategy.pipeline import NoFoldError, Prepared, make_signals, prepare

log = logging.getLogger(__name__)

ALLOCATIONS = ("equal", "inverse_vol", "plugin")
VOL_WINDOW = 20  # bars of returns behind an inverse-volatility share


def prepare_assets(strategy: Strategy, bars: pd.DataFrame, **options: Any) -> dict[str, Prepared | None]:
    """``prepare`` (features, walk-forward predictions, cached by content) for each asset
    of universe ``bars`` on the bars it has. An asset whose history gives the model no
    walk-forward fold is None: it stays flat, and the run logs one line for it."""
    out: dict[str, Prepared | None] = {}
    for asset in assets(bars):
        own = asset_bars(bars, asset)
        try:
            out[asset] = prepare(strategy, own, **options)
        except NoFoldError:
            log.warning("%s: asset %s stays flat: its %s bars give the model no walk-forward fold (min_train = %s)",
                        strategy.name, asset, f"{len(own):,}", f"{strategy.walk_forward().min_train:,}")
            out[asset] = None
    return out


def universe_signals(strategy: Strategy, bars: pd.DataFrame, prepared: Mapping[Any, Prepared | None],
                     grid: Grid | None = None, allocation: str = "equal",
                     engine: Mapping[str, Any] | None = None) -> Signals:
    """The plugin's signals for every asset of universe ``bars``: target columns
    (params..., asset), each combination's assets side by side, on the universe's
    bars (NaN, keep, where an asset has no bar; 0 for an asset that stays flat). A
    field the rule sets becomes a (bars, columns) frame, holding the ``engine``'s
    value (``backtest()`` keywords; default the engine defaults) wherever an asset
    has none (no bar, flat, or not set by the rule); ``trail=True``/``False`` stays a
    flag, the same for every asset. The allocation scales each entry's size."""
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation {allocation!r}: choose one of {', '.join(ALLOCATIONS)}")
    names = assets(bars)
    if not names:
        raise ValueError("universe_signals needs bars with (field, asset) columns (load(..., symbols=...))")
    grid = grid or strategy.grid()
    index, n = bars.index, len(grid)
    per_asset: dict[str, Signals] = {}
    for asset in names:
        ready = prepared.get(asset)
        if ready is None:
            per_asset[asset] = Signals(pd.DataFrame(0.0, index=index, columns=grid.columns))
            continue
        per_asset[asset] = make_signals(strategy, ready.ctx, grid)
    reentry = {s.reentry for s in per_asset.values() if s.reentry is not None}
    if len(reentry) > 1:
        raise ValueError(f"{strategy.name}.signals sets reentry differently across assets; make it one value")
    columns = _columns(grid.columns, names)
    target = np.full((len(index), n * len(names)), np.nan)
    for a, asset in enumerate(names):
        own = per_asset[asset].target
        target[:, a::len(names)] = own.reindex(index).to_numpy(dtype="float64")
    engine = {**DEFAULTS, **(engine or {})}
    fields: dict[str, Any] = {}
    for name in Signals(target).settings():
        values = [per_asset[asset].settings()[name] for asset in names]
        if all(v is None for v in values):
            continue
        given = [v for v in values if v is not None]
        flags = {bool(v) for v in given if isinstance(v, bool | np.bool_)}
        if flags:  # a flag (trail=True: sl trails) is one value for the run
            if len(flags) > 1 or not all(isinstance(v, bool | np.bool_) for v in given):
                raise ValueError(f"{strategy.name}.signals sets {name}=True/False differently across assets (or "
                                 "mixes it with distances); make it one value")
            fields[name] = flags.pop()
            continue
        default = engine[name]
        full = np.full((len(index), n * len(names)), np.nan if default is None else float(default))
        for a, (asset, value) in enumerate(zip(names, values, strict=True)):
            if value is not None:
                own = _frame(value, per_asset[asset].target.index, n).reindex(index).to_numpy()
                column = full[:, a::len(names)]
                full[:, a::len(names)] = np.where(np.isnan(own), column, own)
        fields[name] = pd.DataFrame(full, index=index, columns=columns)
    share = allocation_shares(bars, allocation)
    if share is not None:
        own_size = fields.get("size")
        base = own_size.to_numpy() if own_size is not None else np.full(target.shape, float(engine["size"]))
        fields["size"] = pd.DataFrame(base * np.tile(share, (1, n)), index=index, columns=columns)
    return Signals(pd.DataFrame(target, index=index, columns=columns), **fields,
                   reentry=reentry.pop() if reentry else None)


def allocation_shares(bars: pd.DataFrame, allocation: str) -> np.ndarray | None:
    """Each asset's share of group equity per bar, (bars, assets), as known at each
    bar's close; None for ``plugin`` (no scaling)."""
    names = assets(bars)
    if allocation == "plugin":
        return None
    if allocation == "equal":
        return np.full((len(bars), len(names)), 1.0 / len(names))
    n = len(names)
    vol = np.full((len(bars), n), np.nan)
    for a, asset in enumerate(names):  # on the asset's own bars, then held over the bars it lacks
        close = asset_bars(bars, asset)["close"]
        own = close.pct_change(fill_method=None).rolling(VOL_WINDOW, min_periods=VOL_WINDOW).std()
        vol[:, a] = own.reindex(bars.index).ffill().to_numpy() if len(own) else np.nan
    known = vol > 0.0  # (NaN compares False)
    inverse = np.where(known, 1.0 / np.where(known, vol, 1.0), 0.0)
    rest = 1.0 - (n - known.sum(axis=1, keepdims=True)) / n  # what the assets with a volatility share
    total = inverse.sum(axis=1, keepdims=True)
    return np.where(known, rest * inverse / np.where(total > 0.0, total, 1.0), 1.0 / n)


def _columns(combos: pd.Index, names: list[str]) -> pd.MultiIndex:
    """(params..., asset) for every combination, its assets side by side."""
    tuples = [(*(c if isinstance(c, tuple) else (c,)), a) for c in combos for a in names]
    levels = list(combos.names) if isinstance(combos, pd.MultiIndex) else [combos.name or "combo"]
    return pd.MultiIndex.from_tuples(tuples, names=[*levels, "asset"])


def _frame(value: Any, index: pd.Index, n: int) -> pd.DataFrame:
    """A Signals field (scalar, (1, N) or (N,) per column, (T,) per bar, or (T, N)) as a
    (T, N) frame on ``index``."""
    if isinstance(value, pd.DataFrame):
        return pd.DataFrame(np.broadcast_to(value.to_numpy(dtype="float64"), (len(index), n)), index=index)
    if isinstance(value, pd.Series):
        a = value.to_numpy(dtype="float64")
        a = a[:, None] if len(a) == len(index) else a[None, :]
    else:
        a = np.asarray(value, dtype="float64")
        if a.ndim == 1:
            a = a[:, None] if a.shape[0] == len(index) and n != len(index) else a[None, :]
    return pd.DataFrame(np.broadcast_to(a, (len(index), n)), index=index)
