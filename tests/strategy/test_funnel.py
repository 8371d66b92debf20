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
