"""The signal funnel counts bars per condition, alone and cumulatively, at the
strategy's own values, whatever shapes the masks have."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlbt.strategy.base import Context, Param, Strategy
from mlbt.strategy.funnel import funnel_lines, signal_funnel


class Rule(Strategy):
    name = "rule"
    params = {"level": Param(3, low=0, high=10)}

    def conditions(self, ctx, p):
        x = ctx.col("close")
        wide = np.repeat(x > 1, 2, axis=1)  # a (T, 2) mask: the funnel reads the first column
        return {"long": [("x > level", x > p.level), ("x > 1", wide), ("even", (x % 2 == 0)[:, 0])],
                "short": [("x < 2", x < 2), ("never", np.zeros((1, 1), dtype=bool))]}


def test_counts_alone_and_left_in_order():
    bars = pd.DataFrame({"close": np.arange(10.0)}, index=pd.date_range("2024-01-01", periods=10, freq="h"))
    f = signal_funnel(Rule(), Context(bars=bars, features=pd.DataFrame(index=bars.index)))
    assert f["bars"] == 10
    assert f["long"] == [{"condition": "x > level", "alone": 6, "left": 6},  # 4..9
                         {"condition": "x > 1", "alone": 8, "left": 6},
                         {"condition": "even", "alone": 5, "left": 3}]  # 4, 6, 8
    assert f["short"] == [{"condition": "x < 2", "alone": 2, "left": 2}, {"condition": "never", "alone": 0, "left": 0}]
    lines = funnel_lines(f)
    assert "of 10" in lines[0] and lines[1].split()[:4] == ["long", "alone", "left", "short"]
    assert lines[2].split()[-2:] == ["2", "2"] and lines[-1].split() == ["even", "5", "3"]


def test_no_conditions_no_funnel():
    class Plain(Strategy):
        name = "plain"

    bars = pd.DataFrame({"close": np.arange(3.0)}, index=pd.date_range("2024-01-01", periods=3, freq="h"))
    assert signal_funnel(Plain(), Context(bars=bars, features=pd.DataFrame(index=bars.index))) == {}
    assert funnel_lines({}) == []


def test_few_trades_name_the_condition_that_blocks_most_and_a_sweep_of_its_param():
    from mlbt import load_strategy
    from mlbt.strategy import FEW_TRADES, few_trades_notes

    lstm = load_strategy("strategies/crypto_lstm.py")
    funnel = {"bars": 1000, "long": [{"condition": "RSI < rsi_long_max", "alone": 40, "left": 40},
                                     {"condition": "ADX > adx_min", "alone": 300, "left": 12}],
              "short": [{"condition": "forecast < close - threshold (atr_mult, vol_mult)", "alone": 90, "left": 9}]}
    (note,) = few_trades_notes(lstm, 3, funnel, "strategies/crypto_lstm.py")
    # the fewest bars alone: RSI < rsi_long_max (40); its param from its low end (0) to twice 65, capped at 100
    assert note == ("3 trades: too few to judge the strategy (fewer than 10). The long condition 'RSI < rsi_long_max' "
                    "blocks most: it holds on 40 of 1,000 bars; explore it with: bt sweep strategies/crypto_lstm.py "
                    "--grid rsi_long_max=0:100:10")
    assert few_trades_notes(lstm, FEW_TRADES, funnel, "x.py") == []
    assert few_trades_notes(lstm, 1, {}, "x.py") == ["1 trade: too few to judge the strategy (fewer than 10); loosen "
                                                     "its params or give it more data"]


def test_a_run_without_trades_says_so_in_the_output_the_json_and_the_tearsheet(tmp_path):
    import json

    from tests.conftest import bt

    args = ["run", "strategies/crypto_lstm.py", "--end", "2018-06-01", "--set", "epochs=1", "--set", "min_train=1200",
            "--set", "retrain_every=1000", "--set", "lookback=30", "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    out = bt(*args, "--json", "--report", str(tmp_path / "r.html"))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["stats"]["trades"] < 10 and len(doc["notes"]) == 1
    note = doc["notes"][0]
    assert "condition 'forecast > close + threshold (atr_mult, vol_mult)' blocks most" in note
    assert note.endswith("explore it with: bt sweep strategies/crypto_lstm.py --grid atr_mult=0:1:0.1")
    assert "blocks most" in (tmp_path / "r.html").read_text()
    text = bt(*args, "--no-report")
    assert f"note: {note}" in text.stdout.splitlines()
    plain = json.loads(bt("run", "strategies/sma_cross.py", "--json", "--quiet").stdout)
    assert plain["stats"]["trades"] >= 10 and plain["notes"] == []


def test_a_bankrupt_run_says_when_and_how_it_ended():
    """Shorting ETH from 2016 on a shared account (slow SMAs hold it through the rally):
    the account goes bankrupt, and the run says so in a note, not only in a metric."""
    import json

    from tests.conftest import bt

    args = ["run", "strategies/sma_cross.py", "--data", "coins_1d", "--symbols", "BTC,ETH", "--set", "fast=200",
            "--set", "slow=400", "--no-report"]
    doc = json.loads(bt(*args, "--json").stdout)
    assert doc["stats"]["bankrupt"] == 1.0
    note = next(n for n in doc["notes"] if n.startswith("bankrupt at "))
    assert f"(bar {int(doc['stats']['bankrupt_bar']):,})" in note and f"{doc['stats']['final_equity']:,.2f}" in note
    assert "--sl" in note
    assert "note: bankrupt at " in bt(*args).stdout
