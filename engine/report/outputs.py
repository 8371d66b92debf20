"""What ``bt run`` and ``bt sweep`` write besides their printed summary: the tearsheet,
the saved run and the sweep report, with the paths checked before any long work.

``bt run`` writes a report by default, to ``<strategy>-<YYYYmmdd-HHMMSS>.html`` in
the working directory; ``--report PATH`` chooses the file and ``--no-report`` skips
it. ``--json`` is for machines, so with ``--json`` no report is written unless
``--report`` is given.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mlbt.io import check_creatable, check_replaceable, json_safe, write_text
from mlbt.report.rundata import RUN_JSON, from_run, save_run
from mlbt.report.sweep_figures import SweepData
from mlbt.report.tearsheet import default_report_name, write_run_report, write_sweep_report

SWEEP_EXTRAS = "_report.json"


def run_report_path(strategy_name: str, report: str | None, no_report: bool, as_json: bool) -> str | None:
    """Where ``bt run`` writes its report: None with ``--no-report``, or with
    ``--json`` and no ``--report``; else ``report`` or the default name."""
    if no_report or (as_json and report is None):
        return None
    return report or default_report_name(strategy_name)


def check_outputs(*, report: str | None = None, save: str | None = None, out: str | None = None,
                  cache_dir: str | None = None, model: bool = False) -> None:
    """Before any long work: every path the command will write is writable, so an hour
    of training never ends in "Is a directory". ``save`` must be new, empty or an
    earlier saved run; ``out`` a directory (a sweep's own checks follow); the model
    cache (``cache_dir`` or the default) only when the strategy has a ``model``."""
    if report is not None:
        check_creatable(report)
    if save is not None:
        check_replaceable(save, RUN_JSON, "saved bt run")
    if out is not None:
        check_creatable(out, directory=True)
    if model:
        from mlbt.models.cache import default_cache_dir  # mlbt.models loads torch: only for a model

        check_creatable(cache_dir or default_cache_dir(), directory=True)


def finish_run(*, report: str | None, save: str | None, **run_fields: Any) -> list[str]:
    """After a ``bt run``: save the run to ``save`` (Result.to_parquet + run.json +
    series.parquet, atomically) and write the report to ``report``; returns the lines
    to tell the user. ``run_fields`` are ``mlbt.report.rundata.from_run``'s keywords."""
    if report is None and save is None:
        return []
    run = from_run(**run_fields)
    lines = []
    if save is not None:
        lines.append(f"saved: {save_run(run, save)} (rebuild the report with: bt report {save})")
    if report is not None:
        t0 = time.perf_counter()
        path = write_run_report(run, report)
        lines.append(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.2f} s)")
    return lines


def save_sweep_extras(out: str | None, metric: str, dsr: Any, pbo: Any = None) -> None:
    """Store the ranking metric, the Deflated Sharpe Ratio and the probability of
    backtest overfitting's summary beside a sweep's parts (``_report.json``; skipped by
    Parquet readers) so ``bt report DIR`` shows the exact DSR later. Nothing without ``out``."""
    if out is None:
        return
    write_text(Path(out) / SWEEP_EXTRAS, json.dumps(json_safe({"metric": metric, "dsr": dsr, "pbo": pbo}),
                                                    indent=1))


def sweep_report(out: str | None, path: str, *, result: Any, grid: Any, manifest: dict[str, Any], top: int) -> str:
    """Write ``bt sweep --report PATH`` from the stored sweep ``out`` or, without
    ``--out``, from the in-memory result; returns the line to tell the user."""
    t0 = time.perf_counter()
    dsr = result.dsr.to_dict() if result.dsr is not None else None
    if out is not None:
        written = write_sweep_report(out, path, metric=result.metric, top=top, dsr=dsr)
    else:
        data = SweepData(table=result.table, combos=grid.combos, manifest=manifest, metric=result.metric, dsr=dsr,
                         pbo=result.pbo)
        written = write_sweep_report(data, path, metric=result.metric, top=top)
    return f"report: {written} ({written.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.2f} s)"


