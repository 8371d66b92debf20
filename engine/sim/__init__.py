"""The simulator: the numba kernel and its pandas-facing entry point.

``backtest(bars, signals, **settings)`` validates its inputs, runs the kernel over
every signal column and returns a ``Result``. This package imports numpy, pandas and
numba only.
"""

from mlbt.sim.frequency import periods_per_year
from mlbt.sim.result import PortfolioResult, Result, ReturnBlocks, block_bounds
from mlbt.sim.signals import Signals
from mlbt.sim.simulation import backtest
from mlbt.sim.stats_nb import LOWER_IS_BETTER, STAT_GROUPS, STAT_NAMES, STAT_UNITS

__all__ = ["LOWER_IS_BETTER", "STAT_GROUPS", "STAT_NAMES", "STAT_UNITS", "PortfolioResult", "Result", "ReturnBlocks",
           "Signals", "backtest", "block_bounds", "periods_per_year"]
