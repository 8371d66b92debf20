"""The installed ``bt`` entry point runs the baseline plugin on the embedded sample."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bt(*args):
    return subprocess.run(["bt", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_run_baseline_json():
    out = bt("run", "strategies/sma_cross.py", "--fee", "0.001", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["strategy"] == "sma_cross" and report["data"] == "btcusd_1h"
    assert report["stats"]["trades"] > 100 and report["stats"]["fees_paid"] > 0


def test_user_errors_exit_2_in_one_line():
    for args, needle in [
        (("run", "strategies/nope.py"), "no such plugin file"),
        (("run", "strategies/sma_cross.py", "--fee", "1.5"), "fee = 1.5"),
        (("run", "strategies/sma_cross.py", "--set", "fast=1"), "param fast = 1 is out of range"),
    ]:
        out = bt(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert needle in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_help_does_not_import_heavy_packages():
    code = "import sys, engine.cli; print(sorted(m for m in ('torch', 'vectorbt', 'plotly', 'dask', 'numba') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
