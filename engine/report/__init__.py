"""HTML reports: a run tearsheet and a sweep report, each one self-contained file
(plotly.js inlined once) that opens with no network.

    from mlbt.report import write_run_report, write_sweep_report, save_run, load_run
    write_run_report(load_run("runs/btc"), "btc.html")
    write_sweep_report("sweep.parquet", "sweep.html")

Modules, one job each: html (page assembly, escaping), formatting (table cells),
downsample (LTTB and min/max buckets over arrays), analytics (drawdowns, calendar and
rolling numbers), run_figures, ml_figures, sweep_figures (plotly figures), rundata
(what a run report needs, saved beside a Result), tearsheet (the public writers),
outputs (what bt run and bt sweep write, checked before any long work). plotly loads
only when a figure is drawn.
"""

from mlbt.report.downsample import downsample, lttb, minmax
from mlbt.report.rundata import RunData, from_run, is_run_dir, load_run, save_run
from mlbt.report.tearsheet import default_report_name, write_run_report, write_sweep_report

__all__ = ["RunData", "default_report_name", "downsample", "from_run", "is_run_dir", "load_run", "lttb", "minmax",
           "save_run", "write_run_report", "write_sweep_report"]
