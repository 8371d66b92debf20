"""The formatting rules every human-readable table follows (bt run, bt sweep, bt report,
the tearsheets), pinned value by value; and the terminal's colour rules."""

from __future__ import annotations

import io
import json
import math
import re

import pandas as pd
import pytest

from mlbt.cli.tables import emit, metrics_table, undefined_line
from mlbt.report.formatting import bar_spacing, duration, fmt, metric_groups, undefined, undefined_reason
from mlbt.sim import STAT_GROUPS, STAT_NAMES, STAT_UNITS
from tests.conftest import bt

HOUR = pd.Timedelta(hours=1)


@pytest.mark.parametrize(("key", "value", "text"), [
    ("total_return", 0.07291, "7.29%"),            # returns in percent, 2 decimals
    ("total_return", 16.0989, "1,609.89%"),
    ("max_drawdown", -0.4697, "-46.97%"),
    ("exposure", 0.0, "0.00%"),
    ("win_rate", 0.30476, "30.48%"),
    ("trades", 608.0, "608"),                       # counts as whole numbers
    ("trades", 12345.0, "12,345"),
    ("open_trades", 0.0, "0"),
    ("final_equity", 100000.0, "100,000.00"),       # currency: separators, 2 decimals
    ("fees_paid", 17828.8219, "17,828.82"),
    ("expectancy", -3.14159, "-3.14"),
    ("sharpe", 1.4523, "1.45"),                     # ratios: 2 decimals, 3 below 1
    ("sharpe", -0.1081, "-0.108"),
    ("psr", 0.98561, "0.986"),
    ("profit_factor", 1234.5, "1,234"),
    ("bankrupt", 0.0, "no"),
    ("bankrupt", 1.0, "yes"),
    ("sharpe", float("nan"), "-"),                  # undefined
    ("total_return", None, "-"),
])
def test_each_unit_reads_as_the_rules_say(key, value, text):
    assert fmt(value, key) == text


def test_durations_read_as_time_and_bars():
    assert fmt(2188.0, "max_dd_duration", bar=HOUR) == "91 days 4 h (2,188 bars)"
    assert fmt(29.3, "avg_bars_held", bar=HOUR) == "1 day 5 h (29.3 bars)"
    assert fmt(541.0, "max_dd_duration", bar=pd.Timedelta(days=1)) == "541 days (541 bars)"
    assert fmt(1.0, "avg_bars_held", bar=pd.Timedelta(days=1)) == "1 day (1 bar)"
    assert fmt(0.0, "max_dd_duration", bar=HOUR) == "0 bars"
    assert fmt(7.0, "max_dd_duration") == "7 bars"                     # spacing unknown: bars alone
    assert duration(3 * 3600 + 12 * 60 + 59) == "3 h 12 min"            # truncated, two largest units
    assert duration(2 * 86400 + 60) == "2 days"                         # a zero second unit is dropped
    assert duration(45) == "45 s"


def test_a_bar_number_reads_as_its_timestamp():
    index = pd.date_range("2020-01-01", periods=5, freq="h", tz="UTC")
    assert fmt(3.0, "bankrupt_bar", index=index) == "2020-01-01 03:00:00+00:00"
    assert fmt(3.0, "bankrupt_bar") == "bar 3"
    assert bar_spacing(index) == HOUR
    assert bar_spacing(pd.RangeIndex(5)) is None


def test_every_metric_has_a_unit_and_one_group():
    assert set(STAT_UNITS) == set(STAT_NAMES)
    grouped = [k for _, keys in STAT_GROUPS for k in keys]
    assert sorted(grouped) == sorted(STAT_NAMES)
    assert [name for name, _ in STAT_GROUPS] == ["return", "risk", "risk-adjusted", "trades", "costs",
                                                 "against buy-and-hold"]


def flat_stats() -> dict[str, float]:
    """The metrics of a run that never traded (as the engine reports them)."""
    nan = float("nan")
    stats = dict.fromkeys(STAT_NAMES, nan)
    stats |= {"total_return": 0.0, "cagr": 0.0, "ann_volatility": 0.0, "max_drawdown": 0.0, "max_dd_duration": 0.0,
              "trades": 0.0, "open_trades": 0.0, "exposure": 0.0, "fees_paid": 0.0, "final_equity": 1e5,
              "buy_hold_return": 2.2026, "bankrupt": 0.0, "funding_paid": 0.0, "borrow_paid": 0.0}
    return stats


def test_an_undefined_value_says_why():
    stats = flat_stats()
    why = undefined(stats)
    assert why["sharpe"] == "the equity never moved"
    assert why["calmar"] == "no drawdown"
    assert why["win_rate"] == why["avg_win"] == "no closed trade"
    assert why["bankrupt_bar"] == "never bankrupt"
    traded = stats | {"ann_volatility": 0.3, "trades": 4.0, "win_rate": 1.0, "sortino": float("nan")}
    assert undefined_reason("sortino", traded) == "no losing bar"
    assert undefined_reason("avg_loss", traded) == "no losing trade"
    line = undefined_line(stats)
    assert line.startswith("-: ") and "sharpe, sortino, omega, skew, kurtosis, psr (the equity never moved)" in line


def test_groups_keep_the_reading_order_and_format_each_row():
    groups = metric_groups(flat_stats(), bar=HOUR)
    assert [name for name, _ in groups][0] == "return"
    rows = {r.key: r for _, rs in groups for r in rs}
    assert rows["final_equity"].text == "100,000.00" and rows["final_equity"].reason == ""
    assert rows["sharpe"].text == "-" and rows["sharpe"].reason == "the equity never moved"
    assert rows["buy_hold_return"].text == "220.26%"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("no_color", [False, True])
def test_colour_only_on_a_terminal_without_no_color(monkeypatch, no_color):
    stats = flat_stats() | {"total_return": 0.5}
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    tty = Terminal()
    monkeypatch.setattr("sys.stdout", tty)
    emit(metrics_table(stats, {}, bar=HOUR))
    green = re.search(r"\x1b\[[0-9;]*32m", tty.getvalue())   # a positive total return (NO_COLOR keeps bold)
    assert (green is None) is no_color
    assert "50.00%" in tty.getvalue()
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stdout", pipe)
    emit(metrics_table(stats, {}, bar=HOUR))
    text = pipe.getvalue()
    assert "\x1b[" not in text and "50.00%" in text
    assert all(line == line.rstrip() for line in text.splitlines())  # no padding into a pipe


def test_bt_run_prints_the_groups_and_json_keeps_machine_values():
    out = bt("run", "strategies/sma_cross.py", "--set", "fast=10", "--set", "slow=40", "--no-report")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("return "))   # two columns of groups
    assert lines[first].split() == ["return", "trades"]
    assert any(line.startswith("risk ") for line in lines) and any(line.startswith("risk-adjusted ") for line in lines)
    assert any(line.split()[-1:] == ["costs"] for line in lines) and "against buy-and-hold" in text
    total = next(line for line in text.splitlines() if line.strip().startswith("total_return"))
    assert total.split()[1].endswith("%")
    dd = next(line for line in text.splitlines() if "max_dd_duration" in line)
    assert "days" in dd and "bars)" in dd                       # hourly bars: time and bars
    doc = json.loads(bt("run", "strategies/sma_cross.py", "--set", "fast=10", "--set", "slow=40", "--json").stdout)
    stats = doc["stats"]
    assert isinstance(stats["max_dd_duration"], float) and stats["max_dd_duration"] > 100   # bars, not text
    assert abs(stats["total_return"]) < 100 and not isinstance(stats["total_return"], str)  # a fraction
    assert stats["bankrupt_bar"] is None and doc["undefined"]["bankrupt_bar"] == "never bankrupt"
    assert math.isfinite(stats["sharpe"])
