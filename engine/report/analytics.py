"""Numbers a tearsheet shows that the engine does not compute: buy-and-hold curve and
its metrics, drawdown episodes, calendar returns, rolling statistics, histograms.
Pure functions over pandas/numpy; conventions match ``mlbt.sim.stats_nb`` (bar return
r_t = E_t / E_{t-1} - 1 with E_{-1} the initial cash, risk-free rate 0, annualized
with ``ppy`` bars a year)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mlbt.sweep.dsr import probabilistic_sharpe, return_moments

#: Metrics computed from an equity curve alone (the rows a buy-and-hold column fills).
CURVE_STATS = ("total_return", "cagr", "ann_volatility", "sharpe", "sortino", "calmar", "omega", "skew", "kurtosis",
               "psr", "max_drawdown", "max_dd_duration", "final_equity")


def buy_and_hold(close: pd.Series, cash: float) -> pd.Series:
    """Equity of ``cash`` invested at the first valid close and held (no fees), marked
    at each close (the last valid close over NaN bars; ``cash`` before the first)."""
    c = close.ffill()
    first = c.first_valid_index()
    if first is None:
        return pd.Series(cash, index=close.index, dtype="float64")
    return (cash * c / c.loc[first]).fillna(cash).astype("float64")


def bar_returns(equity: pd.Series, cash: float) -> np.ndarray:
    """r_t = E_t / E_{t-1} - 1 with E_{-1} = ``cash``."""
    e = equity.to_numpy(dtype="float64")
    return e / np.r_[cash, e[:-1]] - 1.0


def curve_stats(equity: pd.Series, cash: float, ppy: float) -> dict[str, float]:
    """CURVE_STATS of an equity curve, with the engine's definitions (Sharpe with std
    ddof 1; Sortino on the root mean square of negative returns; CAGR over T bars;
    skew and excess kurtosis from population moments, PSR against a Sharpe of 0;
    max_dd_duration in bars from a peak to the bar that regains it)."""
    e = equity.to_numpy(dtype="float64")
    r = bar_returns(equity, cash)
    n = len(r)
    out = dict.fromkeys(CURVE_STATS, math.nan)
    if n == 0:
        return out
    total = e[-1] / cash - 1.0
    sd = r.std(ddof=1) if n > 1 else math.nan
    down = math.sqrt(np.mean(np.minimum(r, 0.0) ** 2))
    cagr = (e[-1] / cash) ** (ppy / n) - 1.0 if e[-1] > 0 else -1.0
    peak = np.maximum.accumulate(np.r_[cash, e])[1:]
    dd = e / peak - 1.0
    max_dd = float(dd.min())
    neg = -np.minimum(r, 0).sum()
    sr, skew, kurt, n_obs = return_moments(r)
    out.update(
        total_return=float(total), cagr=float(cagr),
        ann_volatility=float(sd * math.sqrt(ppy)) if n > 1 else math.nan,
        sharpe=float(r.mean() / sd * math.sqrt(ppy)) if n > 1 and sd > 0 else math.nan,
        sortino=float(r.mean() / down * math.sqrt(ppy)) if down > 0 else math.nan,
        calmar=float(cagr / abs(max_dd)) if max_dd < 0 else math.nan,
        omega=float(np.maximum(r, 0).sum() / neg) if neg > 0 else math.nan,
        skew=skew, kurtosis=kurt - 3.0, psr=probabilistic_sharpe(sr, 0.0, n_obs, skew, kurt),
        max_drawdown=max_dd, max_dd_duration=float(_longest_underwater(dd)), final_equity=float(e[-1]),
    )
    return out


def _longest_underwater(dd: np.ndarray) -> int:
    """Longest run of bars below the running peak (bars from the peak to recovery)."""
    under = dd < 0
    if not under.any():
        return 0
    change = np.flatnonzero(np.diff(np.r_[0, under.view(np.int8), 0]))
    starts, ends = change[::2], change[1::2]
    return int((ends - starts).max())


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
