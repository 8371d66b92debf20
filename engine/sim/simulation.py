"""backtest(): the pandas-facing entry point to the numba kernel."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def _below_one(a):
    """A protective distance: a long's stop at or below price 0 would never fire."""
    return (a > 0) & (a < 1)


def _positive(a):
    return a > 0


def _fraction(a):
    return (a >= 0) & (a < 1)


def backtest(
    bars: pd.DataFrame,
    signals: Signals | pd.DataFrame | pd.Series | np.ndarray,
    *,
    fee=0.0,
    fixed_fee=0.0,
    slippage=0.0,
    cash=100_000.0,
    fill: str = "next_open",
    size=1.0,
    lot=None,
    sl=None,
    tp=None,
    trail=False,
    max_hold=None,
    stop_tie: str = "sl",
    periods_per_year: float | None = None,
    reentry: bool = False,
    record: bool = True,
) -> Result:
    """Simulate ``signals`` on ``bars`` and return a Result.

    bars: DataFrame with a sorted unique index and float columns open, high, low,
        close (MultiIndex columns (field, asset) give one asset per column).
    signals: Signals, or just the target (+1/-1/0/NaN per bar and column).
    fee: fraction of notional paid on every fill, in [0, 1). fixed_fee: currency
        per fill. slippage: fraction by which every market fill (stops included)
        moves against the trader, in [0, 1).
    cash: initial cash per column. fill: "next_open" (decision at bar t fills at
        t+1's open) or "close" (at bar t's close, opt-in).
    size, sl, tp, trail, max_hold, reentry: defaults for the Signals fields left
        unset (see Signals). ``trail=True`` makes the SL trailing; a number is a trailing
        distance of its own. lot: units are rounded down to a multiple of it.
    stop_tie: which stop wins when SL and TP are both touched in one bar ("sl",
        pessimistic, or "tp"). reentry: after a forced exit (stop, max_hold), an
        explicit +1/-1 target re-enters at its fill (default: it needs a fresh change
        of the forward-filled target).
    periods_per_year: annualization factor; inferred from the index if None.
    record: keep equity curves and trades (False: metrics only, as sweeps do).

    Fees, slippage and fixed fees are per bar or per column; size, lot and the
    stops are read at each entry's decision bar. Any value out of range raises a
    ValueError naming the argument and the first offending position.
    """
    if not isinstance(signals, Signals):
        signals = Signals(target=signals)
    columns = signals.columns
    if fill not in FILL_MODES:
        raise ValueError(f"fill: unknown fill mode {fill!r}; use one of {sorted(FILL_MODES)}")
    if stop_tie not in STOP_TIES:
        raise ValueError(f"stop_tie: unknown rule {stop_tie!r}; use one of {sorted(STOP_TIES)}")
    o, h, lo, c = price_arrays(bars, columns)
    index = bars.index
    target, n_orders = target_array(signals.target, index, columns)
    if target.shape[1] != len(columns):
        raise ValueError(f"signals.target: {target.shape[1]} columns but {len(columns)} column names")

    def pick(name, kw):
        own = getattr(signals, name)
        return kw if own is None else own

    def arr(name, value, valid, rule, allow_nan=False):
        return flex_array(name, value, index, columns, valid, rule, allow_nan)

    reentry = bool(pick("reentry", reentry))
    trail_v = pick("trail", trail)
    sl_v = pick("sl", sl)
    if isinstance(trail_v, (bool, np.bool_)):
        trail_v, sl_v = (sl_v, None) if trail_v else (None, sl_v)
        if trail_v is None and bool(pick("trail", trail)):
            raise ValueError("trail=True needs sl= (the trailing distance)")
    stop_rule = "stop distances must be positive fractions of the entry price (NaN = none)"
    size_a = arr("size", pick("size", size), lambda a: (a > 0) & (a <= 1),
                 "size is the fraction of equity committed, in (0, 1]")
    below_entry = "sl and trail are fractions of the entry price in (0, 1) (0.02 = 2%; NaN = none)"
    sl_a = arr("sl", np.nan if sl_v is None else sl_v, _below_one, below_entry, True)
    tp_v = pick("tp", tp)
    tp_a = arr("tp", np.nan if tp_v is None else tp_v, _positive, stop_rule, True)
    tr_a = arr("trail", np.nan if trail_v is None else trail_v, _below_one, below_entry, True)
    mh_v = pick("max_hold", max_hold)
    mh_a = arr("max_hold", np.nan if mh_v is None else mh_v, lambda a: (a >= 1) & (a == np.floor(a)),
               "max_hold is a whole number of bars >= 1 (NaN = none)", True)
    fee_a = arr("fee", fee, _fraction, "fee is a fraction of notional in [0, 1)")
    ffee_a = arr("fixed_fee", fixed_fee, lambda a: (a >= 0) & np.isfinite(a), "fixed_fee must be >= 0")
    slip_a = arr("slippage", slippage, _fraction, "slippage is a fraction in [0, 1)")
    lot_a = np.zeros((1, 1)) if lot is None else arr(
        "lot", lot, lambda a: (a > 0) & np.isfinite(a), "lot must be a positive unit size")
    cash_a = arr("cash", cash, lambda a: (a > 0) & np.isfinite(a), "cash must be positive")
    if cash_a.shape[0] > 1:
        raise ValueError("cash: initial cash is per column, not per bar")
    if periods_per_year is None:
        ppy = infer_ppy(index)
    elif not (np.isfinite(periods_per_year) and periods_per_year > 0):
        raise ValueError(f"periods_per_year = {periods_per_year}: must be positive")
    else:
        ppy = float(periods_per_year)

    equity, trades, stats = _simulate(
        o, h, lo, c, target, size_a, sl_a, tp_a, tr_a, mh_a,
        fee_a, ffee_a, slip_a, lot_a, cash_a, FILL_MODES[fill], STOP_TIES[stop_tie],
        reentry, ppy, record=record, n_orders=n_orders,
    )
    settings = dict(
        fill=fill, stop_tie=stop_tie, periods_per_year=ppy, reentry=reentry,
        fee=fee if np.ndim(fee) == 0 else "per column/bar",
        fixed_fee=fixed_fee if np.ndim(fixed_fee) == 0 else "per column/bar",
        slippage=slippage if np.ndim(slippage) == 0 else "per column/bar",
    )
    return Result(
        index=index, columns=columns, stats=stats, equity=equity if record else None,
        trades=trades if record else None, init_cash=cash_a.reshape(-1), settings=settings,
    )
