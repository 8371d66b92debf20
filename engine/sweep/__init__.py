"""Parameter sweeps: grids of plugin and engine params run as engine columns in
memory-bounded chunks, stored as resumable Parquet parts, on this machine or a Dask
cluster, with walk-forward optimization, the Deflated Sharpe Ratio and the probability
of backtest overfitting.

    from mlbt.sweep import build_grid, run_sweep
    grid = build_grid(["fast=5:50:5", "slow=20:200:10", "fee=0.0005,0.001"], strategy.params,
                      constraints=["fast < slow"])
    result = run_sweep("strategies/sma_cross.py", grid, bars, out="sweep.parquet")
    result.top(20), result.dsr, result.pbo

Modules: grid (specs, constraints, random subsets), tasks (one chunk's work, shipped to
any process), executors (local, Dask), store (Parquet parts and manifest), dsr
(Deflated Sharpe Ratio), pbo (probability of backtest overfitting by CSCV), runner (the
sweep).
"""

from mlbt.settings import EngineSettings
from mlbt.sweep.dsr import DeflatedSharpe, deflated_sharpe
from mlbt.sweep.executors import DaskExecutor, LocalExecutor
from mlbt.sweep.grid import GridError, SweepGrid, build_grid
from mlbt.sweep.pbo import Overfitting, probability_of_overfitting
from mlbt.sweep.runner import SweepResult, run_sweep, table_overfitting
from mlbt.sweep.store import ResumeError, SweepStore, read_sweep
from mlbt.sweep.tasks import RETURN_BLOCKS, block_columns

__all__ = ["RETURN_BLOCKS", "DaskExecutor", "DeflatedSharpe", "EngineSettings", "GridError", "LocalExecutor",
           "Overfitting", "ResumeError", "SweepGrid", "SweepResult", "SweepStore", "block_columns", "build_grid",
           "deflated_sharpe", "probability_of_overfitting", "read_sweep", "run_sweep", "table_overfitting"]
