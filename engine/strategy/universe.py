"""A plugin over a universe: its own rule per asset, on that asset's features and
walk-forward predictions, and the assets' signals as one set of engine columns
(params..., asset) for the shared-cash engine, with an allocation of group equity.

Allocations (``ALLOCATIONS``) scale each entry's size (the plugin's, else the engine's),
or, with ``size_type="target_weight"``, the target weight itself:

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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlbt.data.universe import asset_bars, assets, is_universe
from mlbt.settings import DEFAULTS
from mlbt.sim import Signals
from mlbt.strategy.base import Context, Grid, Strategy
from mlbt.strategy.cross_section import (
    CrossContext,
    check_cross,
    combo_asset_columns,
    cross_signals,
    is_cross_sectional,
)
from mlbt.strategy.pipeline import NoFoldError, Prepared, make_signals, prepare
from mlbt.strategy.pooled import is_pooled, prepare_pooled

log = logging.getLogger(__name__)

ALLOCATIONS = ("equal", "inverse_vol", "plugin")
VOL_WINDOW = 20  # bars of returns behind an inverse-volatility share


def prepare_assets(strategy: Strategy, bars: pd.DataFrame, **options: Any) -> dict[str, Prepared | None]:
    """``prepare`` (features, walk-forward predictions, cached by content) for each asset
    of universe ``bars`` on the bars it has. An asset whose history gives the model no
    walk-forward fold is None: it stays flat, and the run logs one line for it. When
    no asset has a fold, the first asset's NoFoldError is raised (nothing would trade).
    A plugin that declares ``pooled`` gets one model over every asset instead
    (``mlbt.strategy.pooled``)."""
    if is_pooled(strategy):  # one model over every asset's windows, a declared choice
        return prepare_pooled(strategy, bars, **options)
    out: dict[str, Prepared | None] = {}
    short: dict[str, tuple[int, NoFoldError]] = {}
    for asset in assets(bars):
        own = asset_bars(bars, asset)
        try:
            out[asset] = prepare(strategy, own, **options)
        except NoFoldError as exc:
            out[asset], short[asset] = None, (len(own), exc)
    if short and len(short) == len(out):
        asset, (_, first) = next(iter(short.items()))
        raise NoFoldError(f"no asset of the universe has a walk-forward fold; {asset}: {first}") from first
    for asset, (n, _) in short.items():
        log.warning("%s: asset %s stays flat: its %s bars give the model no walk-forward fold (min_train = %s)",
                    strategy.name, asset, f"{n:,}", f"{strategy.walk_forward().min_train:,}")
    return out


@dataclass
class UniverseContext:
    """What a plugin over a universe runs on: the universe's ``bars``, each asset's
    Prepared (None: flat, no walk-forward fold) and the ``allocation`` of group equity."""

    bars: pd.DataFrame
    prepared: dict[str, Prepared | None]
    allocation: str = "equal"


def prepare_context(strategy: Strategy, bars: pd.DataFrame, *, allocation: str = "equal",
                    **options: Any) -> Context | UniverseContext:
    """``prepare(...).ctx`` for one instrument; for universe bars ((field, asset)
    columns) a UniverseContext of ``prepare_assets``. ``options``: ``prepare``'s."""
    if not is_universe(bars):
        return prepare(strategy, bars, **options).ctx
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation {allocation!r}: choose one of {', '.join(ALLOCATIONS)}")
    return UniverseContext(bars, prepare_assets(strategy, bars, **options), allocation)


def universe_signals(strategy: Strategy, bars: pd.DataFrame, prepared: Mapping[Any, Prepared | None],
                     grid: Grid | None = None, allocation: str = "equal",
                     engine: Mapping[str, Any] | None = None, labels: pd.Index | None = None) -> Signals:
    """The plugin's signals for every asset of universe ``bars``: target columns
    (params..., asset), each combination's assets side by side, on the universe's
    bars (NaN, keep, where an asset has no bar; 0 for an asset that stays flat). A
    field the rule sets becomes a (bars, columns) frame, holding the ``engine``'s
    value (``backtest()`` keywords; default the engine defaults) wherever an asset
    has none (no bar, flat, or not set by the rule); ``trail=True``/``False`` stays a
    flag, the same for every asset. The allocation scales each entry's size, or the
    target itself where ``engine["size_type"]`` (one choice, or one per column) is
    ``target_weight``.
    ``labels``: one label per combination in place of the grid's columns (a sweep
    numbers them, so that combinations alike in their signal params stay apart).
    A cross-sectional plugin (``weights``, ``mlbt.strategy.cross_section``) returns
    its target weights instead: the allocation does not apply to them."""
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation {allocation!r}: choose one of {', '.join(ALLOCATIONS)}")
    names = assets(bars)
    if not names:
        raise ValueError("universe_signals needs bars with (field, asset) columns (load(..., symbols=...))")
    grid = grid or strategy.grid()
    engine = {**DEFAULTS, **(engine or {})}
    if is_cross_sectional(strategy):
        check_cross(strategy, bars, engine["size_type"])
        contexts = {a: (p.ctx if p is not None else None) for a, p in prepared.items()}
        return cross_signals(strategy, CrossContext(bars, contexts), grid, labels)
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
    columns = combo_asset_columns(grid.columns if labels is None else labels, names)
    target = np.full((len(index), n * len(names)), np.nan)
    for a, asset in enumerate(names):
        own = per_asset[asset].target
        target[:, a::len(names)] = own.reindex(index).to_numpy(dtype="float64")
    fields = _merged_fields(strategy, per_asset, index, n, columns, engine)
    share = allocation_shares(bars, allocation)
    if share is not None:
        tiled = np.tile(share, (1, n))
        # size_type: one choice, or one per column (a sweep of it); a target weight is scaled itself
        weights = np.broadcast_to(np.asarray(engine["size_type"], dtype=object) == "target_weight", (target.shape[1],))
        target = np.where(weights[None, :], target * tiled, target)
        if not weights.all():
            own_size = fields.get("size")
            base = own_size.to_numpy() if own_size is not None else np.full(target.shape, float(engine["size"]))
            fields["size"] = pd.DataFrame(base * np.where(weights[None, :], 1.0, tiled), index=index,
                                          columns=columns)
    return Signals(pd.DataFrame(target, index=index, columns=columns), **fields,
                   reentry=reentry.pop() if reentry else None)


def _merged_fields(strategy: Strategy, per_asset: Mapping[Any, Signals], index: pd.Index, n: int,
                   columns: pd.MultiIndex, engine: Mapping[str, Any]) -> dict[str, Any]:
    """The Signals fields the assets' rules set, as (bars, columns) frames on the
    universe's bars with the ``engine``'s value where an asset has none; a flag stays
    one flag."""
    names = list(per_asset)
    fields: dict[str, Any] = {}
    for name in Signals(np.zeros((1, 1))).settings():
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
    return fields


def resolve_allocation(strategy: Strategy, given: str | None) -> str:
    """The allocation of a run: ``given``, else ``equal``; ``plugin`` for a
    cross-sectional plugin, whose weights are its allocation (ValueError when another
    is given)."""
    if is_cross_sectional(strategy):
        if given not in (None, "plugin"):
            raise ValueError(f"--allocation {given}: {strategy.name}'s weights() are its allocation; drop --allocation")
        return "plugin"
    if given is not None and given not in ALLOCATIONS:
        raise ValueError(f"allocation {given!r}: choose one of {', '.join(ALLOCATIONS)}")
    return given or "equal"


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
