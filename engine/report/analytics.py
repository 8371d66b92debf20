"""What a tearsheet shows beyond the engine's metrics: drawdown episodes, calendar
returns, rolling statistics, histograms; and buy-and-hold, which the engine itself
simulates so its metrics have the strategy's definitions. Conventions match
``mlbt.sim.stats_nb`` (bar return r_t = E_t / E_{t-1} - 1 with E_{-1} the initial
cash, risk-free rate 0, annualized with ``ppy`` bars a year)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mlbt.sim import Result, Signals, backtest


def buy_and_hold(close: pd.Series, cash: float, ppy: float) -> Result:
    """``cash`` invested at the first valid close and held, simulated by the engine
    itself (a +1 target filled at that close, no fees), so its metrics are the
    strategy's own definitions: ``.equity`` per bar and ``.stats``."""
    c = close.to_numpy(dtype="float64")
    first = int(np.argmax(np.isfinite(c))) if np.isfinite(c).any() else 0
    target = np.full(len(c), np.nan)
    target[first] = 1.0
    bars = pd.DataFrame({"open": c, "high": c, "low": c, "close": c}, index=close.index)
    return backtest(bars, Signals(target), cash=cash, fill="close", periods_per_year=ppy)


def universe_buy_and_hold(closes: pd.DataFrame, cash: float, ppy: float) -> Result:
    """Equal-weight buy-and-hold of a universe (``closes``: a column per asset): 1/n of
    ``cash`` per asset, held as cash until the asset's first valid close, bought there
    (no fees) and held, never rebalanced; assets listed later keep their share. Its
    ``.equity`` is the sum of the n sub-accounts, its ``.stats`` the engine's metrics of
    that curve (simulated as one held asset whose price is the curve)."""
    c = closes.to_numpy(dtype="float64")
    n = max(c.shape[1], 1)
    held = pd.DataFrame(c, index=closes.index).ffill().to_numpy()
    listed = np.isfinite(c)
    first = np.where(listed.any(axis=0), c[listed.argmax(axis=0), np.arange(c.shape[1])], np.nan)
    growth = np.where(np.isfinite(held), held / first, 1.0)  # 1 before listing: the share waits as cash
    curve = pd.Series(cash / n * growth.sum(axis=1), index=closes.index)
    return buy_and_hold(curve, cash, ppy)


def bar_returns(equity: pd.Series, cash: float) -> np.ndarray:
    """r_t = E_t / E_{t-1} - 1 with E_{-1} = ``cash`` (the engine's bar return)."""
    e = equity.to_numpy(dtype="float64")
    return e / np.r_[cash, e[:-1]] - 1.0


def drawdown(equity: pd.Series, cash: float) -> pd.Series:
    """Underwater curve: E_t / max(cash, E_0..E_t) - 1 (0 at a new high, negative below)."""
    e = equity.to_numpy(dtype="float64")
    peak = np.maximum.accumulate(np.r_[cash, e])[1:]
    return pd.Series(e / peak - 1.0, index=equity.index)


def worst_drawdowns(equity: pd.Series, cash: float, n: int = 5) -> pd.DataFrame:
    """The ``n`` deepest drawdown episodes, deepest first: peak (last high before the
    fall), trough, recovery (first bar back at the peak; NaT while still under
    water), depth (fraction, negative), bars from peak to trough and peak to recovery."""
    dd = drawdown(equity, cash).to_numpy()
    idx = equity.index
    under = dd < 0
    cols = ["peak", "trough", "recovery", "depth", "bars_to_trough", "bars_underwater"]
    if not under.any():
        return pd.DataFrame(columns=cols)
    change = np.flatnonzero(np.diff(np.r_[0, under.view(np.int8), 0]))
    starts, ends = change[::2], change[1::2]  # under water on [start, end)
    troughs = np.minimum.reduceat(dd, starts)
    order = np.argsort(troughs, kind="stable")[:n]
    rows = []
    for k in order:
        s, e = starts[k], ends[k]
        t = s + int(np.argmin(dd[s:e]))
        peak_bar = s - 1
        rows.append({
            "peak": idx[peak_bar] if peak_bar >= 0 else pd.NaT, "trough": idx[t],
            "recovery": idx[e] if e < len(dd) else pd.NaT, "depth": float(dd[t]),
            "bars_to_trough": int(t - peak_bar), "bars_underwater": int(e - peak_bar) if e < len(dd) else None,
        })
    return pd.DataFrame(rows, columns=cols)


def period_returns(equity: pd.Series, cash: float, freq: str) -> pd.Series:
    """Compounded return of each calendar period (``freq``: "ME" month, "YE" year):
    last equity of the period over the last equity before it (``cash`` first)."""
    last = equity.resample(freq).last().ffill()
    prev = last.shift(1)
    prev.iloc[0] = cash
    return last / prev - 1.0


def monthly_table(equity: pd.Series, cash: float) -> pd.DataFrame:
    """Monthly returns as a year x month (1..12) table, NaN for months without bars."""
    m = period_returns(equity, cash, "ME")
    frame = pd.DataFrame({"year": m.index.year, "month": m.index.month, "ret": m.to_numpy()})
    return frame.pivot(index="year", columns="month", values="ret").reindex(columns=range(1, 13))


def rolling_window(ppy: float, n_bars: int) -> int:
    """Bars in the rolling window: about one month (ppy / 12), at least 20 and at
    most a quarter of the run (but never below 2)."""
    return int(max(2, min(max(20, round(ppy / 12)), n_bars // 4)))


def rolling_sharpe_vol(equity: pd.Series, cash: float, ppy: float, window: int) -> pd.DataFrame:
    """Annualized rolling Sharpe (mean / std ddof 1 x sqrt(ppy)) and volatility
    (std x sqrt(ppy)) of bar returns over ``window`` bars; NaN until the window fills."""
    r = pd.Series(bar_returns(equity, cash), index=equity.index)
    roll = r.rolling(window)
    mean, sd = roll.mean(), roll.std(ddof=1)
    scale = math.sqrt(ppy)
    sharpe = (mean / sd.where(sd > 0)) * scale
    return pd.DataFrame({"sharpe": sharpe, "volatility": sd * scale})


def histogram(values: np.ndarray, bins: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of the finite values, ``bins`` equal-width bins."""
    v = np.asarray(values, dtype="float64")
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(1)
    return np.histogram(v, bins=bins)
