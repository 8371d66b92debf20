"""Universes: several symbols loaded as one frame of (field, asset) columns on the union
of their timestamps, from every kind of source, with the asset named in messages."""

import gzip
import sqlite3
import warnings

import numpy as np
import pandas as pd
import pytest

from mlbt.data import DataError, load, load_assets
from mlbt.data.samples import SAMPLES
from mlbt.data.universe import asset_bars, assets

FIELDS = ["open", "high", "low", "close", "volume"]


def quiet_load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load(*args, **kwargs)


def bar_rows(symbol, days, start_price):
    """Consistent daily OHLCV rows of one symbol on ``days``."""
    rows = []
    for k, day in enumerate(days):
        p = start_price + k
        rows.append({"timestamp": day, "symbol": symbol, "open": p, "high": p + 2, "low": p - 1, "close": p + 1,
                     "volume": 10.0 + k})
    return rows


DAYS = [f"2024-01-{d:02d}" for d in range(1, 8)]


@pytest.fixture
def long_csv(tmp_path):
    # BTC on all 7 days, ETH listed from day 3 and delisted after day 6.
    frame = pd.DataFrame(bar_rows("BTC", DAYS, 100.0) + bar_rows("ETH", DAYS[2:6], 10.0))
    path = tmp_path / "long.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_embedded_coins_sample_is_the_bitstamp_file_as_a_universe():
    bars = quiet_load("coins_1d", symbols="all")
    assert assets(bars) == ["BTC", "ETH", "LTC"] and bars.columns.names == ["field", "asset"]
    assert list(bars.columns.get_level_values("field").unique()) == FIELDS
    assert len(bars) == 1865 and str(bars.index[0]) == "2014-11-28 00:00:00+00:00"
    assert bars.attrs["listing"]["ETH"][0] == "2017-11-09 00:00:00+00:00"
    assert bars.attrs["listing"]["LTC"][0] == "2017-06-25 00:00:00+00:00"
    # The cells are the file's: read here independently of the loader.
    raw = pd.read_csv(SAMPLES["coins_1d"].path, index_col=0)
    for a in ("BTC", "ETH", "LTC"):
        for f in FIELDS:
            mine = bars[(f, a)].to_numpy()
            np.testing.assert_array_equal(mine, raw[f"{a}:{f}"].to_numpy())
    # Before its listing an asset has NaN bars; its own bars are the single-symbol load.
    assert bars[("close", "ETH")].loc[:"2017-11-08"].isna().all()
    pd.testing.assert_frame_equal(asset_bars(bars, "ETH"), quiet_load("coins_1d", symbol="ETH"), check_names=False,
                                  check_freq=False)


def test_a_long_file_gives_the_union_of_timestamps_with_nan_bars(long_csv):
    bars = quiet_load(long_csv, symbols="BTC,ETH")
    assert len(bars) == 7 and assets(bars) == ["BTC", "ETH"]
    assert bars[("close", "ETH")].isna().tolist() == [True, True, False, False, False, False, True]
    assert bars[("close", "ETH")].iloc[2] == 11.0 and bars[("volume", "BTC")].iloc[-1] == 16.0
    assert bars.attrs["listing"]["ETH"] == ["2024-01-03 00:00:00+00:00", "2024-01-06 00:00:00+00:00"]
    assert assets(quiet_load(long_csv, symbols=["ETH"])) == ["ETH"]  # the order asked for
    assert assets(quiet_load(long_csv, symbols=["ETH", "BTC"])) == ["ETH", "BTC"]


def test_a_wide_file_and_its_empty_cells(tmp_path):
    index = pd.Index(DAYS, name="date")
    btc = pd.DataFrame(bar_rows("BTC", DAYS, 100.0)).set_index("timestamp").drop(columns="symbol")
    eth = pd.DataFrame(bar_rows("ETH", DAYS, 10.0)).set_index("timestamp").drop(columns="symbol")
    eth.iloc[:2] = np.nan  # not listed yet
    eth.iloc[4] = np.nan  # a missing bar
    wide = pd.concat([btc.add_prefix("BTC:"), eth.add_prefix("ETH:")], axis=1).set_axis(index)
    path = tmp_path / "wide.csv"
    wide.to_csv(path)
    bars = quiet_load(path, symbols="all")
    assert assets(bars) == ["BTC", "ETH"] and len(bars) == 7
    assert bars[("close", "ETH")].isna().tolist() == [True, True, False, False, True, False, False]


def test_a_sqlite_candles_table(tmp_path, long_csv):
    path = tmp_path / "candles.db"
    with sqlite3.connect(path) as con:
        pd.read_csv(long_csv).to_sql("candles", con, index=False)
    bars = quiet_load(path, symbols="all")
    assert assets(bars) == ["BTC", "ETH"]  # sorted, as the table has no order
    pd.testing.assert_frame_equal(bars, quiet_load(long_csv, symbols="BTC,ETH"), check_freq=False)


def test_a_directory_or_glob_of_files_one_per_symbol(tmp_path):
    folder = tmp_path / "coins"
    folder.mkdir()
    for symbol, start in (("ETH", 10.0), ("BTC", 100.0)):
        frame = pd.DataFrame(bar_rows(symbol, DAYS, start)).drop(columns="symbol")
        with gzip.open(folder / f"{symbol}.csv.gz", "wt") as f:
            frame.to_csv(f, index=False)
    (folder / "notes.txt.bak").write_text("not data")
    bars = quiet_load(folder, symbols="all")
    assert assets(bars) == ["BTC", "ETH"]  # by file name
    assert bars[("open", "ETH")].iloc[0] == 10.0
    assert assets(quiet_load(str(folder / "E*.csv.gz"), symbols="all")) == ["ETH"]
    with pytest.raises(DataError, match=r"no symbol 'LTC'; symbols here: BTC, ETH"):
        load(folder, symbols="BTC,LTC")
    pd.DataFrame(bar_rows("BTC", DAYS, 1.0)).drop(columns="symbol").to_csv(folder / "BTC.csv", index=False)
    with pytest.raises(DataError, match=r"BTC.csv and BTC.csv.gz both hold symbol 'BTC'"):
        load(folder, symbols="all")


def test_a_synthetic_universe_is_seeded_and_distinct():
    spec = "synthetic:gbm?bars=500&assets=100&seed=1"
    bars = load(spec)
    assert len(assets(bars)) == 100 and assets(bars)[:2] == ["A001", "A002"] and bars.attrs["synthetic"]
    closes = bars["close"].to_numpy()
    assert len({round(float(c), 9) for c in closes[-1]}) == 100  # every path its own
    pd.testing.assert_frame_equal(bars, load(spec))  # seeded
    first = load("synthetic:gbm?bars=500&seed=1")  # asset 1 is the one-asset series of the spec
    np.testing.assert_array_equal(closes[:, 0], first["close"].to_numpy())
    assert assets(load(spec, symbols="A007,A003")) == ["A007", "A003"]
    assert list(load("synthetic:gbm?bars=50&assets=3", symbol="A2").columns) == FIELDS


def test_a_bad_value_names_the_file_the_asset_the_column_and_the_timestamp(tmp_path, long_csv):
    frame = pd.read_csv(long_csv)
    frame.loc[(frame.symbol == "ETH") & (frame.timestamp == "2024-01-04"), "close"] = -5.0
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"bad.csv \(asset ETH\): column 'close': 1 price\(s\) <= 0, first at "
                                        r"2024-01-04"):
        load(path, symbols="all")
    quiet_load(path, symbols="BTC")  # the other asset is fine alone


@pytest.mark.parametrize("kwargs, message", [
    ({"symbols": "BTC,,ETH"}, r"give symbols separated by commas"),
    ({"symbols": "BTC,BTC"}, r"'BTC' is given twice"),
    ({"symbols": "XRP"}, r"no symbol 'XRP'; symbols here: BTC, ETH"),
    ({"symbols": "BTC", "symbol": "BTC"}, r"give one symbol .* or several .*, not both"),
])
def test_bad_symbol_requests_are_named(long_csv, kwargs, message):
    with pytest.raises(DataError, match=message):
        load(long_csv, **kwargs)


def test_one_instrument_is_a_universe_of_one_named_by_its_symbol(tmp_path):
    assert assets(quiet_load("btcusd_1h", symbols="all")) == ["BTC"]
    path = tmp_path / "SOL.csv"
    pd.DataFrame(bar_rows("SOL", DAYS, 5.0)).drop(columns="symbol").to_csv(path, index=False)
    assert assets(quiet_load(path, symbols="all")) == ["SOL"]
    with pytest.raises(DataError, match=r"one instrument, named 'SOL'\): no symbol 'BTC'"):
        load(path, symbols="BTC")


def test_each_asset_alone_and_the_selection_applied_to_each(long_csv):
    frames = load_assets(long_csv, "all", start="2024-01-04", warn=False)
    assert list(frames) == ["BTC", "ETH"]
    assert str(frames["BTC"].index[0]) == "2024-01-04 00:00:00+00:00" and len(frames["ETH"]) == 3
    with pytest.raises(DataError, match=r"in the union of 2 assets, but this use needs at least 10"):
        load(long_csv, symbols="all", min_bars=10)


def test_symbols_are_text_in_csv_and_sqlite(tmp_path, long_csv):
    frame = pd.read_csv(long_csv)
    frame["symbol"] = frame["symbol"].map({"BTC": "001", "ETH": "002"})
    path = tmp_path / "codes.csv"
    frame.to_csv(path, index=False)
    assert assets(quiet_load(path, symbols="001,002")) == ["001", "002"]  # not the numbers 1 and 2
    db = tmp_path / "numbers.db"
    with sqlite3.connect(db) as con:
        frame.assign(symbol=frame["symbol"].astype(int)).to_sql("candles", con, index=False)
    assert assets(quiet_load(db, symbols="all")) == ["1", "2"]
    assert len(quiet_load(db, symbol="2")) == 4


def test_a_row_without_a_symbol_is_named(tmp_path, long_csv):
    frame = pd.read_csv(long_csv)
    frame.loc[3, "symbol"] = None
    path = tmp_path / "blank.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"blank.csv: column 'symbol' is empty on 1 row\(s\), first at data row 4"):
        load(path, symbols="all")


def test_a_directory_needs_symbols_unless_it_holds_one_file(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    pd.DataFrame(bar_rows("BTC", DAYS, 100.0)).drop(columns="symbol").to_csv(folder / "BTC.csv", index=False)
    assert len(quiet_load(folder)) == 7  # one file: that instrument
    pd.DataFrame(bar_rows("ETH", DAYS, 10.0)).drop(columns="symbol").to_csv(folder / "ETH.csv", index=False)
    with pytest.raises(DataError, match=r"a directory of 2 files, one per symbol \(BTC, ETH\); load several with "
                                        r"symbols=\.\.\. \(--symbols\), or one with symbol="):
        load(folder)
    assert quiet_load(folder, symbol="ETH")["open"].iloc[0] == 10.0


def test_bt_data_show_reports_an_asset_s_repeated_timestamps(tmp_path, long_csv):
    from tests.conftest import bt

    frame = pd.read_csv(long_csv)
    path = tmp_path / "dup.csv"
    pd.concat([frame, frame.iloc[[8]]]).to_csv(path, index=False)  # an ETH bar twice
    out = bt("data", "show", str(path), "--symbols", "all")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "dup.csv (asset ETH): column 'timestamp': 1 timestamp(s) on more than one row" in out.stdout
