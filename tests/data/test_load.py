"""data.load on every source kind, on files the tests write themselves."""

from __future__ import annotations

import gzip
import sqlite3
import warnings

import numpy as np
import pandas as pd
import pytest

from mlbt.data import DataError, DataWarning, fingerprint, load, samples
from tests.conftest import make_bars

FIELDS = ["open", "high", "low", "close", "volume"]


def assert_bars(bars: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert isinstance(bars.index, pd.DatetimeIndex) and str(bars.index.tz) == "UTC"
    assert bars.index.is_monotonic_increasing and bars.index.is_unique
    assert (bars.dtypes == "float64").all()
    pd.testing.assert_frame_equal(bars[FIELDS], expected[FIELDS], check_freq=False, check_index_type=False,
                                  check_names=False)
    assert (bars.index.asi8 == expected.index.as_unit("ns").asi8).all()


def test_embedded_samples_are_valid_bars():
    assert samples() == ["btcusd_1h", "coins_1d", "spx_vix_1d"]
    btc = load("btcusd_1h")
    assert len(btc) == 20_106 and list(btc.columns) == FIELDS
    assert str(btc.index[0]) == "2017-07-01 11:00:00+00:00" and str(btc.index[-1]) == "2019-10-17 09:00:00+00:00"
    assert btc.attrs["source"] == "btcusd_1h" and btc.attrs["synthetic"] is False
    spx = load("spx_vix_1d")
    assert list(spx.columns) == [*FIELDS, "ivx"] and len(spx) == 1257
    assert spx.index[0] == pd.Timestamp("2014-01-03", tz="UTC")
    assert spx.index[-1] == pd.Timestamp("2018-12-31", tz="UTC")
    assert spx["ivx"].between(9, 41).all()  # VIX closes 2014-2018: 9.14 to 40.74
    assert (spx.index.day_of_week < 5).all()


def test_zero_volume_bars_are_a_warning_with_counts():
    with pytest.warns(DataWarning, match=r"btcusd_1h: 28 zero-volume bar\(s\), first at 2017-09-25 05:00"):
        load("btcusd_1h")


@pytest.mark.parametrize("names", [
    {"timestamp": "Date", "open": "Open", "high": "High", "low": "Low", "close": "Close", "volume": "Volume"},
    {"timestamp": "TIME", "open": "OPEN", "high": "HIGH", "low": "LOW", "close": "CLOSE", "volume": "VOL"},
    {"timestamp": "datetime", "open": "open_price", "high": "high_price", "low": "low_price",
     "close": "close_price", "volume": "Volume USD"},
    {"timestamp": "Date Time", "open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"},
])
def test_csv_column_spellings(tmp_path, names):
    bars = make_bars()
    frame = bars.reset_index().rename(columns=names)
    frame[names["timestamp"]] = bars.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    assert_bars(load(path), bars)


def test_quote_volume_is_used_only_without_base_volume(tmp_path):
    bars = make_bars()
    frame = bars.reset_index()
    frame["timestamp"] = bars.index.strftime("%Y-%m-%d %H:%M")
    frame = frame.rename(columns={"volume": "Volume BTC"})
    frame["Volume USD"] = frame["Volume BTC"] * frame["close"]
    frame.to_csv(tmp_path / "x.csv", index=False)
    out = load(tmp_path / "x.csv")
    assert_bars(out, bars)  # base volume preferred
    assert "volume_usd" in out.columns


@pytest.mark.parametrize("kind", ["iso_offset", "date", "unix_s", "unix_ms", "unix_s_text", "exchange"])
def test_timestamp_forms(tmp_path, kind):
    freq = "1D" if kind == "date" else "1h"
    bars = make_bars(freq=freq)
    frame = bars.reset_index()
    if kind == "iso_offset":  # the same instants written in New York time
        frame["timestamp"] = bars.index.tz_convert("America/New_York").strftime("%Y-%m-%dT%H:%M:%S%z")
    elif kind == "date":
        frame["timestamp"] = bars.index.strftime("%Y-%m-%d")
    elif kind == "unix_s":
        frame["timestamp"] = bars.index.asi8 // 10**9
    elif kind == "unix_ms":
        frame["timestamp"] = bars.index.asi8 // 10**6
    elif kind == "unix_s_text":
        frame["timestamp"] = (bars.index.asi8 // 10**9).astype(str)
    else:
        frame["timestamp"] = bars.index.strftime("%Y-%m-%d %I-%p")
    frame.to_csv(tmp_path / "x.csv", index=False)
    assert_bars(load(tmp_path / "x.csv"), bars)


def test_naive_timestamps_in_a_named_zone(tmp_path):
    bars = make_bars()
    frame = bars.reset_index()
    frame["timestamp"] = bars.index.tz_convert("Europe/Berlin").strftime("%Y-%m-%d %H:%M")
    frame.to_csv(tmp_path / "x.csv", index=False)
    assert_bars(load(tmp_path / "x.csv", tz="Europe/Berlin"), bars)


def test_newest_first_gzip_csv_with_banner(tmp_path):
    bars = make_bars()
    frame = bars.reset_index().iloc[::-1]
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%d %I-%p")
    path = tmp_path / "x.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("Timestamps are UTC timezone,https://example.com\n")
        frame.to_csv(fh, index=False)
    assert_bars(load(path), bars)


@pytest.mark.parametrize(("sep", "name"), [(";", "x.csv"), ("\t", "x.csv"), ("|", "x.txt"), (";", "x.csv.gz")])
def test_semicolon_tab_and_pipe_delimited_csv_are_read(tmp_path, sep, name):
    bars = make_bars()
    path = tmp_path / name
    bars.reset_index().to_csv(path, index=False, sep=sep)
    assert_bars(load(path), bars)
    with gzip.open(tmp_path / "banner.csv.gz", "wt") as fh:  # a banner line above a ';' header
        fh.write("Exported from somewhere\n")
        bars.reset_index().to_csv(fh, index=False, sep=sep)
    assert_bars(load(tmp_path / "banner.csv.gz"), bars)


def test_decimal_commas_and_mixed_delimiters_are_named(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("timestamp;open;high;low;close;volume\n2021-03-01T00:00Z;1,5;2;1;1,5;3\n")
    with pytest.raises(DataError, match=r"eu.csv: column 'open': cannot read '1,5' as a number at 2021-03-01 "
                                        r"00:00:00\+00:00; it looks like a decimal comma: bt reads '\.' as the "
                                        r"decimal point, so export with '\.'$"):
        load(path)
    path = tmp_path / "mixed.csv"
    path.write_text("timestamp;open;high;low,close,volume\n2021-03-01T00:00Z;1;2;1,1,3\n")
    with pytest.raises(DataError, match=r"mixed.csv: no timestamp column \(columns found: timestamp;open;high;low, "
                                        r"close, volume\); the header seems to use ';' as well as ',' as delimiter: "
                                        r"use one \(bt reads ',', or ';', tab or '\|' when the header has no comma\)"):
        load(path)


def test_symbol_and_range_messages_name_the_cli_option_too(tmp_path):
    with pytest.raises(DataError, match=r"synthetic data has no symbols; leave out symbol='ETH' \(--symbol\)$"):
        load("synthetic:gbm?bars=10", symbol="ETH")
    with pytest.raises(DataError, match=r"holds one instrument; leave out symbol='ETH' \(--symbol\)$"):
        load("btcusd_1h", symbol="ETH")
    make_bars().reset_index().to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(DataError, match=r"no symbol column or SYM:field columns; leave out symbol='ETH' "
                                        r"\(--symbol\)$"):
        load(tmp_path / "x.csv", symbol="ETH")
    with pytest.raises(DataError, match=r"cannot read start='yesterday' \(--start\) as a time; use ISO 8601"):
        load(tmp_path / "x.csv", start="yesterday")


def test_raw_shared_coinbase_file_matches_the_embedded_sample():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        raw = load("../shared/data/coinbase_btcusd_1h.csv") if __import__("os").path.exists(
            "../shared/data/coinbase_btcusd_1h.csv") else pytest.skip("../shared not present")
        sample = load("btcusd_1h")
    # the raw file repeats the bars 2017-11-11 23:00 .. 2017-11-12 03:00 five hours later,
    # out of order, with identical OHLCV; the sample leaves those copies out (SOURCES.md)
    copies = pd.date_range("2017-11-12 04:00", "2017-11-12 08:00", freq="h", tz="UTC")
    pd.testing.assert_frame_equal(raw.loc[copies].reset_index(drop=True),
                                  raw.loc[copies - pd.Timedelta(hours=5)].reset_index(drop=True))
    raw = raw.drop(copies)
    # the raw file's plain `volume` column is USD volume; the sample keeps base (BTC) volume
    pd.testing.assert_frame_equal(raw[["open", "high", "low", "close"]], sample[["open", "high", "low", "close"]])
    np.testing.assert_allclose(raw["volume_btc"], sample["volume"])


@pytest.mark.parametrize("fmt", ["parquet", "feather"])
def test_parquet_and_feather(tmp_path, fmt):
    bars = make_bars()
    extra = bars.assign(ivx=np.linspace(12, 14, len(bars)))
    path = tmp_path / f"x.{fmt}"
    getattr(extra, f"to_{fmt}")(path) if fmt == "parquet" else extra.reset_index().to_feather(path)
    out = load(path)
    assert_bars(out, bars)
    np.testing.assert_array_equal(out["ivx"], extra["ivx"])


def write_candles(path, symbols=("ETH/USDT", "BTC/USDT")):
    rows = []
    for k, sym in enumerate(symbols):
        bars = make_bars() * (k + 1)
        for ts, r in bars.iterrows():
            rows.append((int(ts.timestamp() * 1000), r.open, r.high, r.low, r.close, r.volume, sym))
    with sqlite3.connect(path) as con:
        con.execute("create table candles (timestamp integer, open real, high real, low real, close real, "
                    "volume real, symbol text)")
        con.executemany("insert into candles values (?,?,?,?,?,?,?)", rows[::-1])
        con.execute("create table trades (id integer)")
    con.close()


def test_sqlite_candles_with_symbol_filter(tmp_path):
    path = tmp_path / "market.db"
    write_candles(path)
    assert_bars(load(path, symbol="ETH/USDT"), make_bars())
    assert_bars(load(path, symbol="BTC/USDT"), make_bars() * 2)


def test_sqlite_errors_list_what_exists(tmp_path):
    path = tmp_path / "market.sqlite"
    write_candles(path)
    with pytest.raises(DataError, match=r"no symbol 'SOL/USDT' in table 'candles'; symbols here: BTC/USDT, ETH/USDT"):
        load(path, symbol="SOL/USDT")
    with pytest.raises(DataError, match=r"several symbols \(BTC/USDT, ETH/USDT\); pick one with symbol="):
        load(path)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("create table ohlc (ts integer)")
        con.execute("create table fills (id integer)")
    con.close()
    with pytest.raises(DataError, match=r"no table 'candles'; tables here: ohlc, fills"):
        load(other)


def test_long_and_wide_multi_symbol_csv(tmp_path):
    a, b = make_bars(), make_bars() * 3
    long = pd.concat([a.assign(symbol="AAA"), b.assign(symbol="BBB")]).reset_index()
    long.to_csv(tmp_path / "long.csv", index=False)
    assert_bars(load(tmp_path / "long.csv", symbol="BBB"), b)
    with pytest.raises(DataError, match="several symbols"):
        load(tmp_path / "long.csv")
    wide = pd.concat([a.add_prefix("AAA:"), b.add_prefix("BBB:")], axis=1)
    wide.iloc[:2, :5] = np.nan  # AAA not listed yet in the first two rows
    wide.index = wide.index.strftime("%Y-%m-%d %H:%M")
    wide.to_csv(tmp_path / "wide.csv")
    assert_bars(load(tmp_path / "wide.csv", symbol="AAA"), a.iloc[2:])
    assert_bars(load(tmp_path / "wide.csv", symbol="BBB"), b)
    with pytest.raises(DataError, match=r"has no symbol 'CCC' \(column prefixes AAA, BBB\)"):
        load(tmp_path / "wide.csv", symbol="CCC")


def test_synthetic_is_seeded_valid_and_labelled():
    spec = "synthetic:gbm?bars=5000&seed=7&freq=1min"
    a, b = load(spec), load(spec)
    assert len(a) == 5000 and a.attrs["synthetic"] is True and a.attrs["source"] == spec
    pd.testing.assert_frame_equal(a, b)
    assert (np.diff(a.index.asi8) == 60 * 10**9).all()
    assert not a.equals(load("synthetic:gbm?bars=5000&seed=8&freq=1min"))
    np.testing.assert_array_equal(a["open"].to_numpy()[1:], a["close"].to_numpy()[:-1])
    with pytest.raises(DataError, match="unknown key 'rows'"):
        load("synthetic:gbm?rows=10")
    with pytest.raises(DataError, match="unknown synthetic kind 'walk'"):
        load("synthetic:walk")


def test_start_end_are_inclusive_and_strings_are_partial_dates():
    bars = load("synthetic:gbm?bars=100&freq=1h&start=2021-01-01")
    part = load("synthetic:gbm?bars=100&freq=1h&start=2021-01-01", start="2021-01-02 03:00", end="2021-01-03")
    assert part.index[0] == pd.Timestamp("2021-01-02 03:00", tz="UTC")
    assert part.index[-1] == pd.Timestamp("2021-01-03 23:00", tz="UTC")  # the whole end day
    pd.testing.assert_frame_equal(part, bars.loc["2021-01-02 03:00":"2021-01-03 23:00"], check_freq=False)
    with pytest.raises(DataError, match=r"no bars from 2030-01-01 to the last bar; the data covers 2020-01-01 00:00"):
        load("synthetic:gbm?bars=100", start="2030-01-01")


def test_unknown_source_and_type(tmp_path):
    with pytest.raises(DataError, match=r"no_such: no such file, and not an embedded sample "
                                        r"\(btcusd_1h, coins_1d, spx_vix_1d\)"):
        load("no_such")
    (tmp_path / "x.xlsx").write_text("nope")
    with pytest.raises(DataError, match=r"unknown file type '.xlsx'"):
        load(tmp_path / "x.xlsx")


def test_fingerprint_is_a_stable_content_hash():
    bars = make_bars()
    # regression value: a change here invalidates every user's cache, so it must be deliberate
    assert fingerprint(bars) == fingerprint(bars.copy()) == FINGERPRINT_MAKE_BARS
    assert fingerprint(bars[list(reversed(bars.columns))]) == fingerprint(bars)
    shifted = bars.copy()
    shifted.attrs["source"] = "elsewhere"
    shifted.index = shifted.index.as_unit("us")
    assert fingerprint(shifted) == fingerprint(bars)
    changed = bars.copy()
    changed.iloc[3, 3] += 1e-9
    assert fingerprint(changed) != fingerprint(bars)
    assert fingerprint(bars.iloc[:-1]) != fingerprint(bars)
    assert fingerprint(bars.assign(ivx=1.0)) != fingerprint(bars)
    later = bars.copy()
    later.index = later.index + pd.Timedelta("1h")
    assert fingerprint(later) != fingerprint(bars)


FINGERPRINT_MAKE_BARS = "a7565d07ffcd47a3c27e8fab5538368cb744d771ad34038569239ac123bdba46"
