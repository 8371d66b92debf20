"""mlbt: honest, fast backtests of machine-learning trading strategies.

The public API::

    from mlbt import load, backtest, Signals, Result, Strategy, Param, load_strategy, DataError

``load`` reads bars (an embedded sample, a file or a ``synthetic:`` spec), ``backtest``
simulates Signals on them in the numba kernel and returns a Result; ``Strategy`` and
``Param`` are what a plugin file subclasses and declares, ``load_strategy`` loads one.
The ``bt`` command line is ``mlbt.cli``.
"""

from mlbt.data import DataError, load
from mlbt.sim import Result, Signals, backtest
from mlbt.strategy import Param, Strategy, load_strategy

__all__ = ["DataError", "Param", "Result", "Signals", "Strategy", "backtest", "load", "load_strategy"]
