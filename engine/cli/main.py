"""The ``bt`` command group: one subcommand per module of this package."""

from __future__ import annotations

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


for _command in (run, sweep, report, check, signal, train, data_group):
    main.add_command(_command)
