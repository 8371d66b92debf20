"""The plugin API: params validated at the boundary, grids as engine columns, loader errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbt import backtest, load_strategy
from mlbt.data import load
from mlbt.strategy.base import Param
from mlbt.strategy.pipeline import make_signals, prepare
from mlbt.strategy.plugins import PluginError

SMA = "strategies/sma_cross.py"


def test_params_are_typed_and_ranged():
    p = Param(20, low=2, high=500)
    assert p.check("fast", "30") == 30 and isinstance(p.check("fast", 30.0), int)
    with pytest.raises(ValueError, match=r"param fast: '2.5' is not a valid int"):
        p.check("fast", "2.5")
    with pytest.raises(ValueError, match=r"param fast = 1 is out of range \[2, 500\]"):
        p.check("fast", 1)
    flag = Param(True)
    assert flag.check("x", "0") is False and flag.check("x", "yes") is True
    with pytest.raises(ValueError, match="not a valid bool"):
        flag.check("x", "maybe")


def test_grid_becomes_engine_columns_equal_to_single_runs():
    strategy = load_strategy(SMA)
    bars = load("btcusd_1h", warn=False).iloc[:3000]
    ctx = prepare(strategy, bars).ctx
    combos = pd.DataFrame({"fast": [5, 10, 20], "slow": [30, 30, 60]})
    signals = make_signals(strategy, ctx, strategy.grid(combos))
    assert signals.target.shape == (3000, 3)
    assert signals.target.columns.names == ["fast", "slow"]
    grid_stats = backtest(bars, signals, fee=0.001).stats
    for j, (fast, slow) in enumerate(zip(combos.fast, combos.slow, strict=True)):
        single = load_strategy(SMA, fast=fast, slow=slow)
        alone = backtest(bars, make_signals(single, prepare(single, bars).ctx), fee=0.001).stats
        pd.testing.assert_series_equal(grid_stats.iloc[j], alone, check_names=False)
    with pytest.raises(ValueError, match="param fast = 1 is out of range"):
        strategy.grid(pd.DataFrame({"fast": [1]}))
    with pytest.raises(ValueError, match="not signal param"):
        strategy.grid(pd.DataFrame({"nope": [1]}))


@pytest.mark.parametrize(("text", "message"), [
    ("x = (\n", r":1: syntax error"),
    ("import numpy\n\nraise RuntimeError('boom')\n", r"bad.py:3: RuntimeError: boom"),
    ("from mlbt.strategy.base import Strategy\n", r"expected exactly one Strategy subclass, found 0"),
    ("from mlbt.strategy.base import Strategy\nclass A(Strategy): pass\nclass B(Strategy): pass\n",
     r"found 2 \['A', 'B'\]"),
])
def test_plugin_errors(tmp_path, text, message):
    path = tmp_path / "bad.py"
    path.write_text(text)
    with pytest.raises(PluginError, match=message):
        load_strategy(path)


def test_unknown_param_lists_the_known_ones():
    with pytest.raises(PluginError, match=r"unknown param\(s\) speed for sma_cross; known: allow_short, fast, slow"):
        load_strategy(SMA, speed=3)


def test_signals_shape_is_checked(tmp_path):
    path = tmp_path / "short.py"
    path.write_text(
        "from mlbt import Signals, Strategy\n"
        "class Short(Strategy):\n    name = 'short'\n"
        "    def signals(self, ctx, p):\n        return Signals(target=[1.0, 0.0])\n")
    strategy = load_strategy(path)
    bars = load("synthetic:gbm?bars=50")
    with pytest.raises(ValueError, match=r"py:\d+: Short.signals returned a target of shape \(2, 1\) .*50 bars"):
        make_signals(strategy, prepare(strategy, bars).ctx)
    assert np.isnan(make_signals(load_strategy(SMA), prepare(load_strategy(SMA), bars).ctx).target.iloc[0, 0])


def test_readme_plugin_loads_and_its_rule_runs(tmp_path):
    import re
    from pathlib import Path

    from mlbt.strategy.base import Context

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = next(block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "class NextReturn" in block)
    path = tmp_path / "next_return.py"
    path.write_text(code)
    strategy = load_strategy(path, edge=0.002)
    assert strategy.model_params == {"lookback": 60} and strategy.walk_forward().lookback == 60
    bars = load("synthetic:gbm?bars=300&seed=2")
    pred = pd.DataFrame({"prediction": np.r_[[np.nan] * 100, np.linspace(-0.01, 0.01, 200)]}, index=bars.index)
    ctx = Context(bars=bars, features=pd.DataFrame(index=bars.index), predictions=pred)
    target = make_signals(strategy, ctx).target.iloc[:, 0].to_numpy()
    assert np.isnan(target[:100]).all()
    assert (target[100:][pred.prediction[100:] > 0.002] == 1).all()
    assert (target[100:][pred.prediction[100:] < -0.002] == -1).all()
    assert np.isfinite(strategy.labels(ctx)[:-1]).all() and np.isnan(strategy.labels(ctx)[-1])


def test_training_settings_come_from_the_system_then_training_then_model_params():
    from dataclasses import replace

    from mlbt.models import SYSTEM_TRAINING
    from mlbt.strategy.base import Param, Strategy

    class Net(Strategy):
        name = "net"
        network = "price"
        training = {"lr_patience": 1, "lr": 0.01}
        params = {"epochs": Param(7, low=1, high=100, model=True), "lr": Param(0.002, low=0.0, high=1.0, model=True),
                  "patience": Param(3, low=1, high=100)}  # not a model param: does not touch training

    train = Net(epochs=9).model_config("fast").training()
    assert train == replace(SYSTEM_TRAINING["price"], lr_patience=1, lr=0.002, epochs=9)

    class Plain(Strategy):
        name = "plain"
        network = "price"

    assert Plain().model_config().training() == SYSTEM_TRAINING["price"]

    class Typo(Strategy):
        name = "typo"
        network = "price"
        training = {"epoch": 3}

    with pytest.raises(ValueError, match="typo.training sets epoch, which TrainConfig does not have"):
        Typo().model_config()

    class Unknown(Strategy):
        name = "unknown"
        network = "pricee"

    with pytest.raises(ValueError, match="network 'pricee' is unknown; use one of"):
        Unknown().model_config()
