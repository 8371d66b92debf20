"""Parameter sweeps: grids of plugin and engine params run as engine columns in
memory-bounded chunks, stored as resumable Parquet parts, on this machine or a Dask
cluster, with walk-forward optimization and the Deflated Sharpe Ratio.

    from engine.sweep import build_grid, run_sweep
    grid = build_grid(["fast=5:50:5", "slow=20:200:10", "fee=0.0005,0.001"], strategy.params,
                      constraints=["fast < slow"])
    result = run_sweep("strategies/sma_cross.py", grid, bars, out="sweep.parquet")
    result.top(20), result.dsr

Modules: grid (specs, constraints, random subsets), runner (chunks, the sweep),
store (Parquet parts and manifest), dsr (Deflated Sharpe Ratio), executors (local,
Dask). Names load lazily, so importing this package costs nothing until used.
"""

from importlib import import_module

_EXPORTS = {
    "build_grid": "engine.sweep.grid",
    "SweepGrid": "engine.sweep.grid",
    "GridError": "engine.sweep.grid",
    "ENGINE_PARAMS": "engine.sweep.grid",
    "run_sweep": "engine.sweep.runner",
    "EngineSettings": "engine.sweep.runner",
    "SweepResult": "engine.sweep.runner",
    "read_sweep": "engine.sweep.store",
    "ResumeError": "engine.sweep.store",
    "deflated_sharpe": "engine.sweep.dsr",
    "LocalExecutor": "engine.sweep.executors",
    "DaskExecutor": "engine.sweep.executors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'engine.sweep' has no attribute {name!r}")
