"""``bt run`` reports the model's skill against its naive baseline: ``ml.skill`` in
``--json``, a block of lines under the printed model table."""

from __future__ import annotations

import json

from tests.conftest import ROOT, bt

TINY = ["--start", "2018-01-01", "--end", "2018-02-20", "--set", "epochs=1", "--set", "min_train=500",
        "--set", "retrain_every=300", "--set", "lookback=20", "--no-report"]


def test_crypto_lstm_reports_its_skill(tmp_path):
    args = ["run", str(ROOT / "strategies" / "crypto_lstm.py"), "--fee", "0.001", *TINY, "--cache-dir", str(tmp_path)]
    proc = bt(*args, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    skill = json.loads(proc.stdout)["ml"]["skill"]
    assert {"test", "baseline", "statistic", "p_value", "verdict", "r2_oos"} <= set(skill)
    assert skill["baseline"] == "no change" and skill["test"].startswith("Diebold-Mariano")
    assert skill["n"] > 100 and 0 <= skill["p_value"] <= 1
    assert skill["verdict"].startswith(("skill at 5%", "no evidence of skill at 5%"))
    printed = bt(*args)  # the predictions now come from the cache
    assert printed.returncode == 0, printed.stderr[-3000:]
    line = next(s for s in printed.stdout.splitlines() if s.startswith("skill vs no change: Diebold-Mariano"))
    assert line.endswith(skill["verdict"]) and "R² OOS" in line and "{" not in printed.stdout
