"""Streaming performance metrics, updated bar by bar inside the simulation pass.

Pure numba over a small float64 accumulator per column, so a sweep of many columns
never materialises a bars x columns equity array. Conventions (all documented in
the README):

- bar return r_t = E_t / E_{t-1} - 1, with E_{-1} = initial cash, one per bar
  (NaN-price bars included: their equity is marked at the last valid close);
- risk-free rate 0; ``ppy`` = periods (bars) per year;
- Sharpe = mean(r) / std(r, ddof=1) * sqrt(ppy);
- Sortino = mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(ppy);
- CAGR = (E_T / E_0) ** (ppy / T) - 1 over T bars; Calmar = CAGR / |max drawdown|;
- Omega (threshold 0) = sum(max(r, 0)) / sum(max(-r, 0));
- trade statistics use closed trades only (the open trade at the end is marked to
  market in equity but is not a win or a loss yet); returns are pnl / entry value.
"""

import numpy as np
from numba import njit

# Accumulator slots.
A_N, A_SUM, A_SUM2, A_DOWN2, A_POS, A_NEG = 0, 1, 2, 3, 4, 5
A_PREV, A_PEAK, A_PEAK_BAR, A_EP_MIN, A_MAX_DD, A_MAX_DD_DUR = 6, 7, 8, 9, 10, 11
A_EXPOSED, A_FEES = 12, 13
A_TRADES, A_WINS, A_LOSSES, A_GROSS_WIN, A_GROSS_LOSS = 14, 15, 16, 17, 18
A_SUM_WIN_RET, A_SUM_LOSS_RET, A_BEST, A_WORST, A_SUM_BARS, A_OPEN = 19, 20, 21, 22, 23, 24
A_SIZE = 25

STAT_NAMES = (
    "total_return",
    "cagr",
    "ann_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "omega",
    "max_drawdown",
    "max_dd_duration",
    "trades",
    "open_trades",
    "win_rate",
    "profit_factor",
    "expectancy",
    "avg_win",
    "avg_loss",
    "best_trade",
    "worst_trade",
    "avg_bars_held",
    "exposure",
    "fees_paid",
    "final_equity",
    "buy_hold_return",
)
N_STATS = len(STAT_NAMES)


@njit(cache=True, nogil=True)
def acc_init(acc, init_cash):
    """Reset ``acc`` (length A_SIZE) for a column starting with ``init_cash``."""
    acc[:] = 0.0
    acc[A_PREV] = init_cash
    acc[A_PEAK] = init_cash
    acc[A_PEAK_BAR] = -1.0
    acc[A_BEST] = np.nan
    acc[A_WORST] = np.nan


@njit(cache=True, nogil=True)
def acc_bar(acc, i, equity, exposed):
    """Add bar ``i`` whose closing equity is ``equity``; ``exposed``: a position is held."""
    prev = acc[A_PREV]
    r = equity / prev - 1.0 if prev != 0.0 else 0.0
    # Plain sums, not Welford: no division in the loop-carried chain, and bar
    # returns have |mean| << std, so the variance formula loses nothing measurable.
    acc[A_N] += 1.0
    acc[A_SUM] += r
    acc[A_SUM2] += r * r
    if r < 0.0:
        acc[A_DOWN2] += r * r
        acc[A_NEG] -= r
    else:
        acc[A_POS] += r
    acc[A_PREV] = equity
    if exposed:
        acc[A_EXPOSED] += 1.0
    # Drawdown episodes: from a peak until equity regains it.
    if equity >= acc[A_PEAK]:
        acc[A_PEAK] = equity
        acc[A_PEAK_BAR] = i
        acc[A_EP_MIN] = 0.0
    else:
        dd = equity / acc[A_PEAK] - 1.0
        if dd < acc[A_EP_MIN]:
            acc[A_EP_MIN] = dd
        if dd < acc[A_MAX_DD]:
            acc[A_MAX_DD] = dd
        # Duration of the episode holding the deepest drawdown, measured so far.
        if acc[A_EP_MIN] <= acc[A_MAX_DD]:
            acc[A_MAX_DD_DUR] = i - acc[A_PEAK_BAR]


@njit(cache=True, nogil=True)
def acc_trade(acc, pnl, ret, bars_held):
    """Add one closed trade."""
    acc[A_TRADES] += 1.0
    if pnl > 0.0:
        acc[A_WINS] += 1.0
        acc[A_GROSS_WIN] += pnl
        acc[A_SUM_WIN_RET] += ret
    elif pnl < 0.0:
        acc[A_LOSSES] += 1.0
        acc[A_GROSS_LOSS] -= pnl
        acc[A_SUM_LOSS_RET] += ret
    if not ret <= acc[A_BEST]:
        acc[A_BEST] = ret
    if not ret >= acc[A_WORST]:
        acc[A_WORST] = ret
    acc[A_SUM_BARS] += bars_held


@njit(cache=True, nogil=True)
def acc_finish(acc, out, init_cash, ppy, buy_hold):
    """Write the metrics named in STAT_NAMES into ``out`` (length N_STATS)."""
    n = acc[A_N]
    final = acc[A_PREV]
    total = final / init_cash - 1.0
    mean = acc[A_SUM] / n if n > 0.0 else np.nan
    var = (acc[A_SUM2] - acc[A_SUM] * mean) / (n - 1.0) if n > 1.0 else np.nan
    std = np.sqrt(max(var, 0.0))
    down = np.sqrt(acc[A_DOWN2] / n) if n > 0.0 else np.nan
    if final > 0.0 and n > 0.0:
        cagr = (final / init_cash) ** (ppy / n) - 1.0
    else:
        cagr = -1.0
    closed = acc[A_TRADES]
    out[0] = total
    out[1] = cagr
    out[2] = std * np.sqrt(ppy)
    out[3] = mean / std * np.sqrt(ppy) if std > 0.0 else np.nan
    out[4] = mean / down * np.sqrt(ppy) if down > 0.0 else np.nan
    out[5] = cagr / -acc[A_MAX_DD] if acc[A_MAX_DD] < 0.0 else np.nan
    out[6] = acc[A_POS] / acc[A_NEG] if acc[A_NEG] > 0.0 else np.nan
    out[7] = acc[A_MAX_DD]
    out[8] = acc[A_MAX_DD_DUR]
    out[9] = closed + acc[A_OPEN]
    out[10] = acc[A_OPEN]
    out[11] = acc[A_WINS] / closed if closed > 0.0 else np.nan
    out[12] = acc[A_GROSS_WIN] / acc[A_GROSS_LOSS] if acc[A_GROSS_LOSS] > 0.0 else np.nan
    out[13] = (acc[A_GROSS_WIN] - acc[A_GROSS_LOSS]) / closed if closed > 0.0 else np.nan
    out[14] = acc[A_SUM_WIN_RET] / acc[A_WINS] if acc[A_WINS] > 0.0 else np.nan
    out[15] = acc[A_SUM_LOSS_RET] / acc[A_LOSSES] if acc[A_LOSSES] > 0.0 else np.nan
    out[16] = acc[A_BEST]
    out[17] = acc[A_WORST]
    out[18] = acc[A_SUM_BARS] / closed if closed > 0.0 else np.nan
    out[19] = acc[A_EXPOSED] / n if n > 0.0 else np.nan
    out[20] = acc[A_FEES]
    out[21] = final
    out[22] = buy_hold
