"""Bad input of every kind the robustness suite found: one line on stderr naming what
is wrong, where and how to fix it, exit code 2, no traceback, and nothing half-written
or left behind."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, bt, make_bars

DATA = "synthetic:gbm?bars=300&seed=3"
HEAD = "import numpy as np\nimport pandas as pd\nfrom mlbt import Param, Signals, Strategy\n\n\n"


def one_line_error(out, *needles: str) -> str:
    """``out`` failed as bad input: exit 2, one line, no traceback, holding ``needles``."""
    assert out.returncode == 2, (out.returncode, out.stdout[-500:], out.stderr[-2000:])
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def plugin(tmp_path, body: str, name: str = "plug", top: str = "") -> str:
    """A plugin file ``name``.py holding class P(Strategy) with ``body``."""
    path = tmp_path / f"{name}.py"
    path.write_text(HEAD + top + "class P(Strategy):\n    name = 'p'\n" + body)
    return str(path)


def line_of(path: str, text: str) -> int:
    """The 1-based line of ``path`` that holds ``text``."""
    return next(i for i, line in enumerate(open(path).read().splitlines(), 1) if text in line)


SIGNALS_OK = ("    def signals(self, ctx, p):\n"
              "        return Signals(np.where(np.arange(len(ctx.bars)) % 20 < 10, 1.0, -1.0))\n")


# 1. compressed and columnar files that end early or are not what their name says


def test_truncated_or_corrupt_files_are_named_with_the_fix(tmp_path):
    bars = make_bars(400)
    bars.to_csv(tmp_path / "full.csv")
    packed = gzip.compress((tmp_path / "full.csv").read_bytes())
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    (tmp_path / "plain.csv.gz").write_bytes((tmp_path / "full.csv").read_bytes())  # not gzip at all
    bars.to_parquet(tmp_path / "full.parquet")
    whole = (tmp_path / "full.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all " * 20)
    sma = str(ROOT / "strategies" / "sma_cross.py")
    for name, needle in [("cut.csv.gz", "truncated"), ("plain.csv.gz", "corrupt"), ("cut.parquet", "truncated"),
                         ("junk.parquet", "corrupt")]:
        out = bt("run", sma, "--data", name, "--no-report", cwd=tmp_path)
        one_line_error(out, name, needle, "re-download or re-export")
    out = bt("data", "show", "cut.csv.gz", cwd=tmp_path)
    one_line_error(out, "cut.csv.gz: the file is truncated")


# 2. plugin attributes of the wrong type


@pytest.mark.parametrize("attr, text, expected", [
    ("params", "    params = [1, 2]\n", "expected a dict of name -> Param"),
    ("size_type", "    size_type = 3\n", "expected a str, one of 'entry_fraction', 'target_weight'"),
    ("fee", "    fee = '0.001'\n", "expected a number (float)"),
    ("features", "    features = ['rsi']\n", "expected a feature set name"),
    ("network", "    network = 3\n", "expected a network name"),
    ("training", "    training = ['epochs']\n", "expected a dict"),
    ("params['a']", "    params = {'a': Param('60')}\n", "expected an int, float or bool"),
    ("params['a']", "    params = {'a': Param(5, low='1')}\n", "expected a number or None"),
    ("description", "    description = None\n", "expected a str"),
    ("pooled", "    pooled = 'yes'\n", "expected True or False"),
    ("signals", "    signals = 3\n", "expected a method"),
])
def test_plugin_attribute_of_the_wrong_type_names_its_line(tmp_path, attr, text, expected):
    path = plugin(tmp_path, text + (SIGNALS_OK if attr != "signals" else ""))
    line = line_of(path, text.strip())
    out = bt("run", path, "--data", DATA, "--no-report")
    one_line_error(out, f"{path}:{line}: P.{attr} ", expected)


def test_walk_forward_with_a_text_lookback_is_named(tmp_path):
    from mlbt.models import WalkForward

    with pytest.raises(ValueError, match="lookback = '60'.*expected an int"):
        WalkForward(lookback="60")


# 3. plugin hooks that return the wrong shape or type


@pytest.mark.parametrize("returned, needles", [
    ("[1.0, -1.0]", ("returned a list of 2 item(s)", "expected Signals(target=...)")),
    ("Signals(pd.DataFrame(np.ones((5, 1))))", ("target of shape (5, 1)", "expected shape (300,) or (300, 1)")),
    ("Signals(pd.Series(np.ones(len(ctx.bars) - 3)))", ("shape (297, 1)", "a Series of shape (297,)")),
    ("Signals(pd.Series(1.0, index=ctx.bars.index + pd.Timedelta('1min')))", ("on another index than the bars'",)),
    ("Signals(np.ones((len(ctx.bars), 3)))", ("shape (300, 3)", "expected shape (300,) or (300, 1)")),
    ("Signals(np.array(['long'] * len(ctx.bars)))", ("not numbers",)),
    ("Signals(None)", ("a target that is None",)),
    ("Signals(np.ones(len(ctx.bars)), sl=[0.1, 0.2])", ("Signals(sl=...) of shape (2,)",)),
    ("Signals(np.ones(len(ctx.bars)), sl=5.0)", ("Signals(sl=5)", "sl is a fraction of the entry price")),
])
def test_signals_of_the_wrong_shape_name_the_method_and_shapes(tmp_path, returned, needles):
    path = plugin(tmp_path, f"    def signals(self, ctx, p):\n        return {returned}\n")
    line = line_of(path, "def signals")
    out = bt("run", path, "--data", DATA, "--no-report")
    one_line_error(out, f"{path}:{line}: P.signals returned", *needles)


def test_weights_of_the_wrong_shape_name_the_method(tmp_path):
    path = plugin(tmp_path, "    size_type = 'target_weight'\n"
                            "    def weights(self, ctx, p):\n        return np.ones(len(ctx.bars))\n")
    line = line_of(path, "def weights")
    out = bt("run", path, "--data", "coins_1d", "--symbols", "BTC,ETH", "--no-report")
    one_line_error(out, f"{path}:{line}: P.weights returned shape", "expected (bars, assets)")


# 4. data too short to infer a frequency


def test_too_few_bars_for_a_frequency_say_what_to_pass(tmp_path):
    make_bars(1).to_csv(tmp_path / "one.csv")
    sma = str(ROOT / "strategies" / "sma_cross.py")
    for args in (("run", sma, "--data", "one.csv", "--no-report"), ("signal", sma, "--data", "one.csv")):
        out = bt(*args, cwd=tmp_path)
        one_line_error(out, "cannot infer the bar frequency from 1 bar", "--periods-per-year N",
                       "periods_per_year=N")
    out = bt("run", sma, "--data", "one.csv", "--no-report", "--periods-per-year", "8760", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    declared = plugin(tmp_path, "    periods_per_year = 8760\n" + SIGNALS_OK)
    out = bt("signal", declared, "--data", "one.csv", cwd=tmp_path)  # the plugin's own setting serves bt signal
    assert out.returncode == 0, out.stderr


# 5. a plugin that prints


def test_plugin_prints_go_to_stderr_so_json_stays_clean(tmp_path):
    path = plugin(tmp_path, "    def __init__(self, **kw):\n        print('hello from init')\n"
                            "        super().__init__(**kw)\n"
                            "    def signals(self, ctx, p):\n        print('hello from signals')\n"
                            "        return Signals(np.where(np.arange(len(ctx.bars)) % 20 < 10, 1.0, -1.0))\n",
                  top="print('hello from the module')\n\n\n")
    for args in (("run", path, "--data", DATA, "--json"), ("signal", path, "--data", DATA)):
        out = bt(*args)
        assert out.returncode == 0, out.stderr
        json.loads(out.stdout)  # one JSON document, nothing else
        for text in ("hello from the module", "hello from init", "hello from signals"):
            assert text in out.stderr and text not in out.stdout


# 6. validate before writing


def test_sweep_refused_by_the_engine_leaves_no_out_and_the_rerun_succeeds(tmp_path):
    path = plugin(tmp_path, "    params = {'stop': Param(5.0, low=0.0)}\n"
                            "    def signals(self, ctx, p):\n"
                            "        t = np.where(np.arange(len(ctx.bars)) % 20 < 10, 1.0, -1.0)\n"
                            "        return Signals(t, sl=p.stop)\n")
    out_dir = tmp_path / "sweep.out"
    for extra in ((), ("--chunk-size", "1")):  # with and without the probe run before the store
        out = bt("sweep", path, "--data", DATA, "--grid", "stop=2,3", *extra, "--out", str(out_dir))
        one_line_error(out, "Signals(sl=2 ...)", "sl is a fraction of the entry price")
        assert not out_dir.exists()
    sma = str(ROOT / "strategies" / "sma_cross.py")
    out = bt("sweep", sma, "--data", DATA, "--grid", "fast=5,60", "--chunk-size", "1", "--out", str(out_dir),
             "--quiet")
    one_line_error(out, "exclude such combinations with --constraint")  # fails on the second chunk
    assert not out_dir.exists()
    out = bt("sweep", sma, "--data", DATA, "--grid", "fast=5,60", "--constraint", "fast < slow", "--chunk-size",
             "1", "--out", str(out_dir), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["combinations"] == 1 and (out_dir / "_manifest.json").exists()


def test_bad_engine_setting_for_run_save_writes_nothing(tmp_path):
    sma = str(ROOT / "strategies" / "sma_cross.py")
    out = bt("run", sma, "--data", DATA, "--fee", "-1", "--save", "saved", "--report", "r.html", cwd=tmp_path)
    one_line_error(out, "fee = -1")
    assert sorted(os.listdir(tmp_path)) == []


# 7. temporary directories of killed writes


def test_killed_save_leftovers_are_removed_by_the_next_run(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)  # a process that has exited
    stale = tmp_path / f".saved.tmp-{pid}-0123456789ab"
    (stale / "half").mkdir(parents=True)
    (stale / "half" / "stats.parquet").write_bytes(b"half-written")
    sma = str(ROOT / "strategies" / "sma_cross.py")
    out = bt("run", sma, "--data", DATA, "--save", "saved", "--no-report", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(tmp_path)) == ["saved"]
    assert (tmp_path / "saved" / "run.json").exists()
    out = bt("report", "saved", "-o", "r.html", cwd=tmp_path)
    assert out.returncode == 0, out.stderr


def test_interrupted_save_leaves_no_temporary_directory(tmp_path, monkeypatch):
    from mlbt.sim.result import Result

    def interrupted(self, path):
        (path / "partial").write_text("x") if path.is_dir() else None
        raise KeyboardInterrupt

    sma = str(ROOT / "strategies" / "sma_cross.py")
    monkeypatch.setattr(Result, "to_parquet", interrupted)
    out = bt("run", sma, "--data", DATA, "--save", "saved", "--no-report", cwd=tmp_path)
    assert out.returncode != 0
    assert sorted(os.listdir(tmp_path)) == []


def test_temporary_names_are_recognisable_and_owned(tmp_path):
    from mlbt.io.atomic import _temp_name, clean_stale

    tmp = _temp_name(tmp_path / "run")
    assert tmp.name.startswith(".run.tmp-") and f"-{os.getpid()}-" in tmp.name
    tmp.mkdir()
    assert clean_stale(tmp_path / "run") == [] and tmp.exists()  # ours, alive: kept
