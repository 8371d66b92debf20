"""HTML reports: a run tearsheet and a sweep report, each one self-contained file
(plotly.js inlined once) that opens with no network.

    from engine.report import write_run_report, write_sweep_report, save_run, load_run
    write_run_report(load_run("runs/btc"), "btc.html")
    write_sweep_report("sweep.parquet", "sweep.html")

Modules, one job each: html (page assembly, escaping), downsample (LTTB and min/max
buckets over arrays), analytics (buy-and-hold, drawdowns, calendar and rolling
numbers), run_figures, ml_figures, sweep_figures (plotly figures), rundata (what a
run report needs, saved beside a Result), tearsheet (the public writers). Names load
lazily, so importing this package loads neither pandas nor plotly.
"""

from importlib import import_module

_EXPORTS = {
    "write_run_report": "engine.report.tearsheet",
    "write_sweep_report": "engine.report.tearsheet",
    "default_report_name": "engine.report.tearsheet",
    "RunData": "engine.report.rundata",
    "from_run": "engine.report.rundata",
    "save_run": "engine.report.rundata",
    "load_run": "engine.report.rundata",
    "is_run_dir": "engine.report.rundata",
    "lttb": "engine.report.downsample",
    "minmax": "engine.report.downsample",
    "downsample": "engine.report.downsample",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'engine.report' has no attribute {name!r}")
