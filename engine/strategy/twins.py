"""Random-entry twins: does the strategy's timing beat chance at the same exposure?

A twin is a strategy with the run's own trades, the same number of them, each with
its holding time (bars held) and side, kept together, but entered at random bars
(seeded): the trades are shuffled and laid out in the tradable bars with uniformly
random gaps between them, so no two overlap (all such layouts are equally likely:
the gaps are a uniform random composition of the slack). A twin trades with the
run's engine settings (fees, slippage, size, leverage, carrying costs) and the
non-exit fields of its signals, but without its stops: their effect is already in
the holding times it copies. The twins run as columns side by side in one engine
pass per chunk of columns.

The strategy's percentile among its twins (scipy's ``percentileofscore``, ties
counted half) says where its timing ranks; the one-sided Monte Carlo p-value
(1 + twins at least as good) / (1 + twins) (Phipson and Smyth, 2010) says whether
that rank is rare under random timing.

Tradable bars: from ``start`` (the first bar the strategy could act on: its first
out-of-sample prediction, or its first defined target) to the last bar whose
decision still fills. A decision at bar d fills at d + 1's open (``next_open``) or
at d's close (``close``); a twin trade held h bars decides its entry at d and its
exit at d + h.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlbt.sim import Result, Signals, backtest

log = logging.getLogger(__name__)

LEVEL = 0.05  #: significance level of the run's verdicts (the twins' p-value, the PSR)
#: The twins' equity band: these percentiles of the twins' account value, per drawn bar.
BAND = (5.0, 50.0, 95.0)
BAND_POINTS = 2000  # bars at which the band is kept (evenly spaced)
CHUNK = 250  # twins per engine pass: bounds the (bars x twins) target and equity arrays
EXIT_FIELDS = ("sl", "tp", "trail", "max_hold")  # what the twins leave out: their holding times say it


@dataclass
class Twins:
    """The strategy among ``n`` random-entry twins (per-twin arrays in ``sharpe`` and
    ``total_return``; ``band``: the 5th, 50th and 95th percentiles of the twins'
    account value at up to BAND_POINTS bars, a frame on the bars' timestamps)."""

    n: int
    seed: int
    trades: int
    start: int
    strategy_sharpe: float
    strategy_return: float
    sharpe: np.ndarray = field(repr=False)
    total_return: np.ndarray = field(repr=False)
    band: pd.DataFrame | None = field(default=None, repr=False)

    def _finite(self, values: np.ndarray) -> np.ndarray:
        return values[np.isfinite(values)]

    def percentile(self, values: np.ndarray, score: float) -> float:
        """The percent of twins below ``score`` (ties count half); NaN when undefined."""
        from scipy.stats import percentileofscore  # scipy: loaded only when twins are ranked

        v = self._finite(values)
        return float(percentileofscore(v, score, kind="mean")) if len(v) and np.isfinite(score) else float("nan")

    def p_value(self, values: np.ndarray, score: float) -> float:
        """One-sided: (1 + twins at least ``score``) / (1 + twins); NaN when undefined."""
        v = self._finite(values)
        return float((1 + (v >= score).sum()) / (1 + len(v))) if len(v) and np.isfinite(score) else float("nan")

    def band_of(self, values: np.ndarray) -> list[float]:
        v = self._finite(values)
        return [float(np.percentile(v, BAND[0])), float(np.percentile(v, BAND[2]))] if len(v) else [np.nan, np.nan]

    def median(self, values: np.ndarray) -> float:
        v = self._finite(values)
        return float(np.median(v)) if len(v) else float("nan")

    @property
    def verdict(self) -> str:
        if self.trades == 0:
            return "no twins: the strategy made no trade to copy"
        p = self.p_value(self.sharpe, self.strategy_sharpe)
        if not np.isfinite(p):
            return "no verdict: the strategy's Sharpe ratio is undefined"
        beats = self.percentile(self.sharpe, self.strategy_sharpe)
        where = f"Sharpe above {beats:.0f}% of {self.n:,} random-entry twins (p={p:.3g})"
        return f"{where}: {'evidence' if p < LEVEL else 'no evidence'} of timing skill at {LEVEL:.0%}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``bt run --twins``: percentiles in percent, Sharpe ratios annualized
        (the engine's ``sharpe``), returns as fractions, bands [5th, 95th] percentile."""
        return {"n": self.n, "seed": self.seed, "trades": self.trades, "start_bar": self.start,
                "percentile_sharpe": self.percentile(self.sharpe, self.strategy_sharpe),
                "percentile_return": self.percentile(self.total_return, self.strategy_return),
                "median_sharpe": self.median(self.sharpe), "band_sharpe": self.band_of(self.sharpe),
                "median_return": self.median(self.total_return), "band_return": self.band_of(self.total_return),
                "p_value": self.p_value(self.sharpe, self.strategy_sharpe), "verdict": self.verdict}


def schedule(holds: np.ndarray, sides: np.ndarray, start: int, slots: int, n: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decision bars of ``n`` twins' trades: (entry bars (n, K), holds (n, K), sides
    (n, K)). Each twin is a random permutation of the K (hold, side) pairs laid out in
    decision bars start .. start + slots - 1 (a trade held h takes h + 1 of them, its
    entry at d and its exit at d + h), the gaps a uniform random composition of the
    slack. Holds are at least 1; when the trades do not fit (slack < 0), the longest
    are shortened one bar at a time until they do."""
    holds = np.maximum(np.asarray(holds, dtype=np.int64), 1)
    K = len(holds)
    while K and holds.sum() + K > slots and holds.max() > 1:
        holds[np.argmax(holds)] -= 1
    slack = slots - int(holds.sum()) - K
    if slack < 0:
        raise ValueError(f"--twins: {K} trades do not fit in {slots} tradable bars")
    order = rng.permuted(np.tile(np.arange(K), (n, 1)), axis=1)
    h, s = holds[order], np.asarray(sides)[order]
    gaps = np.sort(np.stack([rng.choice(slack + K, K, replace=False) for _ in range(n)]), axis=1) if K else \
        np.zeros((n, 0), dtype=np.int64)
    before = np.cumsum(h, axis=1) - h  # bars held by the trades laid out before each
    return start + gaps + before, h, s


def twin_targets(entries: np.ndarray, holds: np.ndarray, sides: np.ndarray, T: int) -> np.ndarray:
    """(T, n) targets of the twins: the side at each entry decision, 0 at its exit
    decision (when it is within the bars), NaN (keep) elsewhere."""
    n, K = entries.shape
    target = np.full((T, n), np.nan)
    cols = np.repeat(np.arange(n), K)
    target[entries.reshape(-1), cols] = sides.reshape(-1)
    exits = (entries + holds).reshape(-1)
    inside = exits < T
    target[exits[inside], cols[inside]] = 0.0
    return target


def _twin_fields(signals: Signals) -> dict[str, Any]:
    """The run's signal fields a twin keeps (size, leverage, carrying costs): one column's
    values, a per-bar series as a Series so it applies to every twin column."""
    keep = {}
    for name, value in signals.settings().items():
        if value is None or name in EXIT_FIELDS:
            continue
        if isinstance(value, pd.DataFrame):
            value = value.iloc[:, 0]
        elif isinstance(value, np.ndarray) and value.ndim == 2:
            value = value[:, 0]
        keep[name] = value
    return keep


def tradable_start(signals: Signals, folds: list[dict[str, Any]]) -> int:
    """The first bar the strategy could act on: its first defined target (of the first
    column), and not before its first walk-forward fold's first predicted bar."""
    target = np.asarray(signals.target, dtype="float64")
    target = target.reshape(len(target), -1)[:, 0]
    defined = np.flatnonzero(np.isfinite(target))
    first = int(defined[0]) if len(defined) else len(target)
    return max([first, *(int(f["predict_start"]) for f in folds[:1])])


def random_twins(bars: pd.DataFrame, result: Result, signals: Signals, engine: Any, n: int, *, seed: int = 0,
                 start: int = 0) -> Twins:
    """``n`` random-entry twins of the strategy whose run is ``result`` (its first column,
    with its ``signals`` and ``engine`` settings, a mapping of backtest keywords) on
    ``bars``, entering from bar ``start`` on; with no trade to copy, a Twins of none
    (empty arrays, NaN figures). Progress is logged per chunk."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"--twins {n!r}: give a number of twins >= 1")
    trades = result.trades
    if len(result.columns) > 1:
        trades = trades[trades["col"] == 0]
    stats = result.stats.iloc[0] if result.stats.ndim == 2 else result.stats
    if not len(trades):
        return Twins(n=0, seed=seed, trades=0, start=start, strategy_sharpe=float(stats["sharpe"]),
                     strategy_return=float(stats["total_return"]), sharpe=np.empty(0), total_return=np.empty(0))
    T = len(bars)
    settings = {k: v for k, v in dict(engine).items() if k not in EXIT_FIELDS}
    slots = T - start - (1 if settings.get("fill", "next_open") == "next_open" else 0)
    holds = trades["bars_held"].to_numpy(dtype=np.int64)
    sides = np.where(trades["side"].to_numpy() == "long", 1.0, -1.0)
    rng = np.random.default_rng(seed)
    fields = _twin_fields(signals)
    points = np.unique(np.linspace(0, T - 1, min(BAND_POINTS, T)).astype(np.int64))
    sharpe, total, sampled = [], [], []
    for first in range(0, n, CHUNK):
        m = min(CHUNK, n - first)
        entries, h, s = schedule(holds, sides, start, slots, m, rng)
        run = backtest(bars, Signals(twin_targets(entries, h, s, T), **fields), **settings)
        st = run.stats if m > 1 else run.stats.to_frame().T
        sharpe.append(st["sharpe"].to_numpy(dtype="float64"))
        total.append(st["total_return"].to_numpy(dtype="float64"))
        sampled.append(np.asarray(run.equity.to_numpy(), dtype="float64").reshape(T, m)[points])
        log.info("twins: %d/%d simulated", first + m, n, extra={"progress": {"task": "twins", "done": first + m,
                                                                              "total": n}})
    values = np.hstack(sampled)
    band = pd.DataFrame(np.percentile(values, BAND, axis=1).T, index=bars.index[points],
                        columns=[f"p{int(q)}" for q in BAND])
    return Twins(n=n, seed=seed, trades=len(trades), start=start, strategy_sharpe=float(stats["sharpe"]),
                 strategy_return=float(stats["total_return"]), sharpe=np.concatenate(sharpe),
                 total_return=np.concatenate(total), band=band)
