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
- skew = m3 / m2^1.5 and kurtosis = m4 / m2^2 - 3 (excess) of the bar returns, with
  population central moments m_k (``scipy.stats.skew`` / ``kurtosis`` defaults);
- PSR (probabilistic Sharpe ratio, Bailey and Lopez de Prado) = the probability that
  the true per-bar Sharpe exceeds 0: Z[SR sqrt(T - 1) / sqrt(1 - skew SR +
  (kurtosis + 2) / 4 SR^2)] with SR = mean(r) / std(r, ddof=1) per bar, Z the
  standard normal CDF;
- trade statistics use closed trades only (the open trade at the end is marked to
  market in equity but is not a win or a loss yet); returns are pnl / entry value.
"""

import math

import numpy as np
from numba import njit

# Accumulator slots.
A_N, A_SUM, A_SUM2, A_DOWN2, A_POS, A_NEG = 0, 1, 2, 3, 4, 5
A_PREV, A_PEAK, A_PEAK_BAR, A_EP_MIN, A_MAX_DD, A_MAX_DD_DUR = 6, 7, 8, 9, 10, 11
A_EXPOSED, A_FEES = 12, 13
A_TRADES, A_WINS, A_LOSSES, A_GROSS_WIN, A_GROSS_LOSS = 14, 15, 16, 17, 18
A_SUM_WIN_RET, A_SUM_LOSS_RET, A_BEST, A_WORST, A_SUM_BARS, A_OPEN = 19, 20, 21, 22, 23, 24
A_EP_LOW = 25  # equity at which the current episode's deepest drawdown A_EP_MIN was set
A_SUM3, A_SUM4 = 26, 27
A_SIZE = 28

STAT_NAMES = (
    "total_return",
    "cagr",
    "ann_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "omega",
    "skew",
    "kurtosis",
    "psr",
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
#: Metrics where a smaller value ranks better (sweeps, reports); all others rank high first.
LOWER_IS_BETTER = frozenset({"ann_volatility", "kurtosis", "max_dd_duration", "fees_paid"})


@njit(cache=True, nogil=True)
def acc_init(acc, init_cash):
    """Reset ``acc`` (length A_SIZE) for a column starting with ``init_cash``."""
    acc[:] = 0.0
    acc[A_PREV] = init_cash
    acc[A_PEAK] = init_cash
    acc[A_PEAK_BAR] = -1.0
    acc[A_EP_LOW] = init_cash
    acc[A_BEST] = np.nan
    acc[A_WORST] = np.nan


@njit(cache=True, nogil=True)
def acc_bars(acc, first_bar, equity, exposed):
    """Add bars ``first_bar``, ``first_bar + 1``, ... whose closing equity is
    ``equity`` (1-D, in bar order); ``exposed``: how many of them end with a
    position. The sums run in local variables, in the same order as one bar at a
    time."""
    n = acc[A_N]
    s = acc[A_SUM]
    s2 = acc[A_SUM2]
    s3 = acc[A_SUM3]
    s4 = acc[A_SUM4]
    down2 = acc[A_DOWN2]
    gains = acc[A_POS]
    losses = acc[A_NEG]
    prev = acc[A_PREV]
    peak = acc[A_PEAK]
    peak_bar = acc[A_PEAK_BAR]
    ep_min = acc[A_EP_MIN]
    ep_low = acc[A_EP_LOW]
    max_dd = acc[A_MAX_DD]
    max_dd_dur = acc[A_MAX_DD_DUR]
    for k in range(equity.shape[0]):
        e = equity[k]
        r = e / prev - 1.0 if prev != 0.0 else 0.0
        # Plain sums, not Welford: no division in the loop-carried chain, and bar
        # returns have |mean| << std, so the variance formula loses nothing measurable.
        n += 1.0
        s += r
        r2 = r * r
        s2 += r2
        s3 += r2 * r
        s4 += r2 * r2
        # min/max compile to branch-free selects (a branch on the sign of r mispredicts
        # half the time); adding 0.0 leaves a sum unchanged, so these equal the
        # one-sided sums. A NaN r (never with valid prices) makes all three NaN,
        # which leaves every metric derived from them NaN as before.
        neg = min(r, 0.0)
        down2 += neg * neg
        losses -= neg
        gains += max(r, 0.0)
        prev = e
        # Drawdown episodes: from a peak until equity regains it.
        if e >= peak:
            peak = e
            peak_bar = first_bar + k
            ep_min = 0.0
            ep_low = e
        else:
            # dd = e / peak - 1 is monotone in e (peak > 0 is fixed within the
            # episode), so only equity below the episode's low can set a new
            # minimum (max_dd <= ep_min): the division runs only then.
            if e < ep_low:
                dd = e / peak - 1.0
                if dd < ep_min:
                    ep_min = dd
                    ep_low = e
                if dd < max_dd:
                    max_dd = dd
            # Duration of the episode holding the deepest drawdown, measured so far.
            if ep_min <= max_dd:
                max_dd_dur = first_bar + k - peak_bar
    acc[A_N] = n
    acc[A_SUM] = s
    acc[A_SUM2] = s2
    acc[A_SUM3] = s3
    acc[A_SUM4] = s4
    acc[A_DOWN2] = down2
    acc[A_POS] = gains
    acc[A_NEG] = losses
    acc[A_PREV] = prev
    acc[A_PEAK] = peak
    acc[A_PEAK_BAR] = peak_bar
    acc[A_EP_MIN] = ep_min
    acc[A_EP_LOW] = ep_low
    acc[A_MAX_DD] = max_dd
    acc[A_MAX_DD_DUR] = max_dd_dur
    acc[A_EXPOSED] += exposed


@njit(cache=True, nogil=True)
def acc_flat(acc, first_bar, n_bars, equity):
    """Add ``n_bars`` bars from ``first_bar`` that all close at ``equity`` with no
    position, where ``equity`` is also the previous bar's: the same result as
    acc_bars on that constant series, in O(1). Their returns are exactly 0, which
    leaves every sum as it is; only the bar count, the peak bar (at a peak) or the
    drawdown duration (below one) move."""
    if not (equity == acc[A_PREV] and np.isfinite(equity)):
        one = np.full(1, equity)
        for k in range(n_bars):
            acc_bars(acc, first_bar + k, one, np.int64(0))
        return
    last = first_bar + n_bars - 1
    acc[A_N] += n_bars
    if equity >= acc[A_PEAK]:
        acc[A_PEAK] = equity
        acc[A_PEAK_BAR] = last
        acc[A_EP_MIN] = 0.0
        acc[A_EP_LOW] = equity
    elif acc[A_EP_MIN] <= acc[A_MAX_DD]:
        acc[A_MAX_DD_DUR] = last - acc[A_PEAK_BAR]


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
def moments_nb(n, s1, s2, s3, s4, mean, std):
    """(skew, excess kurtosis, PSR) of n bar returns from their power sums s1..s4 and
    mean, std (ddof 1); NaN where the returns are constant or too few. The central
    moments come from the raw sums: bar returns have |mean| << std, so the
    cancellation costs nothing measurable (the tests compare with numpy on the curve)."""
    if n < 2.0:
        return np.nan, np.nan, np.nan
    m2 = s2 / n - mean * mean
    if not m2 > 1e-12 * (s2 / n):  # constant returns (all 0 when never traded): no shape
        return np.nan, np.nan, np.nan
    m3 = s3 / n - 3.0 * mean * s2 / n + 2.0 * mean * mean * mean
    m4 = s4 / n - 4.0 * mean * s3 / n + 6.0 * mean * mean * s2 / n - 3.0 * mean * mean * mean * mean
    skew = m3 / m2**1.5
    kurt = m4 / (m2 * m2)
    psr = np.nan
    if std > 0.0:
        sr = mean / std
        denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
        if denom > 0.0:
            psr = 0.5 * (1.0 + math.erf(sr * np.sqrt(n - 1.0) / np.sqrt(denom) / np.sqrt(2.0)))
    return skew, kurt - 3.0, psr


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
    skew, kurt, psr = moments_nb(n, acc[A_SUM], acc[A_SUM2], acc[A_SUM3], acc[A_SUM4], mean, std)
    out[0] = total
    out[1] = cagr
    out[2] = std * np.sqrt(ppy)
    out[3] = mean / std * np.sqrt(ppy) if std > 0.0 else np.nan
    out[4] = mean / down * np.sqrt(ppy) if down > 0.0 else np.nan
    out[5] = cagr / -acc[A_MAX_DD] if acc[A_MAX_DD] < 0.0 else np.nan
    out[6] = acc[A_POS] / acc[A_NEG] if acc[A_NEG] > 0.0 else np.nan
    out[7] = skew
    out[8] = kurt
    out[9] = psr
    out[10] = acc[A_MAX_DD]
    out[11] = acc[A_MAX_DD_DUR]
    out[12] = closed + acc[A_OPEN]
    out[13] = acc[A_OPEN]
    out[14] = acc[A_WINS] / closed if closed > 0.0 else np.nan
    out[15] = acc[A_GROSS_WIN] / acc[A_GROSS_LOSS] if acc[A_GROSS_LOSS] > 0.0 else np.nan
    out[16] = (acc[A_GROSS_WIN] - acc[A_GROSS_LOSS]) / closed if closed > 0.0 else np.nan
    out[17] = acc[A_SUM_WIN_RET] / acc[A_WINS] if acc[A_WINS] > 0.0 else np.nan
    out[18] = acc[A_SUM_LOSS_RET] / acc[A_LOSSES] if acc[A_LOSSES] > 0.0 else np.nan
    out[19] = acc[A_BEST]
    out[20] = acc[A_WORST]
    out[21] = acc[A_SUM_BARS] / closed if closed > 0.0 else np.nan
    out[22] = acc[A_EXPOSED] / n if n > 0.0 else np.nan
    out[23] = acc[A_FEES]
    out[24] = final
    out[25] = buy_hold
