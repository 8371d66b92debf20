"""Feature sets: the model inputs of the five trading systems of docs/reference-systems.md.

``features(bars, name)`` returns a DataFrame on ``bars.index`` with float64 columns:
first the set's model inputs, in a fixed order (``FEATURE_SETS[name].model_columns``,
also ``MODEL_COLUMNS[name]``), then extra columns the system's strategy needs for its
filters or labels (``FEATURE_SETS[name].extra_columns``), which are not model inputs.

Alignment: the row at bar t uses bars up to and including bar t only (its close
included), so a decision made at t from it may trade from bar t + 1 on. Values are NaN
during warm-up (the longest window of the set: 33 bars for MACD's signal line, 49 for
EMA(50)). Features are not scaled: scalers are fitted on training data in ``models``.
Every set is prefix-invariant: ``features(bars[: t + 1], name).iloc[t]`` equals
``features(bars, name).iloc[t]``, which tests/test_data_features.py checks.

Bars with a NaN in open, high, low, close or volume are treated as missing: the
indicators run over the complete bars only and those rows come back all NaN (TA-Lib
would otherwise carry one NaN into every later value of a moving average).

Indicator definitions (windows, units, TA-Lib equivalence) are in ``data.indicators``.
Counts in docs/reference-systems.md ("14 features", "15 features") count feature groups; a
group such as "MACD (and signal, diff)" gives several columns, listed below per set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlbt.data import indicators as ind

__all__ = ["FEATURE_SETS", "MODEL_COLUMNS", "FeatureSet", "features"]

_OHLCV = ("open", "high", "low", "close", "volume")


class _Calc:
    """Indicators of one bars frame, each computed once and shared by the features
    that use it (RSI feeds the price set and its percentage change, MACD three
    columns, ...)."""

    def __init__(self, bars: pd.DataFrame, periods_per_year: float | np.ndarray | None) -> None:
        self.bars = bars
        self.index = bars.index
        self.ppy = periods_per_year
        self._memo: dict[tuple, object] = {}

    def _get(self, key: tuple, make: Callable[[], object]):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def col(self, name: str) -> pd.Series:
        return self.bars[name]

    def sma(self, n: int) -> pd.Series:
        return self._get(("sma", n), lambda: ind.sma(self.col("close"), n))

    def ema(self, n: int) -> pd.Series:
        return self._get(("ema", n), lambda: ind.ema(self.col("close"), n))

    def rsi(self, n: int = 14) -> pd.Series:
        return self._get(("rsi", n), lambda: ind.rsi(self.col("close"), n))

    def stochrsi(self) -> pd.DataFrame:
        return self._get(("stochrsi",), lambda: ind.stochrsi(self.col("close")))

    def macd(self) -> pd.DataFrame:
        return self._get(("macd",), lambda: ind.macd(self.col("close")))

    def bbands(self) -> pd.DataFrame:
        return self._get(("bbands",), lambda: ind.bbands(self.col("close")))

    def atr(self, n: int = 14) -> pd.Series:
        b = self.bars
        return self._get(("atr", n), lambda: ind.atr(b["high"], b["low"], b["close"], n))

    def adx(self, n: int = 14) -> pd.Series:
        b = self.bars
        return self._get(("adx", n), lambda: ind.adx(b["high"], b["low"], b["close"], n))

    def obv(self) -> pd.Series:
        return self._get(("obv",), lambda: ind.obv(self.col("close"), self.col("volume")))

    def vwap(self, n: int = 20) -> pd.Series:
        b = self.bars
        return self._get(("vwap", n), lambda: ind.vwap(b["high"], b["low"], b["close"], b["volume"], n))

    def log_return(self) -> pd.Series:
        return self._get(("log_return",), lambda: ind.log_return(self.col("close")))

    def simple_return(self) -> pd.Series:
        return self._get(("return",), lambda: ind.simple_return(self.col("close")))

    def realized_vol(self, n: int = 20) -> pd.Series:
        return self._get(("rv", n), lambda: ind.realized_vol(self.col("close"), n))

    def volume_mean(self, n: int = 20) -> pd.Series:
        return self._get(("vmean", n), lambda: ind.sma(self.col("volume"), n))

    def volume_ratio(self, n: int = 20) -> pd.Series:
        return self._get(("vratio", n), lambda: ind.volume_ratio(self.col("volume"), n))

    def vpt(self) -> pd.Series:
        return self._get(("vpt",), lambda: ind.vpt(self.col("close"), self.col("volume")))

    def implied_vol(self, n: int = 20) -> pd.Series:
        return self._get(("iv", n), lambda: ind.implied_vol(self.bars, n, self.ppy))

    def hl_range(self) -> pd.Series:
        b = self.bars
        return self._get(("hl_range",), lambda: (b["high"] - b["low"]) / b["close"])

    def co_return(self) -> pd.Series:
        b = self.bars
        return self._get(("co_return",), lambda: b["close"] / b["open"] - 1.0)


def _sign(x: pd.Series) -> pd.Series:
    return pd.Series(np.sign(x.to_numpy()), index=x.index)


# ---------------------------------------------------------------- the five sets


def _etf50(c: _Calc) -> dict[str, pd.Series]:
    iv = c.implied_vol(20)
    v = c.col("volume").to_numpy()
    volume_change = np.full(v.shape, np.nan)
    volume_change[1:] = np.diff(np.log1p(v))
    iv_v = iv.to_numpy()
    iv_change = np.full(iv_v.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        iv_change[1:] = np.log(iv_v[1:] / iv_v[:-1])
    iv_change[~np.isfinite(iv_change)] = np.nan
    return {
        "log_return": c.log_return(),
        "hl_range": c.hl_range(),
        "co_return": c.co_return(),
        "volume_ratio_20": c.volume_ratio(20),
        "volume_change": pd.Series(volume_change, index=c.index),
        "iv": iv,
        "iv_change": pd.Series(iv_change, index=c.index),
    }


def _price(c: _Calc) -> dict[str, pd.Series]:
    return {
        "close": c.col("close"),
        "volume": c.col("volume"),
        "sma_20": c.sma(20),
        "ema_20": c.ema(20),
        "rsi_14": c.rsi(14),
        "volume_mean_20": c.volume_mean(20),
    }


def _crypto(c: _Calc) -> dict[str, pd.Series]:
    close = c.col("close")
    m, bb, srsi = c.macd(), c.bbands(), c.stochrsi()
    e20, e50, vw = c.ema(20), c.ema(50), c.vwap(20)
    obv = c.obv()
    rv = c.realized_vol(20)
    volume_delta = c.col("volume").diff()
    return {
        "rsi_14": c.rsi(14),
        "stochrsi_k": srsi["stochrsi_k"],
        "stochrsi_d": srsi["stochrsi_d"],
        "macd": m["macd"],
        "macd_signal": m["macd_signal"],
        "macd_diff": m["macd_diff"],
        "bb_mid": bb["bb_mid"],
        "bb_upper": bb["bb_upper"],
        "bb_lower": bb["bb_lower"],
        "bb_width": bb["bb_width"],
        "atr_14": c.atr(14),
        "adx_14": c.adx(14),
        "ema_20": e20,
        "ema_50": e50,
        "obv": obv,
        "vwap_20": vw,
        "volume_delta": volume_delta,
        "volume_ratio_20": c.volume_ratio(20),
        "log_return": c.log_return(),
        "realized_vol_20": rv,
        "close_ema20_ratio": close / e20,
        "close_vwap_ratio": close / vw,
        "ema_cross": _sign(e20 - e50),
        "macd_cross": m["macd_diff"].pipe(_sign),
        # filter inputs, not model inputs
        "close": close,
        "volume_mean_20": c.volume_mean(20),
        "obv_mean_20": ind.sma(obv, 20),
        "realized_vol_price_20": close * rv,
    }


def _attention(c: _Calc) -> dict[str, pd.Series]:
    m = c.macd()
    return {
        "return": c.simple_return(),
        "log_return": c.log_return(),
        "hl_range": c.hl_range(),
        "co_return": c.co_return(),
        "sma_5": c.sma(5),
        "sma_10": c.sma(10),
        "sma_20": c.sma(20),
        "ema_5": c.ema(5),
        "ema_10": c.ema(10),
        "ema_20": c.ema(20),
        "realized_vol_20": c.realized_vol(20),
        "atr_14": c.atr(14),
        "volume_ratio_20": c.volume_ratio(20),
        "vpt": c.vpt(),
        "rsi_14": c.rsi(14),
        "macd": m["macd"],
        "macd_signal": m["macd_signal"],
        "macd_diff": m["macd_diff"],
        "bb_position": c.bbands()["bb_position"],
    }


def _sltp(c: _Calc) -> dict[str, pd.Series]:
    m, bb = c.macd(), c.bbands()
    sources = {
        "open": c.col("open"),
        "high": c.col("high"),
        "low": c.col("low"),
        "close": c.col("close"),
        "volume": c.col("volume"),
        "sma_10": c.sma(10),
        "ema_10": c.ema(10),
        "rsi_14": c.rsi(14),
        "macd": m["macd"],
        "macd_signal": m["macd_signal"],
        "bb_upper": bb["bb_upper"],
        "bb_lower": bb["bb_lower"],
        "atr_14": c.atr(14),
    }
    out = {f"pct_{k}": ind.pct_change(v) for k, v in sources.items()}
    out["close"] = c.col("close")
    out["atr_14"] = c.atr(14)
    return out


@dataclass(frozen=True)
class FeatureSet:
    """One system's feature set.

    name: key in ``FEATURE_SETS``; model_columns: the model's inputs, in order;
    extra_columns: also returned by ``features`` for the strategy's filters or
    labels, not model inputs; doc: what the columns mean.
    """

    name: str
    model_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    doc: str
    _build: Callable[[_Calc], dict[str, pd.Series]]

    @property
    def columns(self) -> tuple[str, ...]:
        """All columns ``features`` returns: model inputs, then extras."""
        return self.model_columns + self.extra_columns

    def __repr__(self) -> str:
        return f"FeatureSet({self.name!r}, model_columns={len(self.model_columns)}, extra={list(self.extra_columns)})"


FEATURE_SETS: dict[str, FeatureSet] = {
    "etf50": FeatureSet(
        "etf50",
        ("log_return", "hl_range", "co_return", "volume_ratio_20", "volume_change", "iv", "iv_change"),
        (),
        """50ETF classifier, 7 inputs (price, volume, implied volatility):
        log_return = log(close_t / close_{t-1}); hl_range = (high - low) / close;
        co_return = close / open - 1; volume_ratio_20 = volume / SMA(volume, 20);
        volume_change = log(1 + volume_t) - log(1 + volume_{t-1});
        iv = implied volatility in percent (VIX units): the bars' ``ivx`` column when
        present, else the FALLBACK realized-volatility proxy
        100 * sqrt(periods_per_year) * std(last 20 log returns) (see
        ``indicators.implied_vol``); ``df.attrs["iv_source"]`` says which
        ("ivx" or "realized_vol_proxy"); iv_change = log(iv_t / iv_{t-1}).""",
        _etf50,
    ),
    "price": FeatureSet(
        "price",
        ("close", "volume", "sma_20", "ema_20", "rsi_14"),
        ("volume_mean_20",),
        """Next-price regressor, 5 inputs: close, volume, SMA(20), EMA(20), RSI(14)
        (levels, unscaled). Extra: volume_mean_20 = SMA(volume, 20) for the
        'volume confirms' filter.""",
        _price,
    ),
    "crypto": FeatureSet(
        "crypto",
        (
            "rsi_14", "stochrsi_k", "stochrsi_d", "macd", "macd_signal", "macd_diff",
            "bb_mid", "bb_upper", "bb_lower", "bb_width", "atr_14", "adx_14", "ema_20", "ema_50",
            "obv", "vwap_20", "volume_delta", "volume_ratio_20", "log_return", "realized_vol_20",
            "close_ema20_ratio", "close_vwap_ratio", "ema_cross", "macd_cross",
        ),
        ("close", "volume_mean_20", "obv_mean_20", "realized_vol_price_20"),
        """Crypto multi-filter: the 14 feature groups of docs/reference-systems.md as 24 model
        inputs: rsi_14; Stochastic RSI stochrsi_k, stochrsi_d; macd, macd_signal,
        macd_diff; Bollinger(20, 2) bb_mid, bb_upper, bb_lower, bb_width (percent of
        mid); atr_14; adx_14; ema_20, ema_50; obv; vwap_20 (rolling 20-bar VWAP);
        volume_delta = volume_t - volume_{t-1}, volume_ratio_20; log_return;
        realized_vol_20 (std of 20 log returns, fraction); price ratios
        close_ema20_ratio = close / ema_20, close_vwap_ratio = close / vwap_20;
        trend-cross flags ema_cross = sign(ema_20 - ema_50), macd_cross =
        sign(macd - macd_signal), each in {-1, 0, +1}.
        Extra (filter inputs, NOT model inputs): close; volume_mean_20 =
        SMA(volume, 20); obv_mean_20 = SMA(obv, 20); realized_vol_price_20 =
        close * realized_vol_20 (price units, for the 0.5 * ATR + 0.3 * vol
        threshold). The filters' other inputs (rsi_14, macd vs macd_signal, vwap_20,
        ema_20, ema_50, adx_14, atr_14) are model columns above.""",
        _crypto,
    ),
    "attention": FeatureSet(
        "attention",
        (
            "return", "log_return", "hl_range", "co_return", "sma_5", "sma_10", "sma_20",
            "ema_5", "ema_10", "ema_20", "realized_vol_20", "atr_14", "volume_ratio_20", "vpt",
            "rsi_14", "macd", "macd_signal", "macd_diff", "bb_position",
        ),
        (),
        """Attention ensemble: the 15 feature groups of docs/reference-systems.md as 19 model
        inputs (SMA 5/10/20 and EMA 5/10/20 are two groups of three): return =
        close_t / close_{t-1} - 1; log_return; hl_range = (high - low) / close;
        co_return = close / open - 1; sma_5, sma_10, sma_20, ema_5, ema_10, ema_20
        (price levels); realized_vol_20 (the 'volatility(20)': std of 20 log returns);
        atr_14; volume_ratio_20; vpt (volume-price trend, cumulative); rsi_14; macd,
        macd_signal, macd_diff; bb_position = (close - lower) / (upper - lower) of
        Bollinger(20, 2).""",
        _attention,
    ),
    "sltp": FeatureSet(
        "sltp",
        (
            "pct_open", "pct_high", "pct_low", "pct_close", "pct_volume", "pct_sma_10", "pct_ema_10",
            "pct_rsi_14", "pct_macd", "pct_macd_signal", "pct_bb_upper", "pct_bb_lower", "pct_atr_14",
        ),
        ("close", "atr_14"),
        """SL/TP multi-head, 13 inputs: the one-bar percentage change x_t / x_{t-1} - 1
        (a fraction; NaN where x_{t-1} is 0, e.g. after a zero-volume bar) of open,
        high, low, close, volume, SMA(10), EMA(10), RSI(14), MACD, MACD signal,
        Bollinger(20, 2) upper and lower, ATR(14). MACD crosses zero, so pct_macd and
        pct_macd_signal have very large values near a crossing, as in the original
        system; clip or robust-scale them. Extra (for ATR-based barrier labels and
        stops, not model inputs): close, atr_14.""",
        _sltp,
    ),
}

MODEL_COLUMNS: dict[str, tuple[str, ...]] = {k: fs.model_columns for k, fs in FEATURE_SETS.items()}
"""``MODEL_COLUMNS[name]``: the model inputs of set ``name``, in order (same as
``FEATURE_SETS[name].model_columns``)."""


def features(bars: pd.DataFrame, name: str, *, periods_per_year: float | None = None) -> pd.DataFrame:
    """The feature set ``name`` of ``bars``.

    bars: a DataFrame with columns open, high, low, close, volume (optional ``ivx``,
        implied volatility in percent, used by "etf50"), sorted by time.
    name: one of ``FEATURE_SETS`` ("etf50", "price", "crypto", "attention", "sltp").
    periods_per_year: annualization of the etf50 implied-volatility fallback; None
        infers it at each bar from the timestamps up to that bar
        (``indicators.periods_per_year``). Ignored otherwise.

    Returns a DataFrame on ``bars.index``: float64 columns ``FEATURE_SETS[name].columns``
    (model inputs ``MODEL_COLUMNS[name]`` first, then the extras). The row at bar t
    uses bars up to and including t only; NaN during warm-up and on bars with a NaN
    price or volume. ``attrs``: ``feature_set`` = name, ``model_columns``, and for
    etf50 ``iv_source`` ("ivx" or "realized_vol_proxy").

    Raises ValueError for an unknown name (listing the known ones) or missing columns.
    """
    fs = FEATURE_SETS.get(name) if isinstance(name, str) else None
    if fs is None:
        raise ValueError(f"features: unknown feature set {name!r}; known sets: {', '.join(FEATURE_SETS)}")
    missing = [c for c in _OHLCV if c not in bars.columns]
    if missing:
        raise ValueError(f"features({name!r}): bars lack column(s) {missing}; need {list(_OHLCV)}")

    cols = list(_OHLCV) + (["ivx"] if "ivx" in bars.columns else [])
    frame = bars[cols]
    if not (frame.dtypes == np.float64).all():
        frame = frame.astype("float64")
    complete = ~frame[list(_OHLCV)].isna().any(axis=1).to_numpy()
    all_complete = bool(complete.all())
    if not all_complete:
        frame = frame[complete]
    ppy = periods_per_year
    if ppy is None and name == "etf50" and "ivx" not in cols and not all_complete:
        # The calendar is read from every timestamp, missing bars included.
        ppy = ind.periods_per_year(bars.index)[complete]

    calc = _Calc(frame, ppy)
    built = fs._build(calc)
    # One (columns, bars) block, handed to pandas without a copy: pandas stores a
    # float frame column-major, so this layout is what it keeps.
    data = np.empty((len(fs.columns), len(bars)), dtype="float64")
    if not all_complete:
        data.fill(np.nan)
    for j, col in enumerate(fs.columns):
        values = np.asarray(built[col], dtype="float64")
        if all_complete:
            data[j] = values
        else:
            data[j, complete] = values
    out = pd.DataFrame(data.T, index=bars.index, columns=list(fs.columns), copy=False)
    out.attrs.update(feature_set=name, model_columns=list(fs.model_columns))
    if name == "etf50":
        out.attrs.update(calc.implied_vol(20).attrs)
    return out
