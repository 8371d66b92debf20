"""One import name: the distribution installs the package ``mlbt`` and nothing else at
the top of site-packages, so a user's own ``data/`` folder or ``models/`` package
shadows nothing of bt's, from a script or from ``bt run``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT, make_bars
from tests.conftest import bt_process as bt  # the installed entry point: a user folder on the path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel of a copy of the source (so the build leaves nothing in the repository)."""
    tmp = tmp_path_factory.mktemp("wheel")
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    for name in ("engine", "data", "models"):
        shutil.copytree(ROOT / name, tmp / "src" / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp / "src" / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w",
                    str(tmp / "dist"), str(tmp / "src")], check=True, capture_output=True, text=True)
    return zipfile.ZipFile(next((tmp / "dist").glob("*.whl")))


def test_the_wheel_holds_one_top_level_package(wheel, tmp_path):
    names = wheel.namelist()
    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {"mlbt"}
    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert wheel.read(top_level).decode().split() == ["mlbt"]
    assert {"mlbt/data/load.py", "mlbt/models/training.py", "mlbt/sim/kernel_nb.py",
            "mlbt/data/samples/btcusd_1h.csv.gz"} <= set(names)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site),
                    wheel.filename], check=True, capture_output=True, text=True)
    installed = {p.name for p in site.iterdir() if not p.name.endswith(".dist-info")}
    assert installed == {"mlbt", "bin"} and not installed & {"engine", "data", "models"}


@pytest.fixture
def user_folder(tmp_path):
    """A research folder as people keep them: prices in data/, their own models package."""
    folder = tmp_path / "research"
    (folder / "data").mkdir(parents=True)
    make_bars(300, freq="1D").reset_index().to_csv(folder / "data" / "prices.csv", index=False)
    (folder / "models").mkdir()
    (folder / "models" / "__init__.py").write_text("OWNER = 'the user'\nEDGE = 0.0\n")
    return folder


ANALYZE = """
import json

import models
from mlbt import Signals, backtest, load

bars = load("data/prices.csv")
fast, slow = bars.close.rolling(5).mean(), bars.close.rolling(20).mean()
target = (fast > slow).astype(float) * 2 - 1
target[slow.isna()] = float("nan")
result = backtest(bars, Signals(target), fee=0.001)
print(json.dumps({"owner": models.OWNER, "trades": int(result.stats["trades"]), "bars": len(bars)}))
"""

PLUGIN = """
import numpy as np
from models import EDGE   # the user's own package, beside the plugin
from mlbt import Param, Signals, Strategy


class Momentum(Strategy):
    name = "user_momentum"
    data = "data/prices.csv"
    params = {"window": Param(10, low=2, high=100, doc="bars of momentum")}

    def signals(self, ctx, p):
        close = ctx.col("close")
        past = np.roll(close, 10, axis=0)
        past[:10] = np.nan
        target = np.where(close / past - 1 > EDGE, 1.0, 0.0)
        target[np.isnan(past[:, 0])] = np.nan
        return Signals(target=target)
"""


def test_a_script_beside_its_own_data_folder_and_models_package(user_folder):
    (user_folder / "analyze.py").write_text(ANALYZE)
    out = subprocess.run([sys.executable, "analyze.py"], cwd=user_folder, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["owner"] == "the user" and seen["bars"] == 300 and seen["trades"] > 0


def test_bt_run_on_a_plugin_kept_in_that_folder(user_folder):
    (user_folder / "momentum.py").write_text(PLUGIN)
    out = bt("run", "momentum.py", "--json", "--quiet", cwd=user_folder)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["strategy"] == "user_momentum" and report["bars"] == 300 and report["stats"]["trades"] > 0
