"""The installed ``bt`` entry point runs the baseline plugin on the embedded sample."""

import json
import subprocess
import sys

import pandas as pd

from tests.conftest import ROOT, bt


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
    code = "import sys, mlbt.cli; print(sorted(m for m in ('torch', 'vectorbt', 'plotly', 'dask', 'distributed') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


PLUGIN_HEAD = "import numpy as np\nfrom mlbt import Signals\nfrom mlbt.strategy.base import Param, Strategy\n\n"


def test_plugin_mistakes_are_one_line_naming_the_file(tmp_path):
    """A plugin that declares too little, returns the wrong thing or raises in its own
    code: one line with exit 2 (the file and, for an error in its code, the line);
    --debug shows the traceback. Bad values (inf, NaN) for params are refused."""
    cases = {
        "nosig": ("class A(Strategy):\n    name = 'a'\n", "A must implement signals()"),
        "nowf": ("class A(Strategy):\n    network = 'price'\n    def signals(self, ctx, p):\n        pass\n",
                 "A must implement labels() and walk_forward() (it declares network='price')"),
        "badparam": ("class A(Strategy):\n    params = {'a': 5}\n    def signals(self, ctx, p):\n        pass\n",
                     "A.params['a'] is 5; write Param(5, ...)"),
        "none": ("class A(Strategy):\n    name = 'a'\n    def signals(self, ctx, p):\n        return None\n",
                 "none.py:7: A.signals returned None; expected Signals(target=...)"),
        "zerodiv": ("class A(Strategy):\n    def signals(self, ctx, p):\n        return 1 / 0\n",
                    "zerodiv.py:7: ZeroDivisionError: division by zero (raised in the plugin's code"),
    }
    for name, (body, needle) in cases.items():
        path = tmp_path / f"{name}.py"
        path.write_text(PLUGIN_HEAD + body)
        out = bt("run", str(path), "--no-report", "--end", "2017-08-01")
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, (name, out.stderr)
        assert needle in out.stderr, (name, out.stderr)
    debug = bt("run", str(tmp_path / "zerodiv.py"), "--no-report", "--end", "2017-08-01", "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ZeroDivisionError" in debug.stderr
    (tmp_path / "notes.txt").write_text("x")
    for args, needle in [((str(tmp_path / "notes.txt"),), "not a Python file"),
                         (("strategies/sma_cross.py", "--set", "fast=inf"), "param fast: 'inf' is not a valid int"),
                         (("strategies/crypto_lstm.py", "--set", "atr_mult=nan"), "NaN is not a value")]:
        out = bt("run", *args, "--no-report")
        assert out.returncode == 2 and needle in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_outputs_are_checked_before_the_work_and_nothing_is_overwritten(tmp_path):
    """--save refuses a directory that holds anything but an earlier saved run (it used
    to delete it); --report refuses a directory or a path under a file; the model cache
    must be a directory; all before any data is loaded or model trained."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thesis.txt").write_text("important")
    (tmp_path / "afile").write_text("x")
    sma = ("run", "strategies/sma_cross.py", "--end", "2017-08-01")
    for args, needle in [((*sma, "--save", str(docs), "--no-report"), "already holds other files"),
                         ((*sma, "--save", str(tmp_path / "afile"), "--no-report"), "is a file; give a directory"),
                         ((*sma, "--report", str(docs)), "is a directory; give a file name"),
                         ((*sma, "--report", str(tmp_path / "afile" / "r.html")), "afile is a file, so"),
                         (("run", "strategies/crypto_lstm.py", "--cache-dir", str(tmp_path / "afile"), "--no-report"),
                          "is a file; give a directory")]:
        out = bt(*args)
        assert out.returncode == 2 and needle in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert (docs / "thesis.txt").read_text() == "important" and (tmp_path / "afile").read_text() == "x"
    saved = tmp_path / "saved"
    for _ in range(2):  # an earlier saved run is replaced
        out = bt(*sma, "--save", str(saved), "--no-report", "--quiet")
        assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "docs", "saved"]


def test_json_output_is_strict_json():
    """Metrics without a value (no trades: Sharpe, win rate ...) are null, not NaN."""
    out = bt("run", "strategies/sma_cross.py", "--end", "2017-07-02", "--json")
    assert out.returncode == 0, out.stderr

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    stats = json.loads(out.stdout, parse_constant=refuse)["stats"]
    assert stats["trades"] == 0 and stats["sharpe"] is None and stats["win_rate"] is None


def test_repair_reaches_the_loader_from_the_cli(tmp_path):
    """The duplicate-timestamp error names --repair duplicates, and that option runs."""
    from mlbt.data import load

    bars = load("btcusd_1h", end="2017-08-01", warn=False)
    doubled = pd.concat([bars, bars.iloc[[100]]]).sort_index(kind="stable")
    path = tmp_path / "dup.csv"
    doubled.rename_axis("timestamp").reset_index().to_csv(path, index=False)
    refused = bt("run", "strategies/sma_cross.py", "--data", str(path), "--no-report")
    assert refused.returncode == 2 and "--repair duplicates" in refused.stderr
    fixed = bt("run", "strategies/sma_cross.py", "--data", str(path), "--repair", "duplicates", "--json")
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["bars"] == len(bars)


def test_every_command_has_quiet_debug_and_help_and_bt_has_a_version():
    from click.testing import CliRunner

    from mlbt.cli import main
    from mlbt.report.rundata import bt_version

    commands = [["run"], ["sweep"], ["report"], ["check"], ["signal"], ["train"], ["data", "list"], ["data", "show"]]
    for command in commands:
        text = CliRunner().invoke(main, [*command, "--help"]).output
        assert "--quiet" in text and "--debug" in text and "--help" in text, command
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"bt {bt_version()}" and bt_version() != "unknown"


def test_a_sweep_of_fast_above_slow_suggests_the_constraint():
    from click.testing import CliRunner

    from mlbt.cli import main

    res = CliRunner().invoke(main, ["sweep", "strategies/sma_cross.py", "--grid", "fast=10,50", "--grid", "slow=20,40",
                                    "--quiet"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "a combination has fast=50, slow=20; in a sweep add --constraint \"fast < slow\"" in res.output
