"""mlbt.settings is the one declaration of the engine settings: backtest(), the sweep
grid and the command line refuse a bad value with the same words, the command line
before any data is loaded or model trained; the options, their help and the
keyword defaults come from the table."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from mlbt import Signals, backtest
from mlbt.cli import main
from mlbt.settings import DEFAULTS, SETTINGS, SWEEPABLE, EngineSettings, setting
from mlbt.sweep import GridError, build_grid
from tests.conftest import bt, make_bars

BAD = [("sl", "1.5"), ("fee", "1.5"), ("trail", "1.0"), ("tp", "-0.1"), ("size", "0"), ("max_hold", "2.5"),
       ("lot", "-1"), ("slippage", "1"), ("fixed_fee", "-1"), ("cash", "0"), ("leverage", "0.5"), ("mmr", "1"),
       ("liquidation_fee", "-0.1"), ("funding_rate", "1.5"), ("borrow_rate", "-0.5"),
       ("rebalance_drift", "-0.1")]


@pytest.mark.parametrize(("name", "value"), [("size_type", "weights"), ("insufficient_cash", "borrow"),
                                             ("cash_sharing", "maybe")])
def test_choices_are_refused_alike_by_backtest_and_engine_settings(name, value):
    with pytest.raises(ValueError) as by_backtest:
        backtest(make_bars(20), Signals(np.ones(20)), **{name: value})
    with pytest.raises(ValueError) as by_settings:
        EngineSettings(**{name: value})
    assert str(by_backtest.value) == str(by_settings.value)
    assert str(by_backtest.value).startswith(f"{name} = 'maybe': {name} is true or false" if name == "cash_sharing"
                                             else f"{name} = {value!r}: {name} is one of ")


@pytest.mark.parametrize(("name", "value"), BAD, ids=[n for n, _ in BAD])
def test_one_refusal_from_backtest_and_the_grid(name, value):
    refusal = setting(name).refusal(float(value))
    bars = make_bars(20)
    with pytest.raises(ValueError) as raised:
        backtest(bars, Signals(np.ones(20)), **{name: float(value)})
    assert str(raised.value) == refusal
    with pytest.raises(GridError) as raised:
        build_grid([f"{name}={value}"], {})
    assert str(raised.value) == f"--grid '{name}={value}': {refusal}"


@pytest.mark.parametrize(("name", "value"), [("sl", "1.5"), ("max_hold", "2.5"), ("trail", "1.0")])
def test_the_command_line_refuses_first(name, value, tmp_path):
    """bt run and bt sweep on the flagship (a model to train) and a data file that does not
    exist: the setting's refusal is the one line, so it came before loading or training."""
    refusal = setting(name).refusal(float(value))
    missing = str(tmp_path / "missing.csv")
    cache = str(tmp_path / "cache")
    run = bt("run", "strategies/crypto_lstm.py", f"--{name.replace('_', '-')}", value, "--data", missing,
             "--cache-dir", cache)
    sweep = bt("sweep", "strategies/crypto_lstm.py", "--grid", f"{name}={value}", "--data", missing,
               "--cache-dir", cache)
    assert (run.returncode, run.stderr.strip()) == (2, f"Error: {refusal}")
    assert (sweep.returncode, sweep.stderr.strip()) == (2, f"Error: --grid '{name}={value}': {refusal}")
    assert not (tmp_path / "cache").exists()


def test_size_above_leverage_is_refused_alike_by_every_entry_point(tmp_path):
    """The rule between two settings (size up to leverage) has one refusal too, and the
    command line gives it before loading any data."""
    refusal = ("size = 1.5 is above leverage = 1: size may go up to leverage; raise leverage (--leverage) "
               "or lower size")
    with pytest.raises(ValueError) as raised:
        backtest(make_bars(20), Signals(np.ones(20)), size=1.5)
    assert str(raised.value) == refusal
    with pytest.raises(GridError) as raised:
        build_grid(["size=1.5"], {}, fixed={"leverage": 1.0})
    assert str(raised.value) == ("--grid: " + refusal.replace("1.5 is", "1.5 at combination 0 is")
                                 + ", or exclude such combinations with --constraint")
    missing = str(tmp_path / "missing.csv")
    run = bt("run", "strategies/sma_cross.py", "--size", "1.5", "--data", missing)
    assert (run.returncode, run.stderr.strip()) == (2, f"Error: {refusal}")
    sweep = bt("sweep", "strategies/sma_cross.py", "--grid", "size=0.5,1.5", "--data", missing)
    assert (sweep.returncode, sweep.stderr.strip()) == (2, f"Error: {str(raised.value).replace('0 is', '1 is')}")
    ok = bt("run", "strategies/sma_cross.py", "--size", "1.5", "--leverage", "2", "--data", missing)
    assert ok.returncode == 2 and "missing.csv" in ok.stderr  # past the settings: the data is what is missing


def test_keyword_defaults_options_and_help_come_from_the_table():
    keywords = inspect.signature(backtest).parameters
    doc = " ".join((backtest.__doc__ or "").split())
    for s in SETTINGS:
        assert keywords[s.name].default == DEFAULTS[s.name], s.name
        assert f"{s.name}: {s.doc}" in doc and (bool(s.choices) or s.valid_range in doc), s.name
    for command in ("run", "sweep"):
        options = {p.name: p for p in main.commands[command].params}
        for s in SETTINGS:
            assert s.name in options, (command, s.name)
            assert s.doc.split(".")[0].split(" (")[0] in (options[s.name].help or ""), (command, s.name)
    assert set(SWEEPABLE) == {s.name for s in SETTINGS if s.sweep} and "fill" not in SWEEPABLE


def test_engine_settings_check_fill_defaults_and_record():
    engine = EngineSettings(fee="0.001", sl=0.02, trail=True, max_hold="24")
    assert engine.fee == 0.001 and engine.max_hold == 24 and engine.cash == DEFAULTS["cash"]
    assert list(engine.to_dict()) == [s.name for s in SETTINGS]  # what a sweep manifest records
    with pytest.raises(ValueError, match="trail = True makes sl trailing, so it needs sl"):
        EngineSettings(trail=True)
    with pytest.raises(ValueError, match="unknown engine setting"):
        EngineSettings(fees=0.1)
    with pytest.raises(ValueError, match="fill = 'vwap': fill is one of 'next_open', 'close'"):
        EngineSettings(fill="vwap")


#: a value other than the default for every engine option of the command line
CHANGED = {"fee": "0.0007", "fixed_fee": "1.5", "slippage": "0.0003", "size": "0.9", "lot": "0.001", "sl": "0.031",
           "tp": "0.07", "trail": "0.02", "max_hold": "77", "leverage": "2", "mmr": "0.004", "liquidation_fee": "0.002",
           "funding_rate": "0.0001", "borrow_rate": "0.03", "cash": "50000", "cash_sharing": True,
           "size_type": "target_weight", "rebalance_drift": "0.05", "insufficient_cash": "skip", "fill": "close",
           "stop_tie": "tp", "periods_per_year": "8000"}


def test_every_engine_option_is_recorded_in_all_five_places(tmp_path):
    """Header line, --json, the saved run.json, the tearsheet header and the sweep manifest."""
    import json

    from mlbt.cli.options import ENGINE_NAMES
    from mlbt.report.html import esc
    from mlbt.settings import EngineSettings, settings_text
    from tests.conftest import bt

    assert set(CHANGED) == set(ENGINE_NAMES)  # a new option must be added here
    args = [a for name, v in CHANGED.items() for a in ((f"--{name.replace('_', '-')}",) if v is True
                                                        else (f"--{name.replace('_', '-')}", v))]
    expected = EngineSettings(**{k: (v if v is True else float(v) if k not in ("size_type", "insufficient_cash",
                                                                               "fill", "stop_tie") else v)
                                 for k, v in CHANGED.items()}).to_dict()
    assert all(expected[k] != EngineSettings().to_dict()[k] for k in CHANGED)
    sma = ("strategies/sma_cross.py", "--end", "2018-01-01", *args)
    text = bt("run", *sma, "--report", str(tmp_path / "r.html"), "--save", str(tmp_path / "saved"), "--quiet")
    assert text.returncode == 0, text.stderr
    assert f"engine: {settings_text(expected)}" in text.stdout.splitlines()
    as_json = bt("run", *sma, "--json", "--quiet")
    assert json.loads(as_json.stdout)["engine"] == expected
    assert json.loads((tmp_path / "saved" / "run.json").read_text())["meta"]["engine"] == expected
    assert esc(settings_text(expected)) in (tmp_path / "r.html").read_text()
    swept = bt("sweep", *sma, "--grid", "fast=10,20", "--out", str(tmp_path / "sweep"), "--quiet")
    assert swept.returncode == 0, swept.stderr
    assert json.loads((tmp_path / "sweep" / "_manifest.json").read_text())["engine"] == expected
