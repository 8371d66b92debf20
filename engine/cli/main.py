"""The ``bt`` command group: one subcommand per module of this package."""

from __future__ import annotations

import signal as signals
import threading
from typing import Any

import click

from mlbt.cli.data import data_group
from mlbt.cli.plugin import check, signal, train
from mlbt.cli.report import report
from mlbt.cli.run import run
from mlbt.cli.sweep import sweep


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bt-backtest", prog_name="bt", message="%(prog)s %(version)s")
def main() -> None:
    """bt: vectorized backtests of ML trading strategies, with no lookahead."""
    _exit_cleanly_on_sigterm()


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM (a kill, a job scheduler's stop) ends the command as an exception does,
    so what it was writing under a temporary name is removed (``mlbt.io.atomic``) and an
    interrupted sweep keeps only whole parts; only where nothing else handles it."""
    if threading.current_thread() is threading.main_thread() and \
            signals.getsignal(signals.SIGTERM) is signals.SIG_DFL:
        signals.signal(signals.SIGTERM, _terminate)


for _command in (run, sweep, report, check, signal, train, data_group):
    main.add_command(_command)
