"""backtest(): the pandas-facing entry point to the numba kernel."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from mlbt.settings import DEFAULTS, setting, settings_doc, trailing_stops
from mlbt.sim import kernel_nb
from mlbt.sim.frequency import periods_per_year as infer_ppy
from mlbt.sim.frequency import scan_index
from mlbt.sim.inputs import check_limits, flex_array, price_arrays, readonly, target_array
from mlbt.sim.result import Result, return_blocks
from mlbt.sim.rules_nb import count_entries
from mlbt.sim.signals import Signals
from mlbt.sim.state import FILL_MODES, STOP_TIES, TRADE_DTYPE, Group, Outputs, Prices, Rules, SettingArrays
from mlbt.sim.stats_nb import N_STATS


def _simulate(prices: Prices, target: np.ndarray, settings: SettingArrays, rules: Rules, *, record: bool,
              n_orders: int, blocks: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the kernel over every column of ``target``: several columns in parallel
    threads (``simulate_nb``), one column on the calling thread (a thread launch costs
    more than it saves, and the parallel code then need not even be compiled).

    The outputs are allocated here, with numpy (huge pages for large arrays): trade
    records reserved per column from ``entry_bounds_nb``'s bound, then compacted. One
    column reserves ``n_orders`` records (its +1/-1 targets, counted by the input
    check) instead when that is at most T / 8, saving the counting pass.
    ``prices`` and ``target`` are (T, ...) arrays; the kernel gets their transposed
    views, a row per column (no copy). Returns equity (T, N) (a transposed view of the
    kernel's row per column; 0 rows without ``record``), trade records in column
    order, the metrics (N, N_STATS) and the running return sums at the ends of
    ``blocks`` return blocks (N, 2 blocks; ``stats_nb.snap_blocks``)."""
    T, N = target.shape
    targets = readonly(target.T)
    prices = Prices(*(readonly(a.T) for a in prices))
    settings = SettingArrays(*(readonly(a) for a in settings))
    if not record:
        bounds = np.zeros(N, dtype=np.int64)
    elif N > 1:
        bounds = kernel_nb.entry_bounds_nb(targets, rules.reentry)
    elif n_orders <= T // 8:
        bounds = np.full(1, n_orders)
    else:
        bounds = np.full(1, count_entries(targets[0], rules.reentry))
    offsets = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(bounds, out=offsets[1:])
    out = Outputs(equity=np.empty((N, T if record else 0)), trades=np.empty(offsets[-1], dtype=TRADE_DTYPE),
                  trade_offsets=offsets, trade_counts=np.zeros(N, dtype=np.int64), stats=np.empty((N, N_STATS)),
                  blocks=np.zeros((N, 2 * blocks)))
    carry = True if rules.carry else None  # the kernel's compile-time switch for rules 12, 13
    if N > 1:
        kernel_nb.simulate_nb(prices, targets, settings, rules, out, carry)
    else:
        kernel_nb.simulate_column_nb(0, prices, targets, settings, rules, out, carry)
    counts, trades = out.trade_counts, out.trades
    if record and (counts > bounds).any():
        raise RuntimeError("engine bug: more trades than the records reserved for them")
    if N == 1:
        trades = trades[: counts[0]]
    elif counts.sum() < len(trades):  # keep the records written, in column order
        trades = trades[np.arange(len(trades)) < np.repeat(offsets[:-1] + counts, bounds)]
    return out.equity.T, trades, out.stats, out.blocks


#: The engine settings that are flex arrays (a value per bar and column), by name.
ARRAY_SETTINGS = ("size", "sl", "tp", "trail", "max_hold", "fee", "fixed_fee", "slippage", "lot", "cash", "leverage",
                  "mmr", "liquidation_fee", "funding_rate", "borrow_rate", "rebalance_drift")


def _setting_arrays(bars: pd.DataFrame, signals: Signals, keywords: dict[str, Any], index: pd.Index,
                    columns: pd.Index) -> dict[str, np.ndarray]:
    """Every per-bar-and-column setting as a checked flex array: the ``keywords`` of
    backtest(), overridden by the fields ``signals`` sets; ``trail=True`` makes sl
    trailing, a string funding_rate names a bars column; then the rules between
    settings (size up to leverage)."""
    values = {name: keywords[name] for name in ARRAY_SETTINGS}
    values.update({name: value for name, value in signals.settings().items() if value is not None})
    trail = bool(values["trail"]) if isinstance(values["trail"], np.bool_) else values["trail"]
    values["sl"], values["trail"] = trailing_stops(values["sl"], trail)
    values["funding_rate"] = _funding_rates(bars, values["funding_rate"])
    arrays = {name: flex_array(setting(name), value, index, columns) for name, value in values.items()}
    check_limits(arrays, index, columns)
    if arrays["cash"].shape[0] > 1:
        raise ValueError("cash: initial cash is per column, not per bar")
    return arrays


def _funding_rates(bars: pd.DataFrame, value: object) -> object:
    """The funding rates ``value`` stands for: a number, a per-bar series (NaN: no funding on
    that bar) or the bars column it names. A rate is required where it is one number for
    every bar, and a named column must hold at least one: a NaN there is a ValueError."""
    name = "funding_rate"
    if isinstance(value, float) and value != value:
        raise ValueError(f"{name} = nan: a single rate applies to every bar, so it must be a number; leave "
                         f"{name} unset for no funding, or give a per-bar series with NaN on the bars without funding")
    rates = _bars_column(bars, name, value)
    if isinstance(value, str) and len(bars) and bool(pd.isna(rates).all()):
        raise ValueError(f"{name} = {value!r}: bars column {value!r} has no rate on any of its {len(bars):,} bars "
                         "(NaN means no funding on that bar); name the column that holds the rates, or leave "
                         f"{name} unset")
    return rates


def _bars_column(bars: pd.DataFrame, name: str, value: object) -> object:
    """``value``, or the column of ``bars`` it names (a string)."""
    if not isinstance(value, str):
        return value
    if value not in bars.columns:
        raise ValueError(f"{name} = {value!r}: bars have no column {value!r} (columns: "
                         f"{', '.join(map(str, bars.columns))}); give a number, a per-bar series or a column name")
    return bars[value]


#: A setting's value: a scalar, or per column / per bar / per bar and column (see ``flex_array``).
Value: TypeAlias = float | int | None | np.ndarray | pd.Series | pd.DataFrame


def backtest(
    bars: pd.DataFrame,
    signals: Signals | pd.DataFrame | pd.Series | np.ndarray,
    *,
    fee: Value = DEFAULTS["fee"],
    fixed_fee: Value = DEFAULTS["fixed_fee"],
    slippage: Value = DEFAULTS["slippage"],
    size: Value = DEFAULTS["size"],
    lot: Value = DEFAULTS["lot"],
    sl: Value = DEFAULTS["sl"],
    tp: Value = DEFAULTS["tp"],
    trail: Value | bool = DEFAULTS["trail"],
    max_hold: Value = DEFAULTS["max_hold"],
    leverage: Value = DEFAULTS["leverage"],
    mmr: Value = DEFAULTS["mmr"],
    liquidation_fee: Value = DEFAULTS["liquidation_fee"],
    funding_rate: Value | str = DEFAULTS["funding_rate"],
    borrow_rate: Value = DEFAULTS["borrow_rate"],
    cash: Value = DEFAULTS["cash"],
    cash_sharing: bool = DEFAULTS["cash_sharing"],
    group_by: Any = None,
    size_type: str = DEFAULTS["size_type"],
    rebalance_drift: Value = DEFAULTS["rebalance_drift"],
    insufficient_cash: str = DEFAULTS["insufficient_cash"],
    fill: str = DEFAULTS["fill"],
    stop_tie: str = DEFAULTS["stop_tie"],
    periods_per_year: float | None = DEFAULTS["periods_per_year"],
    reentry: bool = False,
    record: bool = True,
    blocks: int = 0,
) -> Result:
    """Simulate ``signals`` on ``bars`` and return a Result.

    bars: DataFrame with a sorted unique index and float columns open, high, low,
        close (MultiIndex columns (field, asset) give one asset per column).
    signals: Signals, or just the target (+1/-1/0/NaN per bar and column). Its fields
        that are set (size, sl, tp, trail, max_hold, leverage, mmr, funding_rate,
        borrow_rate, rebalance_drift) override the keywords.
    reentry: after a forced exit (stop, max_hold), an explicit +1/-1 target re-enters
        at its fill (default: it needs a fresh change of the forward-filled target);
        ``Signals.reentry`` overrides it.
    record: keep equity curves and trades (False: metrics only, as sweeps do).
    blocks: split the bars into this many contiguous return blocks and keep, per
        column (or group), the sum of its bar returns and of their squares in each
        (``Result.return_blocks``), accumulated in the same streaming pass: what the
        probability of backtest overfitting needs, with no bars x columns equity.
    group_by: with cash_sharing, which columns share cash: None (the parameter levels:
        every level of the signal columns but the last, the asset), a level name or a
        list of them, one label per column, or {group: [columns]}.

    With ``cash_sharing`` or ``size_type="target_weight"`` bars may have (field, asset)
    columns, each signal column trading the asset its last level names, and the
    result is a ``PortfolioResult`` whose rows are groups (execution rules 14-16).

    The engine settings (``mlbt.settings``; the same table the command line and the
    sweep grid read):

    {settings}

    Any value out of range raises a ValueError naming the setting, the first offending
    position and the valid range.
    """
    if isinstance(blocks, bool) or not isinstance(blocks, int | np.integer) or blocks < 0:
        raise ValueError(f"blocks = {blocks!r}: expected a number of return blocks, an int >= 0 (0: none)")
    if not isinstance(signals, Signals):
        signals = Signals(target=signals)
    columns = signals.columns
    fill = setting("fill").check(fill)
    stop_tie = setting("stop_tie").check(stop_tie)
    cash_sharing = setting("cash_sharing").check(cash_sharing)
    size_type = setting("size_type").check(size_type)
    insufficient_cash = setting("insufficient_cash").check(insufficient_cash)
    if cash_sharing or size_type == "target_weight":
        return _backtest_groups(bars, signals, columns, locals())
    index = bars.index if isinstance(bars, pd.DataFrame) else None
    scan = scan_index(index)  # one pass: sorted and unique, its step and weekdays
    o, h, lo, c = _column_prices(bars, columns, scan)
    target, n_orders = target_array(signals.target, index, columns)
    if target.shape[1] != len(columns):
        raise ValueError(f"signals.target: {target.shape[1]} columns but {len(columns)} column names")
    reentry = bool(reentry if signals.reentry is None else signals.reentry)
    arrays = _setting_arrays(bars, signals, locals(), index, columns)
    if np.isnan(arrays["lot"]).all():
        arrays["lot"] = np.zeros((1, 1))  # the kernel's "no rounding"
    ppy = infer_ppy(index, scan) if periods_per_year is None else setting("periods_per_year").check(periods_per_year)

    settings = SettingArrays(**{name: arrays[name] for name in SettingArrays._fields})
    carry = bool((arrays["funding_rate"] == arrays["funding_rate"]).any() or (arrays["borrow_rate"] > 0).any())
    equity, trades, stats, sums = _simulate(Prices(o, h, lo, c), target, settings,
                                            Rules(FILL_MODES[fill], STOP_TIES[stop_tie], reentry, float(ppy), carry),
                                            record=record, n_orders=n_orders, blocks=int(blocks))
    shown = {name: value if value is None or np.ndim(value) == 0 else "per column/bar" for name, value in
             (("fee", fee), ("fixed_fee", fixed_fee), ("slippage", slippage))}
    run_settings = dict(fill=fill, stop_tie=stop_tie, periods_per_year=ppy, reentry=reentry, **shown)
    return Result(
        index=index, columns=columns, stats=stats, equity=equity if record else None,
        trades=trades if record else None, init_cash=arrays["cash"].reshape(-1), settings=run_settings,
        return_blocks=return_blocks(sums, len(target)) if blocks else None,
    )


backtest.__doc__ = (backtest.__doc__ or "").replace("{settings}", settings_doc(indent=4))


def _column_prices(bars: pd.DataFrame, columns: pd.Index, scan: Any) -> tuple[np.ndarray, ...]:
    """(open, high, low, close), a column per signal column: the bars' own columns, or,
    when the signal columns are (params..., asset) over (field, asset) bars, each
    column's asset (several parameter combinations of one asset, side by side)."""
    by_asset = isinstance(bars, pd.DataFrame) and isinstance(bars.columns, pd.MultiIndex)
    if not (by_asset and isinstance(columns, pd.MultiIndex) and not bars["close"].columns.equals(columns)):
        return price_arrays(bars, columns, scan)
    from mlbt.sim.portfolio import asset_prices

    prices, rows, _ = asset_prices(bars, columns, scan)
    return tuple(np.ascontiguousarray(a[:, rows]) for a in prices)


def _backtest_groups(bars: pd.DataFrame, signals: Signals, columns: pd.Index, kw: dict[str, Any]) -> Result:
    """backtest() with shared cash or target weights (the keywords in ``kw``)."""
    from mlbt.sim.portfolio import (
        asset_prices,
        check_gross_weights,
        group_arrays,
        group_codes,
        simulate_groups,
    )
    from mlbt.sim.result import PortfolioResult

    weights = kw["size_type"] == "target_weight"
    index = bars.index if isinstance(bars, pd.DataFrame) else None
    scan = scan_index(index)
    prices, asset_rows, asset_of = asset_prices(bars, columns, scan)
    by_asset = isinstance(bars.columns, pd.MultiIndex)  # (field, asset) columns, even of one asset
    codes, groups = group_codes(columns, kw["group_by"], kw["cash_sharing"], multi_asset=by_asset)
    target, _ = target_array(signals.target, index, columns, weights=weights)
    if target.shape[1] != len(columns):
        raise ValueError(f"signals.target: {target.shape[1]} columns but {len(columns)} column names")
    reentry = bool(kw["reentry"] if signals.reentry is None else signals.reentry)
    arrays = _setting_arrays(bars, signals, kw, index, columns)
    cash = np.broadcast_to(arrays["cash"], (1, len(columns)))[0]
    cols, start = group_arrays(codes)
    first = cols[start[:-1]]  # each group's first column
    differs = cash != cash[first][codes]
    if differs.any():
        g = codes[int(np.argmax(differs))]
        inside = cash[codes == g]
        raise ValueError(f"cash: the columns of group {groups[g]!r} have different initial cash "
                         f"({inside.min():g} and {inside.max():g}); a group has one cash account")
    if weights:
        check_gross_weights(target, arrays["leverage"], cols, start, index, groups)
    if np.isnan(arrays["lot"]).all():
        arrays["lot"] = np.zeros((1, 1))
    else:
        arrays["lot"] = np.nan_to_num(arrays["lot"], nan=0.0)
    periods = kw["periods_per_year"]
    ppy = infer_ppy(index, scan) if periods is None else setting("periods_per_year").check(periods)
    settings = SettingArrays(**{name: arrays[name] for name in SettingArrays._fields})
    carry = bool((arrays["funding_rate"] == arrays["funding_rate"]).any() or (arrays["borrow_rate"] > 0).any())
    group = Group(cols=cols, start=start, asset=asset_rows, leverage=arrays["leverage"],
                  drift=arrays["rebalance_drift"], weights=weights, skip=kw["insufficient_cash"] == "skip")
    fill, stop_tie = kw["fill"], kw["stop_tie"]
    out = simulate_groups(prices, target, settings,
                          Rules(FILL_MODES[fill], STOP_TIES[stop_tie], reentry, float(ppy), carry), group,
                          record=kw["record"], blocks=int(kw["blocks"]))
    record = kw["record"]
    run_settings = dict(fill=fill, stop_tie=stop_tie, periods_per_year=ppy, reentry=reentry,
                        cash_sharing=kw["cash_sharing"], size_type=kw["size_type"])
    return PortfolioResult(
        index=index, columns=groups, stats=out["stats"], equity=out["equity"] if record else None,
        trades=out["trades"] if record else None, init_cash=cash[first], settings=run_settings,
        signal_columns=columns, group_of=codes, asset_of=asset_of, cash=out["cash"] if record else None,
        value=out["value"] if record else None, orders=out["orders"] if record else None,
        return_blocks=return_blocks(out["blocks"], len(target)) if kw["blocks"] else None)
