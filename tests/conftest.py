"""What several test modules share: the repository root, the ``bt`` command (in this
process, or as a subprocess where the installed entry point itself is under test),
the embedded hourly BTC sample, a small deterministic bars frame, and torch on one
thread."""

from __future__ import annotations

import contextlib
import os
import subprocess
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def bt_process(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
               timeout: int = 300) -> subprocess.CompletedProcess:
    """``bt ARGS`` as a user types it (the installed entry point), in ``cwd``."""
    return subprocess.run(["bt", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def bt(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
       timeout: int = 300) -> subprocess.CompletedProcess:
    """``bt ARGS`` run by the same click command in this process (no interpreter start,
    no imports: seconds less per call), in ``cwd``, with ``env`` as the whole
    environment as for a subprocess; an exception that escapes the command is printed
    to stderr as Python would and gives exit code 1. ``timeout`` is not enforced."""
    from click.testing import CliRunner

    from mlbt.cli import main

    before = dict(os.environ)
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        with contextlib.chdir(cwd):
            res = CliRunner().invoke(main, list(args), prog_name="bt")
    finally:
        os.environ.clear()
        os.environ.update(before)
    stderr, code = res.stderr, res.exit_code
    if res.exc_info is not None and not issubclass(res.exc_info[0], SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(*res.exc_info))
        code = 1
    return subprocess.CompletedProcess(["bt", *args], code, res.stdout, stderr)


def make_bars(n: int = 6, start: str = "2021-03-01 00:00", freq: str = "1h") -> pd.DataFrame:
    """``n`` consistent bars from ``start`` (UTC): close 100, 101, ..., open 0.5 below,
    high and low 1 away, volume 10, 11, ...; the index named ``timestamp``."""
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp").as_unit("ns")
    close = 100.0 + np.arange(n)
    return pd.DataFrame({"open": close - 0.5, "high": close + 1.0, "low": close - 1.0, "close": close,
                         "volume": 10.0 + np.arange(n)}, index=idx)


@pytest.fixture(scope="session")
def btc_sample() -> pd.DataFrame:
    from mlbt import load

    return load("btcusd_1h", warn=False)


@pytest.fixture
def btc(btc_sample: pd.DataFrame) -> pd.DataFrame:
    """The embedded BTC/USD hourly sample (20,106 bars), a fresh copy for each test."""
    return btc_sample.copy()


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for a module of tiny networks (their ops are too small to
    split, and a second thread only waits on the CI's two shared cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
