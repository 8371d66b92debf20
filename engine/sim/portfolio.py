"""The pandas layer of shared cash (execution rules 14-16): which columns form a group,
which asset each column trades, the checks only groups need, and the run of the group
kernel (``group_nb``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlbt.sim import group_nb
from mlbt.sim.checks_nb import first_gross_excess_nb
from mlbt.sim.inputs import price_arrays, readonly, where
from mlbt.sim.kernel_nb import entry_bounds_nb
from mlbt.sim.state import ORDER_DTYPE, TRADE_DTYPE, Group, GroupOutputs, Prices, Rules, SettingArrays
from mlbt.sim.stats_nb import N_STATS


def group_codes(columns: pd.Index, group_by: Any, cash_sharing: bool,
                multi_asset: bool = True) -> tuple[np.ndarray, pd.Index]:
    """(the group number of each signal column, the group labels). Without
    ``cash_sharing`` every column is its own group. ``group_by``: None (the parameter
    levels: every level but the last, the asset; one group when the columns have one
    level; every column its own group when the bars have no (field, asset) columns,
    ``multi_asset`` False, as in a sweep of one asset), a level name or a list of them, N labels (one
    per column), or a dict {group label: [column labels]} covering every column.
    ValueError naming the label that matches no column."""
    N = len(columns)
    if not cash_sharing or (group_by is None and not multi_asset):
        return np.arange(N), columns
    if group_by is None:
        if isinstance(columns, pd.MultiIndex) and columns.nlevels > 1:
            labels: pd.Index = columns.droplevel(-1)
        else:
            labels = pd.Index(["all"] * N)
    elif isinstance(group_by, dict):
        position = {label: k for k, label in enumerate(columns)}
        codes = np.full(N, -1)
        for g, (name, members) in enumerate(group_by.items()):
            for member in members:
                if member not in position:
                    raise ValueError(f"group_by[{name!r}]: {member!r} matches no signal column (columns: "
                                     f"{list(columns)[:6]})")
                codes[position[member]] = g
        if (codes < 0).any():
            missing = columns[int(np.argmax(codes < 0))]
            raise ValueError(f"group_by: signal column {missing!r} is in no group; add it to one")
        return codes, pd.Index(list(group_by))
    elif isinstance(group_by, str | int) or (isinstance(group_by, list | tuple) and len(group_by) != N):
        levels = [group_by] if isinstance(group_by, str | int) else list(group_by)
        names = list(columns.names)
        for level in levels:
            if level not in names and not (isinstance(level, int) and 0 <= level < len(names)):
                raise ValueError(f"group_by: {level!r} matches no level of the signal columns (levels: {names}); "
                                 "give level names, or one label per column")
        labels = columns.droplevel([lv for lv in range(len(names)) if lv not in
                                    [names.index(x) if x in names else x for x in levels]]) \
            if len(names) > 1 else columns
    else:
        labels = pd.Index(list(group_by))
        if len(labels) != N:
            raise ValueError(f"group_by: {len(labels)} labels for {N} signal columns; give one label per column")
    codes, uniques = pd.factorize(labels, sort=False)
    return codes.astype(np.int64), pd.Index(uniques, name=getattr(labels, "name", None)) if not isinstance(
        uniques, pd.MultiIndex) else uniques


def asset_prices(bars: pd.DataFrame, columns: pd.Index, scan: Any) -> tuple[tuple[np.ndarray, ...], np.ndarray,
                                                                          pd.Index]:
    """(open, high, low, close) as (T, A) arrays, one column per asset of ``bars``
    ((field, asset) columns; A = 1 for plain ones), the asset row of each signal
    column (its last level, or its label, names a bars asset; by position when no
    label matches and the counts agree), and each signal column's asset label."""
    if isinstance(bars, pd.DataFrame) and isinstance(bars.columns, pd.MultiIndex) and "close" in bars.columns:
        assets = bars["close"].columns
    else:
        assets = pd.Index([None])
    arrays = price_arrays(bars, assets if len(assets) > 1 else pd.RangeIndex(1), scan)
    names = columns.get_level_values(-1) if isinstance(columns, pd.MultiIndex) else columns
    if len(assets) == 1:
        return arrays, np.zeros(len(columns), dtype=np.int64), pd.Index([assets[0]] * len(columns))
    rows = assets.get_indexer(names)
    if (rows < 0).any():
        if len(columns) == len(assets) and (rows < 0).all():
            return arrays, np.arange(len(columns), dtype=np.int64), assets
        missing = names[int(np.argmax(rows < 0))]
        raise ValueError(f"signals: column asset {missing!r} is not an asset of the bars (assets: "
                         f"{list(assets)[:6]}); name each signal column's last level after a bars asset")
    return arrays, rows.astype(np.int64), pd.Index(names)


def check_gross_weights(target: np.ndarray, leverage: np.ndarray, cols: np.ndarray, start: np.ndarray,
                        index: pd.Index, groups: pd.Index) -> None:
    """ValueError at the first bar where a group's target weights (NaN: the last one
    kept) add up, in absolute value, above its leverage (the largest of its columns).
    ``cols`` and ``start``: the groups, as ``group_arrays`` gives them."""
    i, g, gross, cap = first_gross_excess_nb(readonly(target.T), readonly(cols), readonly(start), readonly(leverage))
    if i >= 0:
        raise ValueError(f"signals.target: gross target weight {gross:g} at {where(index, groups, i)} of "
                         f"group {groups[g]!r} is above leverage = {cap:g}; scale the weights down or raise "
                         "leverage (--leverage)")


def _bounds(targets: np.ndarray, weights: bool, drift: bool, reentry: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the trade records and order records it may need at most."""
    if weights:
        decided = np.count_nonzero(targets == targets, axis=1)
        return decided, 3 * decided + (targets.shape[1] if drift else 0)
    entries = entry_bounds_nb(targets, reentry)
    return entries, 2 * entries


def simulate_groups(prices: tuple[np.ndarray, ...], target: np.ndarray, settings: SettingArrays, rules: Rules,
                    group: Group, *,
                    record: bool, blocks: int = 0) -> dict[str, np.ndarray]:
    """Run the group kernel: ``prices`` (T, A) arrays, ``target`` (T, N). Returns the
    outputs as (T, ...) arrays and compacted records (column order), and the groups'
    running return sums at the ends of ``blocks`` return blocks (G, 2 blocks)."""
    T, N = target.shape
    G = group.start.shape[0] - 1
    # Read-only views of every input (one compiled kernel, see ``simulation._readonly``).
    targets = readonly(np.ascontiguousarray(target.T))
    rows = Prices(*(readonly(np.ascontiguousarray(a)) for a in prices))
    settings = SettingArrays(*(readonly(a) for a in settings))
    group = group._replace(cols=readonly(group.cols), start=readonly(group.start), asset=readonly(group.asset),
                           leverage=readonly(group.leverage), drift=readonly(group.drift))
    if record:
        trade_bounds, order_bounds = _bounds(targets, group.weights, bool((group.drift == group.drift).any()),
                                             rules.reentry)
    else:
        trade_bounds = order_bounds = np.zeros(N, dtype=np.int64)
    trade_offsets = np.zeros(N + 1, dtype=np.int64)
    order_offsets = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(trade_bounds, out=trade_offsets[1:])
    np.cumsum(order_bounds, out=order_offsets[1:])
    width = T if record else 0
    out = GroupOutputs(equity=np.zeros((G, width)), cash=np.zeros((G, width)), value=np.zeros((N, width)),
                       trades=np.zeros(trade_offsets[-1], dtype=TRADE_DTYPE), trade_offsets=trade_offsets,
                       trade_counts=np.zeros(N, dtype=np.int64),
                       orders=np.zeros(order_offsets[-1], dtype=ORDER_DTYPE), order_offsets=order_offsets,
                       order_counts=np.zeros(N, dtype=np.int64), stats=np.empty((G, N_STATS)),
                       blocks=np.zeros((G, 2 * blocks)))
    if G > 1:
        group_nb.simulate_groups_nb(rows, targets, settings, rules, group, out)
    else:
        group_nb.simulate_group_nb(0, rows, targets, settings, rules, group, out)
    if record and ((out.trade_counts > trade_bounds).any() or (out.order_counts > order_bounds).any()):
        raise RuntimeError("engine bug: more records than reserved for them")
    keep_t = np.arange(len(out.trades)) < np.repeat(trade_offsets[:-1] + out.trade_counts, trade_bounds)
    keep_o = np.arange(len(out.orders)) < np.repeat(order_offsets[:-1] + out.order_counts, order_bounds)
    orders = out.orders[keep_o]
    of_col = np.empty(N, dtype=np.int64)
    of_col[group.cols] = np.repeat(np.arange(G), np.diff(group.start))
    orders = orders[np.lexsort((orders["seq"], of_col[orders["col"]], orders["bar"]))] if len(orders) else orders
    return dict(equity=out.equity.T, cash=out.cash.T, value=out.value.T, trades=out.trades[keep_t], orders=orders,
                stats=out.stats, blocks=out.blocks)


def group_arrays(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns sorted by group, column order within, and the start of each group)."""
    cols = np.argsort(codes, kind="stable").astype(np.int64)
    start = np.zeros(int(codes.max()) + 2 if len(codes) else 1, dtype=np.int64)
    np.cumsum(np.bincount(codes), out=start[1:])
    return cols, start
