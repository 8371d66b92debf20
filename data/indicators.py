"""Technical indicators: thin, causal wrappers over pandas-ta-classic.

Every function takes Series (or bars, for the implied-volatility feature) and
returns a float64 Series or DataFrame on the same index with fixed, readable names
(``rsi_14``, ``macd_signal``, ``bb_upper``...). Alignment: the value at bar t uses
bars up to and including t only, and is NaN during the indicator's warm-up. A
computation seeded at the first bar (EMA, Wilder averages, OBV, cumulative sums)
depends on where the series starts, never on where it ends, so every function here
is prefix-invariant: computed on ``x[: t + 1]`` its value at t equals the value at
t computed on all of ``x`` (tests/test_data_features.py checks this exactly).

Where pandas-ta-classic offers its TA-Lib backend (``talib=True``) we use it, so RSI,
Stochastic RSI, MACD, Bollinger Bands, ATR, ADX, OBV, SMA and EMA equal TA-Lib's
functions exactly. Computed by hand, and why:

- ``vwap``: the library's VWAP is anchored to sessions (it resets every day), which
  has no meaning for 24/7 markets; we use a rolling window instead.
- ``bbands`` position: the library's %B replaces a zero band range by machine
  epsilon and returns 1.0 for a flat window; we return 0.5 (close on the middle).
- ``pct_change``: a change from 0 is undefined; we return NaN, never inf.
- ``implied_vol`` fallback: annualization needs the bar calendar.

NaN inside the input: TA-Lib's running sums and recursions propagate a NaN to every
later value. ``data.features`` therefore computes on the complete bars only and
puts NaN rows back afterwards; call these functions on NaN-free input.

pandas-ta-classic and TA-Lib are imported inside the functions: importing this
module stays cheap (``bt --help`` must not pay for them).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "adx",
    "atr",
    "bbands",
    "ema",
    "implied_vol",
    "log_return",
    "macd",
    "obv",
    "pct_change",
    "periods_per_year",
    "realized_vol",
    "rsi",
    "simple_return",
    "sma",
    "stochrsi",
    "volume_ratio",
    "vpt",
    "vwap",
]


def _ta():
    """pandas-ta-classic, imported on first use: it costs about a second, and only the
    feature sets need it."""
    with warnings.catch_warnings():
        # pandas-ta-classic 0.8.32 stamps its default Strategy with Timestamp.dayofyear
        # at import, which pandas 3 deprecates; that warning is the library's, not ours.
        warnings.filterwarnings("ignore", message=r"Timestamp\.dayofyear is deprecated")
        import pandas_ta_classic

    return pandas_ta_classic


def _nan(index: pd.Index, name: str) -> pd.Series:
    return pd.Series(np.nan, index=index, dtype="float64", name=name)


def _series(values: Any, index: pd.Index, name: str) -> pd.Series:
    """A float64 Series named ``name``; all NaN when the library returned None
    (pandas-ta-classic does that for input shorter than the indicator's window)."""
    if values is None:
        return _nan(index, name)
    return pd.Series(np.asarray(values, dtype="float64"), index=index, name=name)


def _enough(n: int, rows: int) -> bool:
    # pandas-ta-classic returns None (and logs a warning) below its minimum length;
    # we answer all-NaN without asking it, like TA-Lib does.
    return n >= rows


# ---------------------------------------------------------------- moving averages


def sma(close: pd.Series, length: int = 20) -> pd.Series:
    """Simple moving average of the last ``length`` values (TA-Lib SMA).
    Name ``sma_{length}``; NaN for the first ``length - 1`` bars."""
    name = f"sma_{length}"
    if not _enough(len(close), length):
        return _nan(close.index, name)
    return _series(_ta().sma(close, length=length, talib=True), close.index, name)


def ema(close: pd.Series, length: int = 20) -> pd.Series:
    """Exponential moving average, alpha = 2 / (length + 1), seeded with the SMA of
    the first ``length`` values (TA-Lib EMA). Name ``ema_{length}``; NaN for the
    first ``length - 1`` bars."""
    name = f"ema_{length}"
    if not _enough(len(close), length):
        return _nan(close.index, name)
    return _series(_ta().ema(close, length=length, talib=True), close.index, name)


# ---------------------------------------------------------------------- momentum


def rsi(close: pd.Series, length: int = 14) -> pd.Series:
    """Wilder's relative strength index in [0, 100] (TA-Lib RSI). Name
    ``rsi_{length}``; NaN for the first ``length`` bars."""
    name = f"rsi_{length}"
    if not _enough(len(close), length + 1):
        return _nan(close.index, name)
    return _series(_ta().rsi(close, length=length, talib=True), close.index, name)


def stochrsi(close: pd.Series, length: int = 14, d: int = 3) -> pd.DataFrame:
    """Stochastic RSI (TA-Lib STOCHRSI with timeperiod = fastk_period = ``length``,
    fastd_period = ``d``, SMA).

    Columns: ``stochrsi_k`` = 100 * (RSI - min RSI) / (max RSI - min RSI) over the
    last ``length`` RSI values, in [0, 100], unsmoothed (TA-Lib's fast %K; 0 when
    the range is 0); ``stochrsi_d`` = SMA(``d``) of ``stochrsi_k``. Both NaN for the
    first ``2 * length + d - 2`` bars (29 with the defaults).

    Note: pandas-ta-classic's native (``talib=False``) version smooths %K with an
    SMA(3) first and its %D is an SMA of that, so it differs from TA-Lib's; with its
    TA-Lib backend the ``k`` argument is ignored. We follow TA-Lib.
    """
    cols = ["stochrsi_k", "stochrsi_d"]
    if not _enough(len(close), max(2 * length + d - 1, length)):
        return pd.DataFrame({c: _nan(close.index, c) for c in cols})
    out = _ta().stochrsi(close, length=length, rsi_length=length, d=d, talib=True)
    return pd.DataFrame({c: _series(out.iloc[:, i], close.index, c) for i, c in enumerate(cols)})


def macd(close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """MACD (TA-Lib MACD): ``macd`` = EMA(fast) - EMA(slow), ``macd_signal`` =
    EMA(signal) of macd, ``macd_diff`` = macd - macd_signal (the histogram). All NaN
    for the first ``slow + signal - 2`` bars (33 with the defaults); TA-Lib starts
    all three at the same bar."""
    cols = ["macd", "macd_signal", "macd_diff"]
    if not _enough(len(close), slow + signal - 1):
        return pd.DataFrame({c: _nan(close.index, c) for c in cols})
    out = _ta().macd(close, fast=fast, slow=slow, signal=signal, talib=True)
    # pandas-ta-classic's column order: MACD, histogram (MACDh), signal (MACDs).
    m, h, s = (out.iloc[:, i] for i in range(3))
    return pd.DataFrame(
        {
            "macd": _series(m, close.index, "macd"),
            "macd_signal": _series(s, close.index, "macd_signal"),
            "macd_diff": _series(h, close.index, "macd_diff"),
        }
    )


# -------------------------------------------------------------------- volatility


def bbands(close: pd.Series, length: int = 20, std: float = 2.0) -> pd.DataFrame:
    """Bollinger Bands (TA-Lib BBANDS, SMA middle, population standard deviation).

    Columns: ``bb_mid``, ``bb_upper`` = mid + std * sd, ``bb_lower`` = mid - std * sd,
    ``bb_width`` = 100 * (upper - lower) / mid (percent of the middle band, as
    pandas-ta-classic's BBB), ``bb_position`` = (close - lower) / (upper - lower)
    (0 on the lower band, 1 on the upper; computed here: 0.5 when the bands
    coincide, where the library would return 1.0). NaN for the first
    ``length - 1`` bars.
    """
    cols = ["bb_mid", "bb_upper", "bb_lower", "bb_width", "bb_position"]
    if not _enough(len(close), length):
        return pd.DataFrame({c: _nan(close.index, c) for c in cols})
    out = _ta().bbands(close, length=length, std=std, talib=True)
    # pandas-ta-classic's column order: lower, mid, upper, bandwidth, percent.
    lower = out.iloc[:, 0].to_numpy("float64")
    mid = out.iloc[:, 1].to_numpy("float64")
    upper = out.iloc[:, 2].to_numpy("float64")
    rng = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(rng > 0, (close.to_numpy("float64") - lower) / rng, 0.5)
    pos[np.isnan(rng)] = np.nan
    return pd.DataFrame(
        {
            "bb_mid": _series(mid, close.index, "bb_mid"),
            "bb_upper": _series(upper, close.index, "bb_upper"),
            "bb_lower": _series(lower, close.index, "bb_lower"),
            "bb_width": _series(out.iloc[:, 3], close.index, "bb_width"),
            "bb_position": _series(pos, close.index, "bb_position"),
        }
    )


def atr(high: pd.Series, low: pd.Series, close: pd.Series, length: int = 14) -> pd.Series:
    """Average true range, Wilder smoothing seeded with the mean of the first
    ``length`` true ranges (TA-Lib ATR). Price units. Name ``atr_{length}``; NaN for
    the first ``length`` bars."""
    name = f"atr_{length}"
    if not _enough(len(close), length + 1):
        return _nan(close.index, name)
    return _series(_ta().atr(high, low, close, length=length, talib=True), close.index, name)


def adx(high: pd.Series, low: pd.Series, close: pd.Series, length: int = 14) -> pd.Series:
    """Average directional index in [0, 100] (TA-Lib ADX). Name ``adx_{length}``;
    NaN for the first ``2 * length - 1`` bars."""
    name = f"adx_{length}"
    if not _enough(len(close), 2 * length):
        return _nan(close.index, name)
    out = _ta().adx(high, low, close, length=length, talib=True)
    return _series(out.iloc[:, 0], close.index, name)


def log_return(close: pd.Series) -> pd.Series:
    """log(close_t / close_{t-1}). Name ``log_return``; NaN at the first bar."""
    if len(close) < 2:
        return _nan(close.index, "log_return")
    return _series(_ta().log_return(close, length=1), close.index, "log_return")


def simple_return(close: pd.Series) -> pd.Series:
    """close_t / close_{t-1} - 1 (NaN where close_{t-1} is 0). Name ``return``; NaN
    at the first bar."""
    return pct_change(close).rename("return")


def realized_vol(close: pd.Series, length: int = 20) -> pd.Series:
    """Realized volatility per bar: the sample standard deviation (ddof=1) of the
    last ``length`` log returns, as a fraction, not annualized. Name
    ``realized_vol_{length}``; NaN for the first ``length`` bars.

    pandas-ta-classic's native stdev (exact per window); not its TA-Lib backend,
    whose STDDEV is the population (ddof=0) one."""
    name = f"realized_vol_{length}"
    lr = log_return(close)
    if not _enough(len(close), length + 1):
        return _nan(close.index, name)
    return _series(_ta().stdev(lr, length=length, ddof=1, talib=False), close.index, name)


# ------------------------------------------------------------------------- volume


def obv(close: pd.Series, volume: pd.Series) -> pd.Series:
    """On-balance volume (TA-Lib OBV): starts at volume_0, then adds volume on an up
    close, subtracts it on a down close. Cumulative, so its level depends on where
    the series starts. Name ``obv``; never NaN."""
    if len(close) == 0:
        return _nan(close.index, "obv")
    return _series(_ta().obv(close, volume, talib=True), close.index, "obv")


def vwap(high: pd.Series, low: pd.Series, close: pd.Series, volume: pd.Series, length: int = 20) -> pd.Series:
    """Session-less VWAP: the volume-weighted mean of the typical price
    (high + low + close) / 3 over the last ``length`` bars (20 by default: the same
    window as the Bollinger, volume and OBV means). NaN for the first
    ``length - 1`` bars and where those bars traded no volume.

    pandas-ta-classic's ``vwap`` is anchored to calendar sessions (it resets every
    day), which a 24/7 market does not have; this is its ``vwma`` on the typical
    price, i.e. SMA(tp * volume) / SMA(volume).
    """
    name = f"vwap_{length}"
    if not _enough(len(close), length):
        return _nan(close.index, name)
    ta = _ta()
    tp = ta.hlc3(high, low, close)
    pv = ta.sma(tp * volume, length=length, talib=True).to_numpy("float64")
    v = ta.sma(volume, length=length, talib=True).to_numpy("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(v > 0, pv / v, np.nan)
    return _series(out, close.index, name)


def volume_ratio(volume: pd.Series, length: int = 20) -> pd.Series:
    """volume_t / SMA(volume, ``length``)_t (the mean includes bar t). Name
    ``volume_ratio_{length}``; NaN for the first ``length - 1`` bars and where the
    mean volume is 0."""
    name = f"volume_ratio_{length}"
    mean = sma(volume, length).to_numpy("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mean > 0, volume.to_numpy("float64") / mean, np.nan)
    return _series(out, volume.index, name)


def vpt(close: pd.Series, volume: pd.Series) -> pd.Series:
    """Volume-price trend: cumulative sum of volume_t * (close_t / close_{t-1} - 1),
    the textbook definition (pandas-ta-classic's ``pvt`` uses the return in percent,
    so we divide it by 100). Cumulative from the first bar. Name ``vpt``; NaN at
    the first bar."""
    if len(close) < 2:
        return _nan(close.index, "vpt")
    out = _ta().pvt(close, volume, drift=1)
    out = out.to_numpy("float64") / 100.0
    out[0] = np.nan
    return _series(out, close.index, "vpt")


# ------------------------------------------------------------------------ changes


def pct_change(x: pd.Series) -> pd.Series:
    """x_t / x_{t-1} - 1, NaN at the first bar and where x_{t-1} is 0 or NaN (never
    inf). Computed here rather than with ``Series.pct_change`` to make division by
    zero explicit. Keeps the name of ``x``."""
    v = x.to_numpy("float64")
    out = np.full(v.shape, np.nan)
    if v.size > 1:
        prev = v[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[1:] = np.where(prev != 0, v[1:] / prev - 1.0, np.nan)
    return pd.Series(out, index=x.index, name=x.name)


# -------------------------------------------------------------- implied volatility

_DAY_NS = 86_400 * 10**9


def periods_per_year(index: pd.Index) -> np.ndarray:
    """Bars per year at each bar, from the bar calendar seen so far (causal).

    The engine's convention (``mlbt.sim.frequency``), applied to ``index[: t + 1]`` at
    each bar t so that the value never depends on later timestamps: 365 trading days
    once any bar has fallen on a Saturday or Sunday (UTC), else 252; the bar step is
    the smallest spacing seen so far (gaps only lengthen spacings). Daily bars: that
    many days; weekly and slower: 365.25 days over the step; intraday bars of a 24/7
    market: days times bars per day (a day over the step); other intraday bars: days
    times the most bars any calendar day has had so far. NaN at the first bar.

    Reads timestamps only, never prices. On a young series the answer can still
    change (hourly crypto counts 252 days until its first weekend bar); pass an
    explicit ``periods_per_year`` to ``implied_vol`` / ``features`` to fix it.
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(
            f"periods_per_year: cannot infer the bar frequency from a {type(index).__name__}; give the bars a "
            "DatetimeIndex, or pass periods_per_year=N to implied_vol() / features() (e.g. 8760 for hourly "
            "crypto, 252 for daily stocks)"
        )
    ns = index.as_unit("ns").asi8
    n = len(ns)
    out = np.full(n, np.nan)
    if n < 2:
        return out
    diffs = np.diff(ns)
    if (diffs <= 0).any():
        raise ValueError("periods_per_year: the index is not strictly increasing; sort the bars first")
    step = np.minimum.accumulate(diffs).astype("float64")  # step[t - 1] belongs to bar t
    day = ns // _DAY_NS
    weekends = np.logical_or.accumulate((day + 3) % 7 >= 5)[1:]  # 1970-01-01 was a Thursday
    days = np.where(weekends, 365.0, 252.0)
    pos = np.arange(n)
    new_day = np.r_[True, day[1:] != day[:-1]]
    first_of_day = np.maximum.accumulate(np.where(new_day, pos, 0))
    most_per_day = np.maximum.accumulate(pos - first_of_day + 1).astype("float64")[1:]
    out[1:] = np.where(
        step >= 4 * _DAY_NS,
        365.25 * _DAY_NS / step,
        np.where(step >= _DAY_NS, days, np.where(weekends, days * _DAY_NS / step, days * most_per_day)),
    )
    return out


_infer_periods_per_year = periods_per_year  # implied_vol's argument shadows the name


def implied_vol(
    bars: pd.DataFrame, length: int = 20, periods_per_year: float | np.ndarray | None = None
) -> pd.Series:
    """Implied volatility in percent per year (VIX units), Series named ``iv``.

    - If ``bars`` has an ``ivx`` column (an implied-volatility index such as VIX,
      already in percent), ``iv`` is that column unchanged (NaN where it is NaN).
      ``iv.attrs["iv_source"] == "ivx"``.
    - Otherwise the FALLBACK: a causal realized-volatility proxy,
      100 * sqrt(periods_per_year) * ``realized_vol(close, length)`` (sample std of the
      last ``length`` log returns, annualized; NaN for the first ``length`` bars).
      ``iv.attrs["iv_source"] == "realized_vol_proxy"``; ``iv.attrs["periods_per_year"]``
      holds the factor at the last bar.

    ``periods_per_year``: annualization for the fallback, a number or one value per
    bar; None uses ``periods_per_year(bars.index)`` (per bar, from the calendar seen
    so far: 252 for daily equities, 365 * 24 for hourly crypto). Unused with ``ivx``.
    """
    if "ivx" in bars.columns:
        iv = pd.Series(bars["ivx"].to_numpy("float64"), index=bars.index, name="iv")
        iv.attrs.update(iv_source="ivx")
        return iv
    if periods_per_year is None:
        ppy = _infer_periods_per_year(bars.index)
    else:
        ppy = np.broadcast_to(np.asarray(periods_per_year, dtype="float64"), (len(bars),))
    rv = realized_vol(bars["close"], length).to_numpy("float64")
    iv = pd.Series(100.0 * np.sqrt(ppy) * rv, index=bars.index, name="iv")
    last = float(ppy[-1]) if len(ppy) else float("nan")
    iv.attrs.update(iv_source="realized_vol_proxy", periods_per_year=last, window=length)
    return iv
