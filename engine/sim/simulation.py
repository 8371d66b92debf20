"""backtest(): the pandas-facing entry point to the numba kernel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlbt.settings import DEFAULTS, setting, settings_doc, trailing_stops
from mlbt.sim import kernel_nb as kernels
from mlbt.sim.frequency import periods_per_year as infer_ppy
from mlbt.sim.inputs import flex_array, price_arrays, target_array
from mlbt.sim.result import Result
from mlbt.sim.signals import Signals
from mlbt.sim.stats_nb import N_STATS

FILL_MODES = {"next_open": kernels.FILL_NEXT_OPEN, "close": kernels.FILL_CLOSE}
STOP_TIES = {"sl": kernels.TIE_SL, "tp": kernels.TIE_TP}


def _simulate(o, h, lo, c, target, *params, record, n_orders):
    """Run the kernel over every column of ``target``: several columns in parallel
    threads (kernels.simulate_nb), one column on the calling thread (a thread
    launch costs more than it saves, and the parallel code then need not even be
    compiled). ``params`` are the kernel's arguments from ``size`` to ``ppy``.

    The outputs are allocated here, with numpy (huge pages for large arrays): trade
    rows reserved per column from count_entries_nb's bound, then compacted. One
    column reserves ``n_orders`` rows (its +1/-1 targets, counted by the input
    check) instead when that is at most T / 8, saving count_entries_nb's pass.
    Returns equity (T, N) (a transposed view of the kernel's row per column; T = 0
    rows without ``record``), trades (n, N_TRADE_FIELDS) in column order, stats."""
    T, N = target.shape
    reentry = params[-2]
    if not record:
        bounds = np.zeros(N, dtype=np.int64)
    elif N > 1:
        bounds = kernels.entry_bounds_nb(target, reentry)
    elif n_orders <= T // 8:
        bounds = np.full(1, n_orders)
    else:
        bounds = np.full(1, kernels.count_entries_nb(target, 0, reentry))
    offsets = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(bounds, out=offsets[1:])
    equity = np.empty((N, T if record else 0))
    trades = np.empty((offsets[-1], kernels.N_TRADE_FIELDS))
    counts = np.zeros(N, dtype=np.int64)
    stats = np.empty((N, N_STATS))
    outputs = (equity, trades, offsets, counts, stats)
    if N > 1:
        kernels.simulate_nb(o, h, lo, c, target, *params, *outputs)
    else:
        kernels.simulate_column_nb(0, o, h, lo, c, target, *params, *outputs)
    if record and (counts > bounds).any():
        raise RuntimeError("engine bug: more trades than the rows reserved for them")
    if N == 1:
        trades = trades[: counts[0]]
    elif counts.sum() < len(trades):  # keep the rows written, in column order
        trades = trades[np.arange(len(trades)) < np.repeat(offsets[:-1] + counts, bounds)]
    return equity.T, trades, stats


#: A setting's value: a scalar, or per column / per bar / per bar and column (see ``flex_array``).
Value = float | int | None | np.ndarray | pd.Series | pd.DataFrame


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
    cash: Value = DEFAULTS["cash"],
    fill: str = DEFAULTS["fill"],
    stop_tie: str = DEFAULTS["stop_tie"],
    periods_per_year: float | None = DEFAULTS["periods_per_year"],
    reentry: bool = False,
    record: bool = True,
) -> Result:
    """Simulate ``signals`` on ``bars`` and return a Result.

    bars: DataFrame with a sorted unique index and float columns open, high, low,
        close (MultiIndex columns (field, asset) give one asset per column).
    signals: Signals, or just the target (+1/-1/0/NaN per bar and column). Its fields
        that are set (size, sl, tp, trail, max_hold) override the keywords.
    reentry: after a forced exit (stop, max_hold), an explicit +1/-1 target re-enters
        at its fill (default: it needs a fresh change of the forward-filled target);
        ``Signals.reentry`` overrides it.
    record: keep equity curves and trades (False: metrics only, as sweeps do).

    The engine settings (``mlbt.settings``; the same table the command line and the
    sweep grid read):

    {settings}

    Any value out of range raises a ValueError naming the setting, the first offending
    position and the valid range.
    """
    if not isinstance(signals, Signals):
        signals = Signals(target=signals)
    columns = signals.columns
    fill = setting("fill").check(fill)
    stop_tie = setting("stop_tie").check(stop_tie)
    o, h, lo, c = price_arrays(bars, columns)
    index = bars.index
    target, n_orders = target_array(signals.target, index, columns)
    if target.shape[1] != len(columns):
        raise ValueError(f"signals.target: {target.shape[1]} columns but {len(columns)} column names")
    given = dict(size=size, sl=sl, tp=tp, trail=trail, max_hold=max_hold)
    given.update({name: value for name, value in signals.settings().items() if value is not None})
    reentry = bool(reentry if signals.reentry is None else signals.reentry)
    trail_v = bool(given["trail"]) if isinstance(given["trail"], np.bool_) else given["trail"]
    sl_v, trail_v = trailing_stops(given["sl"], trail_v)
    values = dict(given, sl=sl_v, trail=trail_v, fee=fee, fixed_fee=fixed_fee, slippage=slippage, lot=lot, cash=cash)
    arrays = {name: flex_array(setting(name), value, index, columns) for name, value in values.items()}
    if arrays["cash"].shape[0] > 1:
        raise ValueError("cash: initial cash is per column, not per bar")
    if np.isnan(arrays["lot"]).all():
        arrays["lot"] = np.zeros((1, 1))  # the kernel's "no rounding"
    ppy = infer_ppy(index) if periods_per_year is None else setting("periods_per_year").check(periods_per_year)

    equity, trades, stats = _simulate(
        o, h, lo, c, target, arrays["size"], arrays["sl"], arrays["tp"], arrays["trail"], arrays["max_hold"],
        arrays["fee"], arrays["fixed_fee"], arrays["slippage"], arrays["lot"], arrays["cash"], FILL_MODES[fill],
        STOP_TIES[stop_tie], reentry, ppy, record=record, n_orders=n_orders,
    )
    shown = {name: value if np.ndim(value) == 0 else "per column/bar" for name, value in
             (("fee", fee), ("fixed_fee", fixed_fee), ("slippage", slippage))}
    run_settings = dict(fill=fill, stop_tie=stop_tie, periods_per_year=ppy, reentry=reentry, **shown)
    return Result(
        index=index, columns=columns, stats=stats, equity=equity if record else None,
        trades=trades if record else None, init_cash=arrays["cash"].reshape(-1), settings=run_settings,
    )


backtest.__doc__ = (backtest.__doc__ or "").replace("{settings}", settings_doc(indent=4))
