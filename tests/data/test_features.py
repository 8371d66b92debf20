"""Feature sets and indicators: TA-Lib equality, prefix invariance, the implied-volatility
fallback, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from mlbt.data import indicators as ind
from mlbt.data.features import FEATURE_SETS, MODEL_COLUMNS, features

SETS = list(FEATURE_SETS)


@pytest.fixture(scope="module")
def spx_vix() -> pd.DataFrame:
    """Daily S&P 500 bars with VIX as ``ivx`` (the embedded spx_vix_1d sample)."""
    from mlbt.data import load

    bars = load("spx_vix_1d")
    assert len(bars) > 1000 and "ivx" in bars
    return bars


def _assert_equal_nan(a, b, rtol: float = 1e-12) -> None:
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0, equal_nan=True)


# ------------------------------------------------------------- TA-Lib equality


def test_indicators_equal_talib(btc):
    o, h, lo, c, v = (btc[k] for k in ("open", "high", "low", "close", "volume"))
    cases = [
        # (ours, TA-Lib's, leading NaNs)
        (ind.rsi(c, 14), talib.RSI(c, 14), 14),
        (ind.atr(h, lo, c, 14), talib.ATR(h, lo, c, 14), 14),
        (ind.adx(h, lo, c, 14), talib.ADX(h, lo, c, 14), 27),
        (ind.obv(c, v), talib.OBV(c, v), 0),
    ]
    for n in (5, 10, 20, 50):
        cases.append((ind.sma(c, n), talib.SMA(c, n), n - 1))
        cases.append((ind.ema(c, n), talib.EMA(c, n), n - 1))
    m, ms, mh = talib.MACD(c, 12, 26, 9)
    ours = ind.macd(c)
    cases += [(ours["macd"], m, 33), (ours["macd_signal"], ms, 33), (ours["macd_diff"], mh, 33)]
    up, mid, low = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    bb = ind.bbands(c)
    cases += [(bb["bb_upper"], up, 19), (bb["bb_mid"], mid, 19), (bb["bb_lower"], low, 19)]
    k, d = talib.STOCHRSI(c, 14, 14, 3, 0)
    srsi = ind.stochrsi(c)
    cases += [(srsi["stochrsi_k"], k, 29), (srsi["stochrsi_d"], d, 29)]
    for ours_s, theirs, lead in cases:
        name = ours_s.name
        assert ours_s.dtype == np.float64 and ours_s.index.equals(btc.index), name
        assert int(ours_s.isna().sum()) == lead, (name, int(ours_s.isna().sum()))
        assert not ours_s.iloc[lead:].isna().any(), name
        _assert_equal_nan(ours_s, theirs)
    assert ind.rsi(c).name == "rsi_14" and ind.sma(c, 5).name == "sma_5" and ind.atr(h, lo, c).name == "atr_14"


def test_hand_computed_indicators(btc):
    o, h, lo, c, v = (btc[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    s = btc["close"]
    up, mid, low = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    bb = ind.bbands(s)
    _assert_equal_nan(bb["bb_width"], 100 * (up - low) / mid, rtol=1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = np.where(up > low, (c - low) / (up - low), 0.5)
    pos[:19] = np.nan
    _assert_equal_nan(bb["bb_position"], pos, rtol=1e-9)

    lr = np.r_[np.nan, np.log(c[1:] / c[:-1])]
    _assert_equal_nan(ind.log_return(s), lr, rtol=1e-12)
    _assert_equal_nan(ind.simple_return(s), np.r_[np.nan, c[1:] / c[:-1] - 1], rtol=1e-12)
    rv = ind.realized_vol(s, 20)
    assert rv.name == "realized_vol_20" and int(rv.isna().sum()) == 20
    _assert_equal_nan(rv, pd.Series(lr).rolling(20).std(ddof=1), rtol=1e-8)

    tp = (h + lo + c) / 3
    vw = pd.Series(tp * v).rolling(20).sum() / pd.Series(v).rolling(20).sum()
    ours = ind.vwap(btc["high"], btc["low"], s, btc["volume"], 20)
    assert ours.name == "vwap_20" and int(ours.isna().sum()) == 19
    _assert_equal_nan(ours, vw, rtol=1e-9)

    vr = ind.volume_ratio(btc["volume"], 20)
    expect = v / talib.SMA(v, 20)
    _assert_equal_nan(vr, expect, rtol=1e-12)

    vpt = ind.vpt(s, btc["volume"])
    _assert_equal_nan(vpt, np.r_[np.nan, np.cumsum(v[1:] * (c[1:] / c[:-1] - 1))], rtol=1e-9)


def test_pct_change_and_flat_bands():
    idx = pd.date_range("2024-01-01", periods=6, freq="h", tz="UTC")
    x = pd.Series([2.0, 0.0, 3.0, 3.0, np.nan, 1.0], index=idx, name="x")
    _assert_equal_nan(ind.pct_change(x), [np.nan, -1.0, np.nan, 0.0, np.nan, np.nan])
    assert ind.pct_change(x).name == "x"
    flat = pd.Series(np.full(25, 7.0), index=pd.date_range("2024-01-01", periods=25, freq="h", tz="UTC"))
    bb = ind.bbands(flat)
    assert (bb["bb_position"].iloc[19:] == 0.5).all() and bb["bb_position"].iloc[:19].isna().all()


def test_short_inputs_give_nan_not_errors(btc):
    for n in (0, 1, 2, 10, 30):
        part = btc.iloc[:n]
        for name in SETS:
            f = features(part, name)
            assert f.shape == (n, len(FEATURE_SETS[name].columns))
            assert f.index.equals(part.index)
    f = features(btc.iloc[:10], "crypto")
    assert f["macd"].isna().all() and f["obv"].notna().all()


# ------------------------------------------------------------------ the sets


def test_set_shapes_and_columns(btc):
    expected_model = {"etf50": 7, "price": 5, "crypto": 24, "attention": 19, "sltp": 13}
    assert set(FEATURE_SETS) == set(expected_model) == set(MODEL_COLUMNS)
    assert MODEL_COLUMNS["price"] == ("close", "volume", "sma_20", "ema_20", "rsi_14")
    part = btc.iloc[:600]
    for name, n_model in expected_model.items():
        fs = FEATURE_SETS[name]
        assert len(fs.model_columns) == n_model and MODEL_COLUMNS[name] == fs.model_columns
        assert not set(fs.model_columns) & set(fs.extra_columns)
        f = features(part, name)
        assert list(f.columns) == list(fs.columns)
        assert f.index.equals(part.index)
        assert (f.dtypes == np.float64).all()
        assert f.attrs["feature_set"] == name and f.attrs["model_columns"] == list(fs.model_columns)
        # Past every warm-up, model inputs are finite on this sample.
        assert np.isfinite(f[list(fs.model_columns)].iloc[60:].to_numpy()).all(), name
        assert repr(fs).startswith("FeatureSet(")


def test_crypto_filter_columns(btc):
    f = features(btc.iloc[:2000], "crypto")
    c = btc["close"].iloc[:2000].to_numpy()
    v = btc["volume"].iloc[:2000].to_numpy()
    obv = talib.OBV(c, v)
    _assert_equal_nan(f["obv_mean_20"], talib.SMA(obv, 20))
    _assert_equal_nan(f["volume_mean_20"], talib.SMA(v, 20))
    _assert_equal_nan(f["realized_vol_price_20"], c * f["realized_vol_20"].to_numpy())
    _assert_equal_nan(f["close"], c)
    e20, e50 = talib.EMA(c, 20), talib.EMA(c, 50)
    _assert_equal_nan(f["ema_cross"], np.sign(e20 - e50))
    assert set(np.unique(f["macd_cross"].dropna())) <= {-1.0, 0.0, 1.0}


def test_sltp_are_pct_changes(btc):
    part = btc.iloc[:1000]
    f = features(part, "sltp")
    c = part["close"].to_numpy()
    _assert_equal_nan(f["pct_close"], np.r_[np.nan, c[1:] / c[:-1] - 1])
    rsi = talib.RSI(c, 14)
    _assert_equal_nan(f["pct_rsi_14"], np.r_[np.nan, rsi[1:] / rsi[:-1] - 1])
    atr = talib.ATR(part["high"].to_numpy(), part["low"].to_numpy(), c, 14)
    _assert_equal_nan(f["pct_atr_14"], np.r_[np.nan, atr[1:] / atr[:-1] - 1])


def test_zero_volume_gives_nan_not_inf(btc):
    # Bars 2058-2059 traded no volume: the change from them is undefined.
    f = features(btc.iloc[2000:2100], "sltp")
    assert np.isnan(f["pct_volume"].iloc[59]) and np.isnan(f["pct_volume"].iloc[60])
    assert not np.isinf(f.to_numpy()).any()


def _cut_points(n: int) -> list[int]:
    early = [0, 1, 2, 5, 13, 14, 15, 19, 20, 21, 26, 27, 28, 29, 30, 32, 33, 34, 35, 48, 49, 50, 51, 60]
    spread = np.linspace(0, n - 1, 25).round().astype(int).tolist()
    return sorted({t for t in early + spread if t < n})


def _assert_prefix_invariant(bars: pd.DataFrame, name: str, **kw) -> None:
    full = features(bars, name, **kw)
    a_full = full.to_numpy()
    for t in _cut_points(len(bars)):
        part = features(bars.iloc[: t + 1], name, **kw)
        assert part.index.equals(bars.index[: t + 1])
        a = part.to_numpy()
        b = a_full[: t + 1]
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        bad = nan_a != nan_b
        assert not bad.any(), f"{name}: NaN pattern differs at cut {t}, columns {list(part.columns[bad.any(0)])}"
        with np.errstate(invalid="ignore"):
            rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-300)
        rel[nan_a] = 0.0
        worst = rel.max(axis=0)
        assert (worst <= 1e-12).all(), f"{name}: cut {t} differs in {dict(zip(part.columns, worst, strict=True))}"


@pytest.mark.parametrize("name", SETS)
def test_prefix_invariance(btc, name):
    # 3000 hourly bars with zero-volume bars (8104, 9710-9724) and flat bars inside.
    _assert_prefix_invariant(btc.iloc[8000:11000], name)


@pytest.mark.parametrize("name", SETS)
def test_prefix_invariance_with_ivx_and_missing_bars(spx_vix, name):
    bars = spx_vix.copy()
    bars.iloc[[100, 101, 400], 3] = np.nan  # missing closes: those rows are NaN, the rest carries on
    _assert_prefix_invariant(bars, name)
    f = features(bars, name)
    assert f.iloc[[100, 101, 400]].isna().all().all()
    ok = bars["close"].notna().to_numpy()
    ref = features(bars[ok], name)
    _assert_equal_nan(f[ok].to_numpy(), ref.to_numpy(), rtol=0)


# ------------------------------------------------------------ implied volatility


def test_ivx_path(spx_vix):
    f = features(spx_vix, "etf50")
    assert f.attrs["iv_source"] == "ivx"
    _assert_equal_nan(f["iv"], spx_vix["ivx"], rtol=0)
    iv = spx_vix["ivx"].to_numpy()
    _assert_equal_nan(f["iv_change"], np.r_[np.nan, np.log(iv[1:] / iv[:-1])])
    assert f["iv"].notna().all()
    s = ind.implied_vol(spx_vix)
    assert s.name == "iv" and s.attrs["iv_source"] == "ivx"


def test_ivx_fallback_path(spx_vix, btc):
    bars = spx_vix.drop(columns="ivx")
    f = features(bars, "etf50")
    assert f.attrs["iv_source"] == "realized_vol_proxy" and f.attrs["periods_per_year"] == 252.0
    lr = np.log(bars["close"]).diff()
    proxy = 100 * np.sqrt(252) * lr.rolling(20).std(ddof=1)
    assert int(f["iv"].isna().sum()) == 20
    _assert_equal_nan(f["iv"], proxy, rtol=1e-8)
    # Same units as VIX: over 2014-2018 the proxy sits near the index.
    ratio = (f["iv"] / spx_vix["ivx"]).median()
    assert 0.5 < ratio < 1.2, ratio
    # Hourly crypto: 365 days x 24 bars.
    g = features(btc.iloc[:500], "etf50")
    assert g.attrs["iv_source"] == "realized_vol_proxy" and g.attrs["periods_per_year"] == 365.0 * 24
    lr = np.log(btc["close"].iloc[:500]).diff()
    _assert_equal_nan(g["iv"], 100 * np.sqrt(365 * 24) * lr.rolling(20).std(ddof=1), rtol=1e-8)
    # An explicit annualization wins, and the other columns do not change.
    h = features(bars, "etf50", periods_per_year=365.0)
    _assert_equal_nan(h["iv"], f["iv"] * np.sqrt(365 / 252), rtol=1e-12)
    _assert_equal_nan(h.drop(columns=["iv", "iv_change"]), f.drop(columns=["iv", "iv_change"]), rtol=0)


def test_periods_per_year_is_causal():
    ppy = ind.periods_per_year
    daily = pd.date_range("2024-01-01", periods=30, freq="B", tz="UTC")
    assert np.isnan(ppy(daily)[0]) and (ppy(daily)[1:] == 252.0).all()
    # 2024-01-01 is a Monday: 252 days a year until the first weekend bar, then 365.
    d = ppy(pd.date_range("2024-01-01", periods=30, freq="D", tz="UTC"))
    assert (d[1:5] == 252.0).all() and (d[5:] == 365.0).all()
    m = ppy(pd.date_range("2024-01-06", periods=100, freq="min", tz="UTC"))
    assert (m[1:] == 365.0 * 1440).all()
    w = ppy(pd.date_range("2024-01-01", periods=10, freq="W-MON", tz="UTC"))
    assert np.allclose(w[1:], 365.25 / 7)
    # Weekday hourly bars 14:00-20:00 (7 a day), with an overnight gap.
    stamps = [pd.Timestamp(f"2024-01-0{d} {h}:00", tz="UTC") for d in (1, 2, 3) for h in range(14, 21)]
    h = ppy(pd.DatetimeIndex(stamps))
    assert (h[1:7] == 252.0 * np.arange(2, 8)).all() and (h[7:] == 252.0 * 7).all()
    with pytest.raises(ValueError, match="periods_per_year"):
        ppy(pd.RangeIndex(5))
    with pytest.raises(ValueError, match="sort"):
        ppy(daily[::-1])


# ------------------------------------------------------------------- errors


def test_unknown_set_name(btc):
    with pytest.raises(ValueError, match="unknown feature set 'nope'.*etf50, price, crypto, attention, sltp"):
        features(btc.iloc[:100], "nope")


def test_missing_columns(btc):
    with pytest.raises(ValueError, match="volume"):
        features(btc.iloc[:100].drop(columns="volume"), "price")


def test_import_is_light():
    code = (
        "import sys, mlbt.data.features, mlbt.data.indicators; "
        "print(int('pandas_ta_classic' in sys.modules), int('talib' in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]
