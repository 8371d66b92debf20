"""``bt check``: the no-lookahead audit passes honest plugins and fails a leaky one."""

import json
import os
import re

from tests.conftest import bt


def test_check_passes_the_baseline():
    """A short series (a month of hours, under 10 x 200 bars): a rule cut at every bar, and
    the line says so."""
    out = bt("check", "strategies/sma_cross.py", "--start", "2018-01-01", "--end", "2018-02-01")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("PASS  signals")
    cut = re.search(r"([\d,]+) cut points, .*\(cuts: every bar of 0\.\.([\d,]+)\)$", out.stdout.strip())
    assert cut and int(cut[1].replace(",", "")) == int(cut[2].replace(",", "")) + 1, out.stdout


def test_check_cuts_every_bar_of_the_warm_up(btc):
    """A warm-up gap back-filled from later bars leaks at 20 bars near the start, and only
    there: the 200 spread cuts (one per ~100 bars) step over them (this failed before the
    warm-up was cut at every bar); the honest SMA crossover still passes the same cuts."""
    from mlbt.strategy.lookahead import audit
    from mlbt.strategy.plugins import load_strategy
    from tests.conftest import ROOT

    stage = audit(load_strategy(ROOT / "tests/plugins/warmup_leak.py"), btc)[-1]
    assert not stage.passed
    assert {t for t, _, _ in stage.failures} == set(range(29, 49))  # slow=50, 20 bars back-filled
    honest = audit(load_strategy(ROOT / "strategies/sma_cross.py"), btc)[-1]
    assert honest.passed, honest.failures[:3]
    (a, b, k), (c, d, m) = honest.covered  # every bar of the warm-up, then the spread cuts
    assert (a, k) == (0, b + 1) and b >= 49 + 64 and c > b and d == len(btc) - 2 and 190 < m <= 205
    assert honest.coverage == f"cuts: every bar of 0..{b}, then {m} spread over {c:,}..{d:,}"
    assert honest.cuts == k + m


def test_check_names_the_bars_its_cuts_covered():
    out = bt("check", "tests/plugins/warmup_leak.py", "--json", "--quiet")
    assert out.returncode == 1, out.stdout + out.stderr
    stage = json.loads(out.stdout)["stages"][0]
    assert not stage["passed"] and stage["failures"][0]["cut_bar"] == 29
    first, spread = stage["covered"]
    assert first["from_bar"] == 0 and first["every_bar"] and first["cuts"] == first["to_bar"] + 1
    assert first["to_time"] < spread["from_time"] and not spread["every_bar"]
    assert spread["to_bar"] == 20_104 and stage["cuts"] == first["cuts"] + spread["cuts"]


def test_check_fails_a_leaky_plugin():
    out = bt("check", "tests/plugins/leaky.py", "--start", "2018-01-01", "--end", "2018-02-01")
    assert out.returncode == 1
    assert "FAIL  signals" in out.stdout and "it uses later data" in out.stdout


def test_check_passes_crypto_lstm_with_its_model(tmp_path):
    env = dict(os.environ, BT_CACHE_DIR=str(tmp_path))
    import subprocess

    from tests.conftest import ROOT

    out = subprocess.run(
        ["bt", "check", "strategies/crypto_lstm.py", "--start", "2018-01-01", "--end", "2018-03-15", "--cuts", "3",
         "--set", "epochs=1", "--set", "min_train=600", "--set", "retrain_every=400", "--set", "lookback=20",
         "--rule-cuts", "50", "--quiet"],  # 50 spread: not every bar of this 1,750-bar series (the suite's time)
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["PASS", "features"], ["PASS", "predictions"], ["PASS", "signals"]]


def test_audit_passes_every_shipped_model_plugin():
    """The no-lookahead audit over features, walk-forward predictions and signals of the
    other four model plugins (the same code as `bt check`, in process; tiny models)."""
    from mlbt.data import load
    from mlbt.strategy.lookahead import audit
    from mlbt.strategy.plugins import load_strategy
    from tests.strategies.test_plugins import CASES

    for name in ("etf50_lstm", "price_lstm", "attention_ensemble", "sltp_lstm"):
        data, sets, _ = CASES[name]
        bars = load(data["data"], start=data["start"], end=data["end"], warn=False)
        strategy = load_strategy(f"strategies/{name}.py", **sets)
        stages = audit(strategy, bars, cuts=3, rule_cuts=60)  # the warm-up's every bar, 60 spread beyond
        assert [s.stage for s in stages] == ["features", "predictions", "signals"], name
        for s in stages:
            assert s.passed, f"{name} {s.stage}: {s.failures[:3]}"
            assert s.cuts == 3 if s.stage == "predictions" else s.cuts > 60
            assert s.compared > 0


PREDICTED = '''
import numpy as np
from mlbt import Signals
from mlbt.strategy.base import Param, Strategy


class Predicted(Strategy):
    name = "predicted"
    params = {"edge": Param(0.0, low=0.0, high=1.0)}

    def signals(self, ctx, p):
        pred = ctx.col("forecast")
        if SHIFT:
            pred = np.roll(pred, -1, axis=0)  # reads the next bar's prediction
        target = np.where(pred > p.edge, 1.0, np.where(pred < -p.edge, -1.0, 0.0))
        return Signals(target=target, size=np.clip(np.abs(pred) * 20.0, 0.0, 1.0))
'''


def _audit_with_noisy_predictions(tmp_path, monkeypatch, shift: bool):
    """Predictions standing in for a network's: a 5-bar momentum forecast, which every
    prefix run moves by 1e-7 relative (as a batch of another size does)."""
    import numpy as np
    import pandas as pd

    import mlbt.strategy.lookahead as audit_mod
    from mlbt.data import load
    from mlbt.strategy.plugins import load_strategy

    bars = load("btcusd_1h", start="2018-01-01", end="2018-02-01", warn=False)
    real = audit_mod.prepare

    def prepare(strategy, part, **kw):
        out = real(strategy, part, **kw)
        forecast = part["close"].pct_change(5).to_numpy() * (1.0 if len(part) == len(bars) else 1.0 + 1e-7)
        out.ctx.predictions = pd.DataFrame({"fold": np.where(np.arange(len(part)) >= 50, 0, -1),
                                            "forecast": forecast}, index=part.index)
        return out

    monkeypatch.setattr(audit_mod, "prepare", prepare)
    path = tmp_path / "predicted.py"
    path.write_text(PREDICTED.replace("SHIFT", str(shift)))
    return {s.stage: s for s in audit_mod.audit(load_strategy(path), bars, cuts=4)}


def test_signal_stage_judges_the_rule_on_the_verified_predictions(tmp_path, monkeypatch):
    honest = _audit_with_noisy_predictions(tmp_path, monkeypatch, shift=False)
    assert honest["predictions"].passed and honest["predictions"].compared > 0  # noise within 1e-5
    assert honest["signals"].passed, honest["signals"].failures  # sizes from noisy forecasts: not a leak
    leaky = _audit_with_noisy_predictions(tmp_path, monkeypatch, shift=True)
    assert leaky["predictions"].passed and not leaky["signals"].passed
    assert all(col.startswith(("target", "size")) for _, col, _ in leaky["signals"].failures)


RARE = '''
import numpy as np
from mlbt import Signals
from mlbt.strategy.base import Param, Strategy


class Rare(Strategy):
    name = "rare"
    params = {"fast": Param(20, low=2, high=500)}

    def conditions(self, ctx, p):
        close, vol = ctx.bars.close, ctx.bars.volume
        trend = (close.rolling(20).mean() > close.rolling(50).mean()).to_numpy()[:, None]
        spike = (VOLUME > 4.0 * vol.rolling(20).mean()).to_numpy()[:, None]
        return {"long": [("fast > slow", trend), ("volume spike", spike)], "short": []}

    def details(self, ctx):
        return {"threshold": (THRESHOLD).to_numpy()}

    def signals(self, ctx, p):
        long, _ = self.entries(self.conditions(ctx, p))
        return Signals(target=np.where(long, 1.0, 0.0))
'''


def _rare(tmp_path, volume="vol", threshold="ctx.bars.close * 0.01"):
    from mlbt.strategy.plugins import load_strategy

    path = tmp_path / "rare.py"
    path.write_text(RARE.replace("VOLUME", volume).replace("THRESHOLD", threshold))
    return load_strategy(path)


def test_many_cheap_cuts_catch_a_leak_in_a_filter_that_rarely_decides(tmp_path):
    """A long side that also needs the NEXT bar's volume spike (4x its mean): the leak can
    show only at a cut bar followed by a spike (about 1% of bars), which the five
    retraining cuts miss here; the cheap rule cuts find it."""
    from mlbt.data import load
    from mlbt.strategy.lookahead import audit

    bars = load("btcusd_1h", start="2017-06-01", end="2018-01-01", warn=False)
    honest = audit(_rare(tmp_path), bars)[-1]
    assert honest.passed and honest.cuts > 150, honest.failures[:3]
    leaky = _rare(tmp_path, volume="vol.shift(-1)")
    assert audit(leaky, bars, rule_cuts=0)[-1].passed  # the old five cuts: blind to it
    stage = audit(leaky, bars)[-1]
    assert not stage.passed
    assert {col for _, col, _ in stage.failures} >= {"long: volume spike[0]"}


def test_details_that_peek_fail_the_audit(tmp_path):
    """``bt signal`` prints details(): a threshold computed from the next close is a leak
    even when the target is honest."""
    from mlbt.data import load
    from mlbt.strategy.lookahead import audit

    bars = load("btcusd_1h", start="2018-01-01", end="2018-02-01", warn=False)
    stage = audit(_rare(tmp_path, threshold="ctx.bars.close.shift(-1) * 0.01"), bars)[-1]
    assert not stage.passed and {col for _, col, _ in stage.failures} == {"details.threshold[0]"}


def test_check_audits_each_asset_of_a_universe_on_its_own_bars():
    leaky = bt("check", "tests/plugins/leaky.py", "--data", "coins_1d", "--symbols", "BTC,ETH", "--start", "2018-01-01",
               "--end", "2018-04-01", "--quiet")
    assert leaky.returncode == 1
    lines = leaky.stdout.splitlines()
    assert [line.split()[:3] for line in lines] == [["FAIL", "BTC", "signals"], ["FAIL", "ETH", "signals"]]
    clean = bt("check", "strategies/sma_cross.py", "--data", "coins_1d", "--symbols", "all", "--start", "2018-01-01",
               "--rule-cuts", "20", "--quiet", "--json")
    doc = json.loads(clean.stdout)
    assert clean.returncode == 0 and doc["passed"] is True
    assert [(a["asset"], a["passed"]) for a in doc["assets"]] == [("BTC", True), ("ETH", True), ("LTC", True)]
