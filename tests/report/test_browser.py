"""The run and sweep reports in a real browser: headless Chromium (Debian's
``chromium`` package) opens each file from a file:// URL with no network, and the
test fails on any JavaScript error, checks that every figure drew, and saves a
screenshot under pytest's tmp dir as an artifact.

Skipped, with the reason, only when no Chromium executable is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable on PATH (Debian: apt-get install "
                                                          "-y chromium); the real-browser report test needs it")

# Software WebGL (parallel coordinates draw with WebGL); no GPU, no sandbox in containers.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-extensions", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


def chromium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=timeout)


def render(html: Path, shot: Path) -> None:
    """Open ``html`` in Chromium, assert no JavaScript error and every figure drawn,
    and save a full-page screenshot to ``shot``."""
    from tests.report.test_tearsheet import figure_blocks

    figures = list(figure_blocks(html.read_text()))
    assert figures
    url = html.resolve().as_uri()
    out = chromium("--virtual-time-budget=30000", "--dump-dom", url)
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    root = re.search(r"<html[^>]*>", dom).group(0)
    uncaught = [line for line in out.stderr.splitlines() if "Uncaught" in line]
    assert not uncaught, uncaught
    assert "data-js-errors" not in root, re.search(r'data-js-errors="[^"]*"', root).group(0)
    assert f'data-figures-drawn="{len(figures)}/{len(figures)}"' in root, root
    assert 'data-figures-done="1"' in root, root
    for fig in figures:  # plotly marks each div it drew into and adds its SVG layers
        assert re.search(rf'<div class="fig js-plotly-plot" id="{fig}"', dom), f"{fig} did not draw"
    assert dom.count('class="main-svg"') >= len(figures)
    shot_out = chromium("--virtual-time-budget=30000", "--window-size=1300,7000", f"--screenshot={shot}", url)
    assert shot_out.returncode == 0 and shot.stat().st_size > 10_000, shot_out.stderr[-2000:]


def test_run_report_renders_in_chromium(tmp_path):
    from mlbt.data import load
    from mlbt.report import write_run_report
    from tests.report.test_tearsheet import sma_run, with_model

    run = with_model(sma_run(load("btcusd_1h", warn=False)))
    html = write_run_report(run, tmp_path / "run.html")
    render(html, tmp_path / "run.png")
    print(f"screenshot: {tmp_path / 'run.png'}")


def test_run_without_trades_renders_in_chromium(tmp_path):
    """A run that never trades: the trade figures are a line each ("no trades"), not
    empty axes, and the rest draws."""
    import numpy as np

    from mlbt import Signals, backtest, load_strategy
    from mlbt.data import load
    from mlbt.report import write_run_report
    from mlbt.report.rundata import from_run
    from mlbt.settings import EngineSettings
    from mlbt.strategy.pipeline import prepare
    from tests.report.test_tearsheet import SMA

    daily = load("spx_vix_1d", warn=False)
    strategy = load_strategy(SMA)
    prepared = prepare(strategy, daily)
    result = backtest(daily, Signals(np.full(len(daily), np.nan)))
    run = from_run(strategy=strategy, bars=daily, result=result, prepared=prepared, ml={}, source="spx_vix_1d",
                   symbol=None, engine=EngineSettings(), device="auto")
    html = write_run_report(run, tmp_path / "flat.html")
    assert html.read_text().count('class="empty-fig"') == 2
    render(html, tmp_path / "flat.png")
    print(f"screenshot: {tmp_path / 'flat.png'}")


def test_sweep_report_renders_in_chromium(tmp_path):
    from click.testing import CliRunner

    from mlbt.cli import main
    from tests.report.test_tearsheet import SMA

    res = CliRunner().invoke(main, ["sweep", SMA, "--grid", "fast=5:20:5", "--grid", "slow=30:60:10", "--grid",
                                    "fee=0.0005,0.001", "--out", str(tmp_path / "sw"), "--quiet",
                                    "--report", str(tmp_path / "sweep.html")])
    assert res.exit_code == 0, res.output
    render(tmp_path / "sweep.html", tmp_path / "sweep.png")
    print(f"screenshot: {tmp_path / 'sweep.png'}")


def test_portfolio_report_renders_in_chromium(tmp_path):
    """A universe run with leverage, funding and borrow: every portfolio figure, the
    liquidations and the carrying costs draw."""
    from click.testing import CliRunner

    from mlbt.cli import main
    from tests.report.test_tearsheet import SMA

    html = tmp_path / "portfolio.html"
    res = CliRunner().invoke(main, ["run", SMA, "--data", "coins_1d", "--symbols", "all", "--leverage", "5", "--size",
                                    "5", "--mmr", "0.1", "--funding-rate", "0.0003", "--borrow-rate", "0.05", "--fee",
                                    "0.001", "--report", str(html), "--quiet"])
    assert res.exit_code == 0, res.output
    text = html.read_text()
    assert "Liquidations and funding" in text and "<caption>Liquidations</caption>" in text
    render(html, tmp_path / "portfolio.png")
    print(f"screenshot: {tmp_path / 'portfolio.png'}")
