"""Every validation error and warning of data.load, with its message, on files the
tests write; explicit repairs; resampling against a hand-built example."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlbt.data import DataError, DataWarning, check, load
from tests.conftest import make_bars


def write(tmp_path, bars: pd.DataFrame, name: str = "bad.csv"):
    path = tmp_path / name
    frame = bars.reset_index()
    frame["timestamp"] = pd.DatetimeIndex(frame["timestamp"]).strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.to_csv(path, index=False)
    return path


def corrupt(row: int, column: str, value) -> pd.DataFrame:
    bars = make_bars(8)
    bars.iloc[row, bars.columns.get_loc(column)] = value
    return bars


@pytest.mark.parametrize(("bars", "pattern"), [
    (make_bars().drop(columns=["high", "volume"]),
     r"bad.csv: missing column\(s\) high, volume \(columns found: open, low, close\); rename them"),
    (corrupt(2, "close", np.nan),
     r"bad.csv: column 'close': 1 NaN/empty/infinite value\(s\), first at 2021-03-01 02:00:00\+00:00; fill or remove"),
    (corrupt(5, "volume", np.inf),
     r"bad.csv: column 'volume': 1 NaN/empty/infinite value\(s\), first at 2021-03-01 05:00:00\+00:00"),
    (corrupt(4, "low", -1.0), r"bad.csv: column 'low': 1 price\(s\) <= 0, first at 2021-03-01 04:00:00\+00:00"),
    (corrupt(3, "open", 0.0), r"bad.csv: column 'open': 1 price\(s\) <= 0, first at 2021-03-01 03:00:00\+00:00"),
    (corrupt(6, "high", 50.0),
     r"bad.csv: column 'high': 1 bar\(s\) with high below max\(open, close\), first at 2021-03-01 06:00:00\+00:00"),
    (corrupt(1, "low", 500.0),
     r"bad.csv: column 'low': 1 bar\(s\) with low above min\(open, close\), first at 2021-03-01 01:00:00\+00:00"),
    (corrupt(7, "volume", -3.0),
     r"bad.csv: column 'volume': 1 negative volume\(s\), first at 2021-03-01 07:00:00\+00:00; volume must be >= 0"),
    (make_bars().iloc[:0], r"bad.csv: no bars \(check the file"),
])
def test_validation_errors_name_file_column_and_timestamps(tmp_path, bars, pattern):
    path = write(tmp_path, bars)
    with pytest.raises(DataError, match=pattern) as info:
        load(path)
    assert "\n" not in str(info.value)


def test_first_offending_timestamps_are_listed_with_the_count(tmp_path):
    bars = make_bars(10)
    bars.loc[bars.index[[2, 5, 7, 9]], "close"] = -1.0
    with pytest.raises(DataError, match=r"column 'close': 4 price\(s\) <= 0, first at 2021-03-01 02:00:00\+00:00, "
                                        r"2021-03-01 05:00:00\+00:00, 2021-03-01 07:00:00\+00:00; prices must be"):
        load(write(tmp_path, bars))


def test_duplicates_are_an_error_unless_repair_is_asked(tmp_path):
    bars = make_bars(6)
    dup = pd.concat([bars, bars.iloc[[3]] * 1.01]).sort_index(kind="stable")
    path = write(tmp_path, dup)
    with pytest.raises(DataError, match=r"column 'timestamp': 1 timestamp\(s\) on more than one row: "
                                        r"2021-03-01 03:00:00\+00:00 at data rows 4 and 5 \(data rows count from 1 "
                                        r"after the header\); remove or merge those rows in the file, or keep the "
                                        r"last row of each with --repair duplicates "
                                        r"\(load\(\.\.\., repair=\('duplicates',\)\)\)$"):
        load(path)
    fixed = load(path, repair=["duplicates"])
    assert len(fixed) == 6 and fixed.attrs["dropped_duplicates"] == 1
    assert fixed["close"].iloc[3] == pytest.approx(bars["close"].iloc[3] * 1.01)  # the last row of each kept


def test_duplicate_message_names_distinct_timestamps_with_their_file_rows(tmp_path):
    bars = make_bars(8)
    # rows 2 (x3, scattered in the file) and 6 (x2) repeat; the file is otherwise in order
    frame = pd.concat([bars.iloc[:3], bars.iloc[[2]], bars.iloc[3:7], bars.iloc[[6, 2]], bars.iloc[7:]])
    path = write(tmp_path, frame)
    with pytest.raises(DataError) as info:
        load(path)
    message = str(info.value)
    assert ("2 timestamp(s) on more than one row: 2021-03-01 02:00:00+00:00 at data rows 3, 4 and 10, "
            "2021-03-01 06:00:00+00:00 at data rows 8 and 9 (data rows count from 1 after the header)") in message
    assert message.count("2021-03-01 02:00:00+00:00") == 1
    report = check(load(path, validate=False, warn=False), source="x")  # as `bt data show` reports it
    dups = next(p for p in report.errors if p.check == "duplicates")
    assert "at data rows 3, 4 and 10" in dups.message and dups.count == 2
    bare = check(pd.concat([bars, bars.iloc[[1]]]).sort_index(), source="mem")  # no file: no row numbers
    assert bare.errors[0].message.startswith("mem: column 'timestamp': 1 timestamp(s) on more than one row: "
                                             "2021-03-01 01:00:00+00:00; remove")


def test_messages_name_no_cli_flag_that_does_not_exist():
    """Every ``--flag`` a data message suggests exists on `bt run` and `bt data show`."""
    import re
    from pathlib import Path

    from click.testing import CliRunner

    from mlbt.cli import main

    flags = set()
    for path in Path("data").glob("*.py"):
        flags |= set(re.findall(r"(?:\(|with )--([a-z][a-z-]+)", path.read_text()))
    assert {"symbol", "symbols", "repair"} <= flags
    for command in (["run", "--help"], ["data", "show", "--help"]):
        text = CliRunner().invoke(main, command).output
        assert not [f for f in flags if f"--{f}" not in text], command


def test_unreadable_values_and_timestamps(tmp_path):
    path = write(tmp_path, make_bars())
    text = path.read_text().replace("2021-03-01T02:00:00Z", "yesterday", 1)
    path.write_text(text)
    with pytest.raises(DataError, match=r"bad.csv: column 'timestamp': cannot read timestamp 'yesterday'; use ISO"):
        load(path)
    path = write(tmp_path, make_bars())
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",twelve"
    path.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"column 'volume': cannot read 'twelve' as a number at 2021-03-01 02:00"):
        load(path)
    (tmp_path / "nots.csv").write_text("open,high,low,close,volume\n1,2,1,1,1\n")
    with pytest.raises(DataError, match=r"no timestamp column \(columns found: open, high, low, close, volume\)"):
        load(tmp_path / "nots.csv")


def test_too_short_for_the_requested_use():
    with pytest.raises(DataError, match=r"50 bars from 2020-01-01 00:00:00\+00:00 to 2020-01-03 01:00:00\+00:00, "
                                        r"but this use needs at least 61"):
        load("synthetic:gbm?bars=50", min_bars=61)
    assert len(load("synthetic:gbm?bars=61", min_bars=61)) == 61


def test_gaps_in_a_24_7_series_are_a_warning_and_fill_on_request(tmp_path):
    bars = make_bars(12)
    holed = bars.drop(bars.index[[4, 5, 9]])
    path = write(tmp_path, holed)
    with pytest.warns(DataWarning, match=r"bad.csv: 2 gap\(s\) in a regular 1h series, first after "
                                         r"2021-03-01 03:00:00\+00:00, 2021-03-01 08:00:00\+00:00; fill them in the "
                                         r"file if they matter, or insert flat zero-volume bars with --repair gaps "
                                         r"\(load\(\.\.\., repair=\('gaps',\)\)\)$"):
        loaded = load(path)
    assert len(loaded) == 9
    filled = load(path, repair=["gaps"], warn=False)
    assert len(filled) == 12 and filled.attrs["filled_bars"] == 3
    prev_close = holed["close"].iloc[3]
    for c in ("open", "high", "low", "close"):
        assert filled[c].iloc[4] == filled[c].iloc[5] == prev_close
    assert filled["volume"].iloc[4] == 0.0
    pd.testing.assert_frame_equal(filled.loc[holed.index], holed, check_freq=False)


def test_session_markets_tolerate_nights_weekends_and_single_holidays(tmp_path):
    spx = load("spx_vix_1d")
    assert check(spx, source="spx").warnings == []  # weekends and one-day holidays are not gaps
    week = spx.drop(spx.loc["2016-03-07":"2016-03-09"].index)  # three sessions missing
    gaps = check(week, source="spx").warnings
    assert len(gaps) == 1 and gaps[0].count == 1 and gaps[0].first == (pd.Timestamp("2016-03-04", tz="UTC"),)
    # intraday session data (Friday, Monday): the weekend jump is not a gap, a missing minute inside the session is
    day1 = pd.date_range("2021-03-05 14:30", periods=390, freq="1min", tz="UTC")
    day2 = pd.date_range("2021-03-08 14:30", periods=390, freq="1min", tz="UTC").delete(100)
    intraday = make_bars(len(day1) + len(day2))
    intraday.index = day1.append(day2).rename("timestamp")
    report = check(intraday, source="es")
    assert [(p.check, p.count) for p in report.problems] == [("gaps", 1)]


def test_rows_out_of_order_mid_file_are_sorted_with_a_warning(tmp_path):
    bars = make_bars(8)
    path = write(tmp_path, bars.iloc[[0, 1, 2, 4, 3, 5, 7, 6]])
    with pytest.warns(DataWarning, match=r"bad.csv: column 'timestamp': 2 row\(s\) earlier than the row above them, "
                                         r"first at data row 5 \(2021-03-01 03:00:00\+00:00, after "
                                         r"2021-03-01 04:00:00\+00:00; data rows count from 1 after the header\); "
                                         r"the bars were sorted by time: check those rows, or sort the file$"):
        loaded = load(path)
    pd.testing.assert_frame_equal(loaded[list(bars.columns)], bars, check_freq=False)
    assert [p.check for p in check(loaded, source="x").warnings] == ["order"]  # as `bt data show` reports it


def test_a_newest_first_file_is_sorted_silently_unless_a_row_breaks_its_order(tmp_path):
    import warnings

    bars = make_bars(8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        load(write(tmp_path, bars.iloc[::-1]))
    with pytest.warns(DataWarning, match=r"1 row\(s\) later than the row above them in a newest-first file, "
                                         r"first at data row 4 \(2021-03-01 05:00:00\+00:00, after "
                                         r"2021-03-01 04:00:00\+00:00; data rows count"):
        load(write(tmp_path, bars.iloc[[7, 6, 4, 5, 3, 2, 1, 0]]))


def test_mixed_utc_offsets_are_converted_and_a_row_they_move_is_reported(tmp_path):
    bars = make_bars(6)
    path = write(tmp_path, bars)
    lines = path.read_text().splitlines()
    # data row 3 written as 04:00 at +05:00: 23:00 UTC the day before, so it becomes the first bar
    lines[3] = lines[3].replace("2021-03-01T02:00:00Z", "2021-03-01T04:00:00+05:00")
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(DataWarning, match=r"1 row\(s\) earlier than the row above them, first at data row 3 "
                                         r"\(2021-02-28 23:00:00\+00:00, after 2021-03-01 01:00:00\+00:00; data "
                                         r"rows count from 1 after the header\); the bars were sorted by time: check "
                                         r"those rows, or sort the file; the timestamps mix UTC offsets \(\+00:00 on 5 "
                                         r"row\(s\), \+05:00 on 1 row\(s\) from data row 3\), each converted to UTC$"):
        loaded = load(path)
    assert loaded.index[0] == pd.Timestamp("2021-02-28 23:00", tz="UTC")
    assert list(loaded.index[1:]) == [bars.index[i] for i in (0, 1, 3, 4, 5)]
    lines[3] = lines[3].replace("2021-03-01T04:00:00+05:00", "2021-03-01T06:00:00+05:00")  # 01:00 UTC: a duplicate
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"2021-03-01 01:00:00\+00:00 at data rows 2 and 3 .* --repair duplicates "
                                        r"\(load\(.*\)\); the timestamps mix UTC offsets \(\+00:00 on 5 "
                                        r"row\(s\), \+05:00 on 1 row\(s\) from data row 3\), each converted to UTC$"):
        load(path)


def test_offsets_that_change_in_order_load_silently(tmp_path):
    """A local-time export across a DST change (+01:00 then +02:00) is one ordered series."""
    import warnings

    idx = pd.date_range("2021-03-28 00:00", periods=4, freq="1h", tz="UTC")
    bars = make_bars(4)
    bars.index = idx.rename("timestamp")
    frame = bars.reset_index()
    frame["timestamp"] = [t.tz_convert("Europe/Berlin").isoformat() for t in idx]
    assert frame["timestamp"].str[-6:].tolist() == ["+01:00", "+02:00", "+02:00", "+02:00"]
    frame.to_csv(tmp_path / "dst.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        loaded = load(tmp_path / "dst.csv")
    assert (loaded.index == idx).all()


def test_utc_offsets_are_read_from_timestamps_with_a_time_of_day():
    from mlbt.data.timestamps import utc_offsets

    stamps = pd.Series(["2020-01-01T00:00:00Z", "2020-01-01 05:00:00+0500", "2020-01-01T01:00:00.123-03",
                        "2020-01-01T00:00:00.123456789+05:30", "2020-01-01 00:00:00", "2020-01-01",
                        "2019-10-17 09-AM"])
    assert list(utc_offsets(stamps)) == ["+00:00", "+05:00", "-03:00", "+05:30", None, None, None]
    assert utc_offsets(pd.Series([1.6e9, 1.7e9])) is None


def test_zero_volume_is_a_warning_not_an_error(tmp_path):
    bars = corrupt(2, "volume", 0.0)
    with pytest.warns(DataWarning, match=r"bad.csv: 1 zero-volume bar\(s\), first at 2021-03-01 02:00:00\+00:00"):
        assert len(load(write(tmp_path, bars))) == 8


def test_check_reports_every_problem_at_once():
    bars = make_bars(8)
    bars.iloc[1, 3] = np.nan
    bars.iloc[2, 4] = -1.0
    bars.iloc[3, 4] = 0.0
    report = check(bars, source="mem")
    assert [p.check for p in report.errors] == ["nan", "negative_volume"]
    assert [p.check for p in report.warnings] == ["zero_volume"]
    with pytest.raises(DataError, match="column 'close'"):
        report.raise_errors()


def test_resample_matches_a_hand_built_example():
    idx = pd.date_range("2021-03-01 00:00", periods=7, freq="1h", tz="UTC")
    bars = pd.DataFrame({
        "open":   [10.0, 11.0, 12.0, 11.5, 13.0, 12.0, 12.5],
        "high":   [11.5, 12.5, 12.2, 13.5, 13.2, 12.9, 13.0],
        "low":    [9.5, 10.8, 11.0, 11.2, 11.9, 11.5, 12.1],
        "close":  [11.0, 12.0, 11.5, 13.0, 12.0, 12.5, 12.8],
        "volume": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        "ivx":    [20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0],
    }, index=idx.rename("timestamp"))
    from mlbt.data.resample import resample

    out = resample(bars, "3h")
    expected = pd.DataFrame({
        "open": [10.0, 11.5, 12.5], "high": [12.5, 13.5, 13.0], "low": [9.5, 11.2, 12.1],
        "close": [11.5, 12.5, 12.8], "volume": [6.0, 15.0, 7.0], "ivx": [22.0, 25.0, 26.0],
    }, index=pd.DatetimeIndex(["2021-03-01 00:00", "2021-03-01 03:00", "2021-03-01 06:00"], tz="UTC",
                              name="timestamp"))
    pd.testing.assert_frame_equal(out, expected, check_freq=False)
    holed = resample(bars.drop(idx[3:6]), "3h")  # an empty bin is dropped, not filled
    assert list(holed.index.hour) == [0, 6]
    with pytest.raises(DataError, match="finer than the data's spacing"):
        resample(bars, "30min")


def test_load_resamples_after_validation_and_slices_before():
    daily = load("btcusd_1h", timeframe="1D", start="2018-01-01", end="2018-01-31", warn=False)
    hourly = load("btcusd_1h", start="2018-01-01", end="2018-01-31", warn=False)
    assert len(daily) == 31
    jan5 = hourly.loc["2018-01-05"]
    assert daily.loc["2018-01-05", "open"] == jan5["open"].iloc[0]
    assert daily.loc["2018-01-05", "high"] == jan5["high"].max()
    assert daily.loc["2018-01-05", "low"] == jan5["low"].min()
    assert daily.loc["2018-01-05", "close"] == jan5["close"].iloc[-1]
    assert daily.loc["2018-01-05", "volume"] == pytest.approx(jan5["volume"].sum(), rel=1e-12)


def dated(tmp_path, fmt: str, n: int = 40):
    """A CSV of ``n`` hourly bars from 2017-07-01 09:00 whose timestamps are written with ``fmt``."""
    bars = make_bars(n, start="2017-07-01 09:00")
    frame = bars.reset_index()
    frame["timestamp"] = pd.DatetimeIndex(frame["timestamp"]).strftime(fmt)
    path = tmp_path / "dated.csv"
    frame.to_csv(path, index=False)
    return path, bars.index


def test_day_first_and_twelve_hour_timestamps_read_with_date_format(tmp_path):
    # US 12-hour clock (07/01/2017 11:00 AM): read as written, month first
    path, index = dated(tmp_path, "%m/%d/%Y %I:%M %p")
    assert load(path, warn=False).index.equals(index)
    # day first (01/07/2017 09:00 is 1 July): refused with the option that reads it (the 13th day shows
    # it is not month first), then read with it, by name or by strptime format
    path, index = dated(tmp_path, "%d/%m/%Y %H:%M", n=13 * 24)
    with pytest.raises(DataError, match=r"dated.csv: column 'timestamp': timestamp '13/07/2017 00:00' is not a "
                                        r"month-first date, .* give --date-format dayfirst"):
        load(path)
    assert load(path, date_format="dayfirst", warn=False).index.equals(index)
    assert load(path, date_format="%d/%m/%Y %H:%M", warn=False).index.equals(index)
    with pytest.raises(DataError, match=r"timestamp '01/07/2017 09:00' is not in --date-format '%Y-%m-%d'"):
        load(path, date_format="%Y-%m-%d")
    with pytest.raises(DataError, match=r"date_format 'european': give dayfirst, monthfirst or a strptime format"):
        load(path, date_format="european")
    with pytest.raises(DataError, match=r"cannot read timestamp '13/07/2017 00:00'.*--date-format dayfirst"):
        load(path, date_format="monthfirst")


def test_the_command_line_takes_date_format(tmp_path):
    from tests.conftest import bt

    path, _ = dated(tmp_path, "%d/%m/%Y %H:%M", n=30 * 24)
    refused = bt("run", "strategies/sma_cross.py", "--data", str(path), "--no-report")
    assert refused.returncode == 2 and "give --date-format dayfirst" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    ran = bt("run", "strategies/sma_cross.py", "--data", str(path), "--date-format", "dayfirst", "--json", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["start"] == "2017-07-01 09:00:00+00:00"
    shown = bt("data", "show", str(path), "--date-format", "dayfirst", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["bars"] == 30 * 24
