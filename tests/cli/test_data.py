"""``bt data list|show`` and data errors through ``bt run``."""

import json

from tests.conftest import bt


def test_data_list_shows_samples_with_bars_and_range():
    out = bt("data", "list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["name", "instrument", "symbols", "frequency"]
    btc = next(line for line in lines if line.startswith("btcusd_1h"))
    assert "20,106" in btc and "2017-07-01 11:00 .. 2019-10-17 09:00" in btc
    spx = next(line for line in lines if line.startswith("spx_vix_1d"))
    assert "1,257" in spx and "2014-01-03 00:00 .. 2018-12-31 00:00" in spx
    coins = next(line for line in lines if line.startswith("coins_1d"))
    assert "BTC,ETH,LTC" in coins and "1,865" in coins and "2014-11-28 00:00 .. 2020-01-17 00:00" in coins
    rows = json.loads(bt("data", "list", "--json").stdout)
    assert [r["name"] for r in rows] == ["btcusd_1h", "coins_1d", "spx_vix_1d"] and rows[2]["columns"][-1] == "ivx"
    assert rows[1]["symbols"] == ["BTC", "ETH", "LTC"] and rows[0]["symbols"] == ["BTC"]


def test_data_show_a_universe_has_a_line_per_asset(tmp_path):
    out = bt("data", "show", "coins_1d")  # a source of several symbols is shown whole
    assert out.returncode == 0, out.stderr
    assert "symbols      3: BTC, ETH, LTC" in out.stdout and "bars         1,865" in out.stdout
    eth = next(line for line in out.stdout.splitlines() if line.strip().startswith("ETH"))
    assert eth.split()[:3] == ["ETH", "788", "2017-11-09"]
    assert "warning: coins_1d (asset LTC): 1 zero-volume bar(s)" in out.stdout
    report = json.loads(bt("data", "show", "synthetic:gbm?bars=200&assets=4&seed=2", "--symbols", "A2,A4",
                           "--json").stdout)
    assert report["symbols"] == ["A2", "A4"] and [a["bars"] for a in report["assets"]] == [200, 200]
    one = bt("data", "show", "coins_1d", "--symbol", "LTC")
    assert "bars         925" in one.stdout and "asset" not in one.stdout.split("fingerprint")[1].split()[0]
    both = bt("data", "show", "coins_1d", "--symbol", "LTC", "--symbols", "BTC")
    assert both.returncode == 2 and "not both" in both.stderr and "Traceback" not in both.stderr


def test_data_show_summary_and_report():
    out = bt("data", "show", "btcusd_1h")
    assert out.returncode == 0, out.stderr
    assert "bars         20,106" in out.stdout and "spacing      1h" in out.stdout
    assert "warning: btcusd_1h: 28 zero-volume bar(s)" in out.stdout
    synth = bt("data", "show", "synthetic:gbm?bars=300&seed=1", "--json")
    report = json.loads(synth.stdout)
    assert report["synthetic"] is True and report["bars"] == 300 and report["problems"] == []
    assert "SYNTHETIC" in bt("data", "show", "synthetic:gbm?bars=300&seed=1").stdout


def test_data_show_lists_every_error_and_exits_2(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    "2021-01-01T00:00Z,10,11,9,10,5\n"
                    "2021-01-01T01:00Z,10,11,9,-1,5\n"
                    "2021-01-01T02:00Z,10,11,9,10,-5\n")
    out = bt("data", "show", str(path))
    assert out.returncode == 2
    assert "column 'close': 1 price(s) <= 0, first at 2021-01-01 01:00:00+00:00" in out.stdout
    assert "column 'low': 1 bar(s) with low above min(open, close)" in out.stdout  # the same -1 close
    assert "column 'volume': 1 negative volume(s)" in out.stdout
    assert "3 data error(s)" in out.stderr and "Traceback" not in out.stderr


def test_run_refuses_bad_data_in_one_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,open,high,low,close,volume\n2021-01-01T00:00Z,10,9,9,10,5\n")
    out = bt("run", "strategies/sma_cross.py", "--data", str(path))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"Error: {path}: column 'high': 1 bar(s) with high below max(open, close), first at "
        "2021-01-01 00:00:00+00:00; the columns may be mislabelled or the rows corrupt"]


def test_run_labels_synthetic_data():
    out = bt("run", "strategies/sma_cross.py", "--data", "synthetic:gbm?bars=2000&seed=3", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["synthetic"] is True
    text = bt("run", "strategies/sma_cross.py", "--data", "synthetic:gbm?bars=2000&seed=3", "--no-report")
    assert "(SYNTHETIC data)" in text.stdout.splitlines()[0]


def _sample_csv(tmp_path, name, sep=",", order=None):
    from mlbt.data import load

    bars = load("btcusd_1h", warn=False).iloc[:300].reset_index()
    bars["timestamp"] = bars["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    (bars if order is None else bars.iloc[order]).to_csv(tmp_path / name, index=False, sep=sep)
    return str(tmp_path / name)


def test_run_and_show_read_a_semicolon_csv(tmp_path):
    path = _sample_csv(tmp_path, "semi.csv", sep=";")
    out = bt("run", "strategies/sma_cross.py", "--data", path, "--no-report")
    assert out.returncode == 0, out.stderr
    assert "300 bars" in out.stdout.splitlines()[0]
    show = bt("data", "show", path, "--json")
    assert show.returncode == 0 and json.loads(show.stdout)["bars"] == 300


def test_run_and_show_warn_about_rows_out_of_order(tmp_path):
    path = _sample_csv(tmp_path, "order.csv", order=[*range(100), 101, 100, *range(102, 300)])
    out = bt("run", "strategies/sma_cross.py", "--data", path, "--no-report")
    assert out.returncode == 0, out.stderr
    assert ("1 row(s) earlier than the row above them, first at data row 102 (2017-07-05 15:00:00+00:00, after "
            "2017-07-05 16:00:00+00:00; data rows count from 1 after the header)") in out.stdout + out.stderr
    show = bt("data", "show", path)
    assert show.returncode == 0 and "warning: " in show.stdout and "first at data row 102" in show.stdout


def test_duplicate_error_through_the_cli_names_rows_and_no_missing_flag(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    "2021-01-01T00:00Z,10,11,9,10,5\n"
                    "2021-01-01T01:00Z,10,11,9,10,5\n"
                    "2021-01-01T01:00Z,10,11,9,10,6\n"
                    "2021-01-01T02:00Z,10,11,9,10,5\n")
    for args in (("run", "strategies/sma_cross.py", "--data", str(path), "--no-report"), ("data", "show", str(path))):
        out = bt(*args)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        text = out.stdout + out.stderr
        assert "2021-01-01 01:00:00+00:00 at data rows 2 and 3" in text and "(--" not in text
