"""Every command on a universe (``--symbols``): ``bt run`` (one portfolio with shared
cash, its tearsheet and saved run), ``bt sweep`` (a portfolio per combination),
``bt train`` (a model per asset), ``bt signal`` (an entry per asset and the
portfolio's positions and weights). In process (CliRunner), so torch loads once."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mlbt import backtest, load_strategy
from mlbt.cli import main
from mlbt.data import load
from mlbt.strategy import prepare_assets, universe_signals
from tests.conftest import ROOT
from tests.report.test_tearsheet import figure_blocks

SMA = str(ROOT / "strategies/sma_cross.py")
LSTM = str(ROOT / "strategies/crypto_lstm.py")
# the README's flagship command, with a tiny model (one epoch, short windows)
FLAGSHIP = ["run", LSTM, "--data", "coins_1d", "--symbols", "BTC,ETH,LTC", "--fee", "0.001", "--set", "min_train=500",
            "--set", "retrain_every=250"]
TINY = ["--set", "epochs=1", "--set", "lookback=20"]
PORTFOLIO_FIGURES = {"fig-equity", "fig-drawdown", "fig-contribution", "fig-correlation", "fig-weights",
                     "fig-exposure", "fig-monthly", "fig-yearly", "fig-rolling", "fig-trade-returns",
                     "fig-exit-reasons"}


def invoke(*args: str) -> dict | str:
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout) if "--json" in args or args[0] == "signal" else res.stdout


def test_run_over_a_universe_is_one_shared_cash_portfolio_equal_to_the_engine():
    out = invoke("run", SMA, "--data", "coins_1d", "--symbols", "BTC,ETH,LTC", "--fee", "0.001", "--json", "--quiet")
    assert out["symbols"] == ["BTC", "ETH", "LTC"] and out["allocation"] == "equal"
    assert out["engine"]["cash_sharing"] is True
    bars = load("coins_1d", symbols="BTC,ETH,LTC", warn=False)
    strategy = load_strategy(SMA)
    direct = backtest(bars, universe_signals(strategy, bars, prepare_assets(strategy, bars)), fee=0.001,
                      cash_sharing=True)
    assert out["stats"]["total_return"] == pytest.approx(float(direct.stats["total_return"]), rel=1e-12)
    # each asset's contribution, and they add up to the portfolio's return
    assert [a["asset"] for a in out["assets"]] == ["BTC", "ETH", "LTC"]
    assert sum(a["contribution"] for a in out["assets"]) == pytest.approx(out["stats"]["total_return"], rel=1e-9)
    assert sum(a["trades"] for a in out["assets"]) == out["stats"]["trades"]  # open ones included
    # the first entry, from a flat account: 1/3 of the equity committed, its fee included
    first = direct.orders.iloc[0]
    assert first["reason"] == "entry"
    assert first["size"] * first["price"] * 1.001 == pytest.approx(100_000 / 3, rel=1e-12)


def test_run_over_a_universe_writes_the_portfolio_tearsheet_and_saves_it(tmp_path):
    report, saved = tmp_path / "u.html", tmp_path / "saved"
    text = invoke("run", SMA, "--data", "coins_1d", "--symbols", "all", "--fee", "0.001", "--report", str(report),
                  "--save", str(saved), "--quiet")
    assert "3 assets (BTC, ETH, LTC)" in text and "shared cash, allocation equal" in text
    assert text.count("\nBTC ") + text.count("\nETH ") + text.count("\nLTC ") == 3  # a line per asset
    page = report.read_text()
    assert set(figure_blocks(page)) == PORTFOLIO_FIGURES
    assert "equal-weight buy &amp; hold" in page and "Per asset (the first group)" in page
    rebuilt = tmp_path / "again.html"
    invoke("report", str(saved), "--output", str(rebuilt))
    assert figure_blocks(rebuilt.read_text()) == figure_blocks(page)


def test_run_over_a_universe_refuses_separate_cash_in_one_line():
    res = CliRunner().invoke(main, ["run", SMA, "--data", "coins_1d", "--symbols", "all", "--no-cash-sharing",
                                    "--no-report"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "--no-cash-sharing: a run over a universe is one portfolio with shared cash" in res.output


def test_sweep_over_a_universe_ranks_portfolios_equal_to_their_runs():
    out = invoke("sweep", SMA, "--data", "coins_1d", "--symbols", "all", "--grid", "fast=10,30", "--grid",
                 "slow=60,100", "--grid", "size_type=entry_fraction,target_weight", "--fee", "0.001", "--json",
                 "--quiet", "--top", "8")
    assert out["symbols"] == ["BTC", "ETH", "LTC"] and out["combinations"] == 8 and len(out["top"]) == 8
    for row in out["top"][:3]:
        run = invoke("run", SMA, "--data", "coins_1d", "--symbols", "all", "--set", f"fast={row['fast']}", "--set",
                     f"slow={row['slow']}", "--size-type", row["size_type"], "--fee", "0.001", "--json", "--quiet")
        assert row["total_return"] == pytest.approx(run["stats"]["total_return"], rel=1e-12)
        assert row["trades"] == run["stats"]["trades"]


def test_flagship_without_the_sets_says_so_in_one_line():
    res = CliRunner().invoke(main, ["run", LSTM, "--data", "coins_1d", "--symbols", "BTC,ETH,LTC", "--fee", "0.001",
                                    "--no-report", "--quiet"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "no walk-forward fold" in errors[0] and "min_train" in errors[0]


def test_flagship_train_run_and_signal_over_a_universe(tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    trained = invoke("train", LSTM, "--data", "coins_1d", "--symbols", "BTC,ETH,LTC", "--set", "min_train=500",
                     "--set", "retrain_every=250", *TINY, *cache, "--quiet")
    lines = trained.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["crypto_lstm (BTC)", "crypto_lstm (ETH)", "crypto_lstm (LTC)"]
    out = invoke(*FLAGSHIP, *TINY, *cache, "--json", "--quiet")
    assert [a["asset"] for a in out["assets"]] == ["BTC", "ETH", "LTC"]
    trained_assets = [a for a in out["assets"] if not a["flat"]]
    assert trained_assets and all(a["cache_hit"] is True and a["folds"] >= 1 for a in trained_assets)
    assert all("direction_accuracy" in a["ml"] for a in trained_assets)
    sig = invoke("signal", LSTM, "--data", "coins_1d", "--symbols", "BTC,ETH,LTC", "--set", "min_train=500",
                 "--set", "retrain_every=250", *TINY, *cache, "--quiet")
    assert sig["symbols"] == ["BTC", "ETH", "LTC"] and [e["asset"] for e in sig["assets"]] == sig["symbols"]
    for entry in sig["assets"]:
        assert entry["signal"] in (-1, 0, 1) and entry["timestamp"].startswith("2020-01-17")
        if not entry.get("flat"):
            assert entry["model_info"]["cache_hit"] is True and entry["current_price"] > 0
    port = sig["portfolio"]
    assert set(port["weights"]) == {"BTC", "ETH", "LTC"}
    assert port["cash"] + sum(port["values"].values()) == pytest.approx(port["equity"], rel=1e-9)
