"""The cross-sectional hook: a plugin that defines ``weights(self, ctx, p)`` sees every
asset of a universe at once and returns target weights of group equity.

``ctx`` is a ``CrossContext``: the universe's bars, each asset's own Context (its
features and walk-forward predictions on its own bars) and ``ctx.col(name)``, a
(bars, assets) array of one column across the assets on the universe's bars (NaN where
an asset has no bar, or no such value yet). Row t may use data up to bar t's close
only, as in ``signals``; ``bt check --symbols`` audits it (the ``cross-section``
stage).

``weights`` returns, per bar, the weight of each asset (+ long, - short, 0 flat, NaN
keep the position) for each parameter combination of the Grid ``p``: an array
(bars, assets) when it is the same for every combination, or (bars, assets,
combinations). The engine trades them as target weights (``size_type =
"target_weight"``) with shared cash, a group per combination; their gross sum per bar
may not exceed ``leverage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlbt.data.universe import assets
from mlbt.sim import Signals
from mlbt.strategy.base import Context, Grid, Strategy
from mlbt.strategy.plugins import PluginError, describe, hook_site


@dataclass
class CrossContext:
    """What ``weights`` sees: the universe ``bars`` ((field, asset) columns) and each
    asset's own Context on its own bars (None: flat, no walk-forward fold)."""

    bars: pd.DataFrame
    contexts: Mapping[Any, Context | None]

    @property
    def assets(self) -> list:
        return assets(self.bars)

    @property
    def index(self) -> pd.Index:
        return self.bars.index

    def col(self, name: str) -> np.ndarray:
        """Column ``name`` of each asset's predictions, features or bars (searched in that
        order) as a (bars, assets) float array on the universe's bars: NaN where the
        asset has no bar, is flat, or has no such column."""
        out = np.full((len(self.bars), len(self.assets)), np.nan)
        for a, asset in enumerate(self.assets):
            ctx = self.contexts.get(asset)
            if ctx is None:
                continue
            for frame in (ctx.predictions, ctx.features, ctx.bars):
                if frame is not None and name in frame.columns:
                    out[:, a] = frame[name].reindex(self.bars.index).to_numpy(dtype="float64")
                    break
            else:
                raise KeyError(f"no column {name!r} in asset {asset}'s predictions, features or bars")
        return out


def is_cross_sectional(strategy: Strategy) -> bool:
    """The plugin defines ``weights(ctx, p)``: it decides across the assets at once."""
    return callable(getattr(type(strategy), "weights", None))


def check_cross(strategy: Strategy, bars: pd.DataFrame, size_type: Any) -> None:
    """Before a cross-sectional plugin runs: the bars must be a universe and the targets
    read as weights (``size_type``: one choice, or one per column). ValueError, one
    line saying what to change."""
    if not assets(bars):
        raise ValueError(f"{strategy.name} ranks assets (weights()): run it on a universe, e.g. --symbols all")
    if not np.all(np.asarray(size_type, dtype=object) == "target_weight"):
        raise ValueError(f"{strategy.name}.weights returns target weights: run it with size_type='target_weight' "
                         "(declare size_type = \"target_weight\" in the plugin, or --size-type target_weight)")


def cross_signals(strategy: Strategy, ctx: CrossContext, grid: Grid | None = None,
                  labels: pd.Index | None = None) -> Signals:
    """The plugin's target weights as Signals: columns (params..., asset), each
    combination's assets side by side (``labels``: one label per combination in place
    of the grid's columns). ValueError naming the plugin when the shape is wrong."""
    grid = grid or strategy.grid()
    names, T, n = ctx.assets, len(ctx.bars), len(grid)
    returned = strategy.weights(ctx, grid)
    site = hook_site(strategy, "weights")
    expected = f"(bars, assets) = ({T}, {len(names)}) or (bars, assets, combinations) = ({T}, {len(names)}, {n})"
    if returned is None or isinstance(returned, str | bytes | dict | set):
        raise PluginError(f"{site} returned {describe(returned)}; expected weights of shape {expected}")
    try:
        w = np.asarray(returned, dtype="float64")
    except (TypeError, ValueError) as e:
        raise PluginError(f"{site} returned {describe(returned)} that is not numbers ({e}); expected weights of "
                          f"shape {expected}") from None
    shape = w.shape
    if w.ndim == 2:
        w = w[:, :, None]
    if w.ndim != 3 or w.shape[:2] != (T, len(names)) or w.shape[2] not in (1, n):
        raise PluginError(f"{site} returned shape {shape} ({describe(returned)}); expected {expected}")
    w = np.broadcast_to(w, (T, len(names), n))
    target = np.ascontiguousarray(w.transpose(0, 2, 1)).reshape(T, n * len(names))  # combination-major
    columns = combo_asset_columns(grid.columns if labels is None else labels, names)
    return Signals(pd.DataFrame(target, index=ctx.bars.index, columns=columns))


def combo_asset_columns(combos: pd.Index, names: list) -> pd.MultiIndex:
    """Engine columns (params..., asset) for every combination, its assets side by side."""
    tuples = [(*(c if isinstance(c, tuple) else (c,)), a) for c in combos for a in names]
    levels = list(combos.names) if isinstance(combos, pd.MultiIndex) else [combos.name or "combo"]
    return pd.MultiIndex.from_tuples(tuples, names=[*levels, "asset"])
