"""Streaming performance metrics, folded bar by bar inside the simulation pass.

Pure numba over two small named accumulators per column (``Curve``: the equity curve;
``TradeStats``: the closed trades), so a sweep of many columns never materialises a
bars x columns equity array. Each metric is defined here once:

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
  the true per-bar Sharpe exceeds a benchmark SR*: Z[(SR - SR*) sqrt(T - 1) /
  sqrt(1 - skew SR + (kurtosis + 2) / 4 SR^2)] with SR = mean(r) / std(r, ddof=1) per
  bar, Z the standard normal CDF (``probabilistic_sharpe_nb``; the ``psr`` metric is
  against SR* = 0, the sweep's deflated Sharpe against the best of N null trials);
- max drawdown = min over bars of E_t / max(E_-1..E_t) - 1; ``max_dd_duration`` = bars
  the deepest drawdown's episode spent below its peak;
- ``bankrupt`` is 1 when the column went bankrupt (execution rule 11), else 0, and
  ``bankrupt_bar`` the bar it did (NaN: never);
- ``funding_paid`` and ``borrow_paid``: the funding (negative: received) and borrow
  costs of every position, in currency (execution rules 12 and 13);
- trade statistics use closed trades only (the open trade at the end is marked to
  market in equity but is not a win or a loss yet); returns are pnl / entry value.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

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
    "bankrupt",
    "bankrupt_bar",
    "funding_paid",
    "borrow_paid",
)
N_STATS = len(STAT_NAMES)
#: Metrics where a smaller value ranks better (sweeps, reports); all others rank high first.
LOWER_IS_BETTER = frozenset({"ann_volatility", "kurtosis", "max_dd_duration", "fees_paid", "bankrupt"})

#: The unit of each metric, which the reports format by: ``fraction`` (shown as a
#: percent), ``ratio`` (a dimensionless number), ``count``, ``bars`` (a duration in bars),
#: ``currency`` (in the account's cash), ``flag`` (0 or 1) and ``bar`` (a bar number).
STAT_UNITS = {
    "total_return": "fraction", "cagr": "fraction", "ann_volatility": "fraction", "sharpe": "ratio",
    "sortino": "ratio", "calmar": "ratio", "omega": "ratio", "skew": "ratio", "kurtosis": "ratio", "psr": "ratio",
    "max_drawdown": "fraction", "max_dd_duration": "bars", "trades": "count", "open_trades": "count",
    "win_rate": "fraction", "profit_factor": "ratio", "expectancy": "currency", "avg_win": "fraction",
    "avg_loss": "fraction", "best_trade": "fraction", "worst_trade": "fraction", "avg_bars_held": "bars",
    "exposure": "fraction", "fees_paid": "currency", "final_equity": "currency", "buy_hold_return": "fraction",
    "bankrupt": "flag", "bankrupt_bar": "bar", "funding_paid": "currency", "borrow_paid": "currency",
}
#: The metrics in the groups a reader scans them by, in reading order (each metric once).
STAT_GROUPS = (
    ("return", ("total_return", "cagr", "final_equity")),
    ("risk", ("ann_volatility", "max_drawdown", "max_dd_duration", "skew", "kurtosis", "bankrupt", "bankrupt_bar")),
    ("risk-adjusted", ("sharpe", "sortino", "calmar", "omega", "psr")),
    ("trades", ("trades", "open_trades", "win_rate", "profit_factor", "expectancy", "avg_win", "avg_loss",
                "best_trade", "worst_trade", "avg_bars_held", "exposure")),
    ("costs", ("fees_paid", "funding_paid", "borrow_paid")),
    ("against buy-and-hold", ("buy_hold_return",)),
)
assert sorted(STAT_UNITS) == sorted(STAT_NAMES) == sorted(k for _, ks in STAT_GROUPS for k in ks)


class Curve(NamedTuple):
    """The equity curve folded so far: power sums of the bar returns and the drawdown
    state (bar numbers as floats)."""

    bars: float          # bars folded
    sum1: float          # sum of the bar returns r
    sum2: float          # sum of r^2
    sum3: float          # sum of r^3
    sum4: float          # sum of r^4
    down2: float         # sum of min(r, 0)^2
    gains: float         # sum of max(r, 0)
    losses: float        # sum of max(-r, 0)
    prev: float          # equity of the last bar folded (the initial cash before any)
    peak: float          # highest equity so far (the initial cash counts)
    peak_bar: float      # bar of that peak (-1: the initial cash)
    episode_min: float   # deepest drawdown of the current episode (from the peak until it is regained)
    episode_low: float   # equity at which episode_min was set
    max_dd: float        # deepest drawdown so far (<= 0)
    max_dd_bars: float   # bars below the peak of the episode holding max_dd, measured so far
    exposed: float       # bars that ended with a position


class TradeStats(NamedTuple):
    """Closed trades folded so far, and every fee paid."""

    closed: float
    wins: float
    losses: float
    gross_win: float
    gross_loss: float
    sum_win_return: float
    sum_loss_return: float
    best: float          # best trade return (NaN before the first)
    worst: float
    sum_bars: float      # bars held, summed
    open: float          # 1 when a position is still open at the end
    fees: float          # fees of every fill, the open trade's entry included
    funding: float       # funding paid (negative: received), execution rule 12
    borrow: float        # borrow paid on shorts, execution rule 13


@njit(cache=True, nogil=True)
def new_curve(init_cash: float) -> Curve:
    """An empty Curve for a column starting with ``init_cash``."""
    return Curve(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, init_cash, init_cash, -1.0, 0.0, init_cash, 0.0, 0.0, 0.0)


@njit(cache=True, nogil=True)
def add_bars(curve: Curve, first_bar: int, equity: np.ndarray, n: int, exposed: int) -> Curve:
    """``curve`` with ``n`` bars from bar number ``first_bar`` added, closing at
    ``equity[:n]`` (in bar order); ``exposed``: how many of them end with a position.
    The sums run in local variables, in the same order as one bar at a time."""
    c = curve
    s1, s2, s3, s4, down2, gains, losses = c.sum1, c.sum2, c.sum3, c.sum4, c.down2, c.gains, c.losses
    prev, peak, ep_min, ep_low, max_dd = c.prev, c.peak, c.episode_min, c.episode_low, c.max_dd
    # Bar numbers as integers in the loop: kept in general registers, they leave the
    # 16 vector registers to the sums (measured: fewer spills, 10% fewer instructions).
    peak_bar, max_dd_bars = int(c.peak_bar), int(c.max_dd_bars)
    for k in range(n):
        e = equity[k]
        r = e / prev - 1.0 if prev != 0.0 else 0.0
        # Plain sums, not Welford: no division in the loop-carried chain, and bar
        # returns have |mean| << std, so the variance formula loses nothing measurable.
        s1 += r
        r2 = r * r
        s2 += r2
        s3 += r2 * r
        s4 += r2 * r2
        # min/max compile to branch-free selects (a branch on the sign of r mispredicts
        # half the time); adding 0.0 leaves a sum unchanged, so these equal the
        # one-sided sums. A NaN r (never with valid prices) makes them NaN.
        neg = min(r, 0.0)
        down2 += neg * neg
        losses -= neg
        gains += max(r, 0.0)
        prev = e
        if e >= peak:  # a new high ends the drawdown episode
            peak = e
            peak_bar = first_bar + k
            ep_min = 0.0
            ep_low = e
        else:
            # dd = e / peak - 1 is monotone in e (the peak is fixed within the episode),
            # so only equity below the episode's low can set a new minimum (max_dd <=
            # ep_min): the division runs only then.
            if e < ep_low:
                dd = e / peak - 1.0
                if dd < ep_min:
                    ep_min = dd
                    ep_low = e
                if dd < max_dd:
                    max_dd = dd
            if ep_min <= max_dd:  # this episode holds the deepest drawdown: its duration so far
                max_dd_bars = first_bar + k - peak_bar
    return Curve(c.bars + n, s1, s2, s3, s4, down2, gains, losses, prev, peak, float(peak_bar), ep_min, ep_low, max_dd,
                 float(max_dd_bars), c.exposed + exposed)


@njit(cache=True, nogil=True, inline="always")
def add_flat(curve: Curve, first_bar: int, n_bars: int, equity: float) -> Curve:
    """``curve`` with ``n_bars`` bars from ``first_bar`` added that all close at
    ``equity`` with no position: the same as ``add_bars`` on each, in O(1) when
    ``equity`` is also the previous bar's (their returns are exactly 0, which leaves
    every sum as it is; only the bar count and the peak bar or the drawdown duration
    move)."""
    if not (equity == curve.prev and np.isfinite(equity)):
        one = np.full(1, equity)
        for k in range(n_bars):
            curve = add_bars(curve, first_bar + k, one, 1, 0)
        return curve
    c = curve
    last = float(first_bar + n_bars - 1)
    peak, peak_bar, ep_min, ep_low, max_dd_bars = c.peak, c.peak_bar, c.episode_min, c.episode_low, c.max_dd_bars
    if equity >= peak:
        peak, peak_bar, ep_min, ep_low = equity, last, 0.0, equity
    elif ep_min <= c.max_dd:
        max_dd_bars = last - peak_bar
    return Curve(c.bars + n_bars, c.sum1, c.sum2, c.sum3, c.sum4, c.down2, c.gains, c.losses, c.prev, peak, peak_bar,
                 ep_min, ep_low, c.max_dd, max_dd_bars, c.exposed)


@njit(cache=True, nogil=True, inline="always")
def block_end(b: int, n_blocks: int, n_bars: int) -> int:
    """The first bar after return block ``b``: the T bars split into ``n_blocks``
    contiguous blocks, block b = bars [floor(b T / S), floor((b + 1) T / S)) (the
    probability of backtest overfitting, ``mlbt.sweep.pbo``, reads them)."""
    return ((b + 1) * n_bars) // n_blocks


@njit(cache=True, nogil=True, inline="always")
def first_block_ending_at(bar: int, n_blocks: int, n_bars: int) -> int:
    """The first block whose end is at or after ``bar``: block_end(b) >= bar exactly when
    (b + 1) T >= bar S."""
    return max((bar * n_blocks + n_bars - 1) // n_bars - 1, 0) if n_bars > 0 else 0


@njit(cache=True, nogil=True)
def snap_blocks(curve: Curve, blocks: np.ndarray, lo: int, hi: int, n_bars: int) -> None:
    """Record ``curve``'s running sums at every block end in [lo, hi): ``blocks[b]`` =
    the sum of the bar returns of bars before block b's end, ``blocks[S + b]`` the sum
    of their squares (S = len(blocks) // 2; the per-block sums are their differences).
    ``curve`` must hold exactly the bars before each such end."""
    n_blocks = blocks.shape[0] // 2
    b = first_block_ending_at(lo, n_blocks, n_bars)
    while b < n_blocks:
        end = block_end(b, n_blocks, n_bars)
        if end >= hi:
            break
        if end >= lo:
            blocks[b] = curve.sum1
            blocks[n_blocks + b] = curve.sum2
        b += 1


@njit(cache=True, nogil=True)
def add_bars_blocked(curve: Curve, first_bar: int, equity: np.ndarray, n: int, exposed: int, blocks: np.ndarray,
                     n_bars: int) -> Curve:
    """``add_bars``, and the running sums recorded at each block end the bars pass
    (``snap_blocks``; ``blocks`` empty: nothing recorded, no cost). ``n_bars``: the
    column's T."""
    if blocks.shape[0] == 0:
        return add_bars(curve, first_bar, equity, n, exposed)
    n_blocks = blocks.shape[0] // 2
    k = 0
    b = first_block_ending_at(first_bar, n_blocks, n_bars)
    while b < n_blocks:
        end = block_end(b, n_blocks, n_bars) - first_bar  # the block end, as an index into equity
        if end >= n:
            break
        if end > k:
            curve = add_bars(curve, first_bar + k, equity[k:end], end - k, exposed)
            exposed = 0
            k = end
        if end >= k:
            blocks[b] = curve.sum1
            blocks[n_blocks + b] = curve.sum2
        b += 1
    if k < n:
        curve = add_bars(curve, first_bar + k, equity[k:n], n - k, exposed)
    return curve


@njit(cache=True, nogil=True)
def add_flat_blocked(curve: Curve, first_bar: int, n: int, equity: float, blocks: np.ndarray, n_bars: int) -> Curve:
    """``add_flat``, and the running sums recorded at each block end the bars pass: only
    the first of flat bars can have a return (from the previous equity to ``equity``),
    so a block end at ``first_bar`` gets the sums before it, later ends those after
    (``blocks`` has the block ends: the kernel calls ``add_flat`` when none are asked for)."""
    snap_blocks(curve, blocks, first_bar, first_bar + 1, n_bars)
    curve = add_flat(curve, first_bar, n, equity)
    snap_blocks(curve, blocks, first_bar + 1, first_bar + n, n_bars)
    return curve


@njit(cache=True, nogil=True)
def close_blocks(curve: Curve, blocks: np.ndarray, n_bars: int) -> None:
    """After the last bar: the running sums at the end of the data (the last block's end)."""
    if blocks.shape[0] > 0:
        snap_blocks(curve, blocks, n_bars, n_bars + 1, n_bars)


@njit(cache=True, nogil=True)
def new_trade_stats() -> TradeStats:
    return TradeStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.nan, np.nan, 0.0, 0.0, 0.0, 0.0, 0.0)


@njit(cache=True, nogil=True)
def add_trade(stats: TradeStats, pnl: float, ret: float, bars_held: int) -> TradeStats:
    """``stats`` with one closed trade added (pnl in currency, ret = pnl / entry value)."""
    s = stats
    win, loss = pnl > 0.0, pnl < 0.0
    return TradeStats(
        s.closed + 1.0, s.wins + (1.0 if win else 0.0), s.losses + (1.0 if loss else 0.0),
        s.gross_win + pnl if win else s.gross_win, s.gross_loss - pnl if loss else s.gross_loss,
        s.sum_win_return + ret if win else s.sum_win_return, s.sum_loss_return + ret if loss else s.sum_loss_return,
        s.best if ret <= s.best else ret, s.worst if ret >= s.worst else ret, s.sum_bars + bars_held, s.open,
        s.fees, s.funding, s.borrow)


@njit(cache=True, nogil=True)
def add_fee(stats: TradeStats, fee: float) -> TradeStats:
    """``stats`` with a fill's fee added."""
    s = stats
    return TradeStats(s.closed, s.wins, s.losses, s.gross_win, s.gross_loss, s.sum_win_return, s.sum_loss_return,
                      s.best, s.worst, s.sum_bars, s.open, s.fees + fee, s.funding, s.borrow)


@njit(cache=True, nogil=True)
def add_open(stats: TradeStats) -> TradeStats:
    """``stats`` with the position still open at the end counted."""
    s = stats
    return TradeStats(s.closed, s.wins, s.losses, s.gross_win, s.gross_loss, s.sum_win_return, s.sum_loss_return,
                      s.best, s.worst, s.sum_bars, s.open + 1.0, s.fees, s.funding, s.borrow)


@njit(cache=True, nogil=True)
def add_carry(stats: TradeStats, funding: float, borrow: float) -> TradeStats:
    """``stats`` with a funding payment and a borrow cost added (currency)."""
    s = stats
    return TradeStats(s.closed, s.wins, s.losses, s.gross_win, s.gross_loss, s.sum_win_return, s.sum_loss_return,
                      s.best, s.worst, s.sum_bars, s.open, s.fees, s.funding + funding, s.borrow + borrow)


@njit(cache=True, nogil=True)
def probabilistic_sharpe_nb(sr: float, benchmark: float, n: float, skew: float, kurt: float) -> float:
    """PSR: the probability that the true per-bar Sharpe ratio exceeds ``benchmark``,
    given an estimate ``sr`` from ``n`` returns with this ``skew`` and (non-excess)
    kurtosis ``kurt``; NaN when it is undefined."""
    denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if not (n > 1.0 and denom > 0.0 and np.isfinite(denom)):
        return np.nan
    return 0.5 * (1.0 + math.erf((sr - benchmark) * np.sqrt(n - 1.0) / np.sqrt(denom) / np.sqrt(2.0)))


@njit(cache=True, nogil=True)
def shape_nb(n: float, s1: float, s2: float, s3: float, s4: float, mean: float) -> tuple[float, float]:
    """(skew, non-excess kurtosis) of n bar returns from their power sums s1..s4 and
    mean; NaN where the returns are constant or too few. The central moments come from
    the raw sums: bar returns have |mean| << std, so the cancellation costs nothing
    measurable (the tests compare with numpy on the curve)."""
    if n < 2.0:
        return np.nan, np.nan
    m2 = s2 / n - mean * mean
    if not m2 > 1e-12 * (s2 / n):  # constant returns (all 0 when never traded): no shape
        return np.nan, np.nan
    m3 = s3 / n - 3.0 * mean * s2 / n + 2.0 * mean * mean * mean
    m4 = s4 / n - 4.0 * mean * s3 / n + 6.0 * mean * mean * s2 / n - 3.0 * mean * mean * mean * mean
    return m3 / m2**1.5, m4 / (m2 * m2)


@njit(cache=True, nogil=True)
def finish(curve: Curve, trades: TradeStats, out: np.ndarray, init_cash: float, ppy: float, buy_hold: float,
           bankrupt_bar: int) -> None:
    """Write the metrics named in STAT_NAMES into ``out`` (length N_STATS);
    ``bankrupt_bar``: the bar the column went bankrupt (-1: never)."""
    c, t = curve, trades
    n = c.bars
    final = c.prev
    mean = c.sum1 / n if n > 0.0 else np.nan
    var = (c.sum2 - c.sum1 * mean) / (n - 1.0) if n > 1.0 else np.nan
    std = np.sqrt(max(var, 0.0))
    down = np.sqrt(c.down2 / n) if n > 0.0 else np.nan
    cagr = (final / init_cash) ** (ppy / n) - 1.0 if final > 0.0 and n > 0.0 else -1.0
    skew, kurt = shape_nb(n, c.sum1, c.sum2, c.sum3, c.sum4, mean)
    psr = probabilistic_sharpe_nb(mean / std, 0.0, n, skew, kurt) if std > 0.0 else np.nan
    closed = t.closed
    out[0] = final / init_cash - 1.0
    out[1] = cagr
    out[2] = std * np.sqrt(ppy)
    out[3] = mean / std * np.sqrt(ppy) if std > 0.0 else np.nan
    out[4] = mean / down * np.sqrt(ppy) if down > 0.0 else np.nan
    out[5] = cagr / -c.max_dd if c.max_dd < 0.0 else np.nan
    out[6] = c.gains / c.losses if c.losses > 0.0 else np.nan
    out[7] = skew
    out[8] = kurt - 3.0
    out[9] = psr
    out[10] = c.max_dd
    out[11] = c.max_dd_bars
    out[12] = closed + t.open
    out[13] = t.open
    out[14] = t.wins / closed if closed > 0.0 else np.nan
    out[15] = t.gross_win / t.gross_loss if t.gross_loss > 0.0 else np.nan
    out[16] = (t.gross_win - t.gross_loss) / closed if closed > 0.0 else np.nan
    out[17] = t.sum_win_return / t.wins if t.wins > 0.0 else np.nan
    out[18] = t.sum_loss_return / t.losses if t.losses > 0.0 else np.nan
    out[19] = t.best
    out[20] = t.worst
    out[21] = t.sum_bars / closed if closed > 0.0 else np.nan
    out[22] = c.exposed / n if n > 0.0 else np.nan
    out[23] = t.fees
    out[24] = final
    out[25] = buy_hold
    out[26] = 1.0 if bankrupt_bar >= 0 else 0.0
    out[27] = float(bankrupt_bar) if bankrupt_bar >= 0 else np.nan
    out[28] = t.funding
    out[29] = t.borrow
