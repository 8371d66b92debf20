"""``bt train`` fills the cache; ``bt signal`` prints the latest decision as one JSON object."""

import json
import os

from tests.conftest import bt

TINY = ["--start", "2018-01-01", "--end", "2018-02-20", "--set", "epochs=1", "--set", "min_train=500",
        "--set", "retrain_every=300", "--set", "lookback=20", "--quiet"]


def bt_env(tmp_path, *args):
    env = dict(os.environ, BT_CACHE_DIR=str(tmp_path))
    return bt(*args, env=env)


def test_train_then_signal_json_schema(tmp_path):
    trained = bt_env(tmp_path, "train", "strategies/crypto_lstm.py", *TINY)
    assert trained.returncode == 0, trained.stderr
    assert "folds, trained, stored in" in trained.stdout
    out = bt_env(tmp_path, "signal", "strategies/crypto_lstm.py", *TINY)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    sig = json.loads(lines[0])
    assert set(sig) >= {"timestamp", "ticker", "signal", "confidence", "predicted_price", "current_price",
                        "price_difference", "threshold", "indicators", "model_info"}
    assert sig["timestamp"] == "2018-02-20 23:00:00+00:00" and sig["ticker"] == "btcusd_1h"
    assert sig["signal"] in (-1, 0, 1)
    assert abs(sig["price_difference"] - (sig["predicted_price"] - sig["current_price"])) < 1e-9
    assert 0.0 <= sig["confidence"] <= 1.0 and sig["threshold"] > 0
    assert {"rsi_14", "macd", "vwap_20", "adx_14"} <= set(sig["indicators"])
    info = sig["model_info"]
    assert info["cache_hit"] is True and info["lookback"] == 20 and info["network"] == "crypto"
    assert os.path.exists(info["path"]) and info["last_trained"].startswith("2018-02")


def test_train_refuses_a_model_free_plugin(tmp_path):
    out = bt_env(tmp_path, "train", "strategies/sma_cross.py")
    assert out.returncode == 2 and out.stderr.strip() == "Error: sma_cross has no model to train"


LATE = '''
import numpy as np
from mlbt import Signals
from mlbt.strategy.base import Strategy


class Late(Strategy):
    name = "late"
    data = "btcusd_1h"

    def signals(self, ctx, p):
        target = np.full(len(ctx.bars), np.nan)
        target[-10] = 1.0  # one explicit long, then "keep"
        return Signals(target=target, sl=STOP, reentry=REENTRY)
'''


def test_signal_is_the_rules_decision_and_position_the_engines(tmp_path):
    """Reentry targets: a bar without an explicit signal is neutral, and a stop that
    closed the trade shows as position 0 (``signal`` used to repeat the stale +1).
    Keep-targets: the standing +1, held since the fill after the signal bar."""
    import pandas as pd

    from mlbt.data import load

    bars = load("btcusd_1h", start="2018-01-01", end="2018-02-01", warn=False)
    runs = {}
    for name, stop, reentry in (("stopped", "0.0001", "True"), ("held", "None", "False")):
        path = tmp_path / f"{name}.py"
        path.write_text(LATE.replace("STOP", stop).replace("REENTRY", reentry))
        out = bt_env(tmp_path, "signal", str(path), "--start", "2018-01-01", "--end", "2018-02-01", "--quiet")
        assert out.returncode == 0, out.stderr
        runs[name] = json.loads(out.stdout)
    assert runs["stopped"]["signal"] == 0 and runs["stopped"]["position"] == 0
    assert runs["stopped"]["position_since"] is None
    assert runs["held"]["signal"] == 1 and runs["held"]["position"] == 1
    assert pd.Timestamp(runs["held"]["position_since"]) == bars.index[-9]


def test_signal_holds_what_bt_run_holds_under_the_plugin_s_own_stop(tmp_path):
    """bt signal backtests with the plugin's engine settings, as bt run does: a stop the
    plugin declares closes the position, so the signal stays short but nothing is held."""
    from pathlib import Path

    from tests.conftest import ROOT

    source = (Path(ROOT) / "strategies" / "sma_cross.py").read_text()
    tight = tmp_path / "tight.py"
    tight.write_text(source.replace("    fee = 0.001", "    sl = 0.0005\n    fee = 0.001", 1))
    plain = json.loads(bt("signal", "strategies/sma_cross.py", "--quiet").stdout)
    stopped = json.loads(bt("signal", str(tight), "--quiet").stdout)
    assert plain["signal"] == stopped["signal"] == -1 and plain["position"] == -1
    assert stopped["position"] == 0 and stopped["position_since"] is None
