"""The report side of the command line: ``bt report`` and the helpers ``bt run`` and
``bt sweep`` call for ``--report``/``--save``. Imports only click at module load
(``bt --help`` stays light); pandas and plotly load when a report is written.

``bt run`` writes a report by default, to ``<strategy>-<YYYYmmdd-HHMMSS>.html`` in
the working directory; ``--report PATH`` chooses the file and ``--no-report`` skips
it. ``--json`` is for machines, so with ``--json`` no report is written unless
``--report`` is given.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from engine.cli_common import fail

SWEEP_EXTRAS = "_report.json"


def run_report_path(strategy_name: str, report: str | None, no_report: bool, as_json: bool) -> str | None:
    """Where ``bt run`` writes its report: None with ``--no-report``, or with
    ``--json`` and no ``--report``; else ``report`` or the default name."""
    from engine.report.tearsheet import default_report_name

    if no_report or (as_json and report is None):
        return None
    return report or default_report_name(strategy_name)


def check_outputs(*, report: str | None = None, save: str | None = None, out: str | None = None,
                  cache_dir: str | None = None, model: bool = False) -> None:
    """Before any long work: every path the command will write is writable, so an hour
    of training never ends in "Is a directory". ``save`` must be new, empty or an
    earlier saved run; ``out`` a directory (a sweep's own checks follow); the model
    cache (``cache_dir`` or the default) only when the strategy has a ``model``."""
    from engine.atomic import check_creatable, check_replaceable
    from engine.report.rundata import RUN_JSON

    if report is not None:
        check_creatable(report)
    if save is not None:
        check_replaceable(save, RUN_JSON, "saved bt run")
    if out is not None:
        check_creatable(out, directory=True)
    if model:
        from models.cache import default_cache_dir

        check_creatable(cache_dir or default_cache_dir(), directory=True)


def finish_run(*, report: str | None, save: str | None, **run_fields: Any) -> list[str]:
    """After a ``bt run``: save the run to ``save`` (Result.to_parquet + run.json +
    series.parquet, atomically) and write the report to ``report``; returns the lines
    to tell the user. ``run_fields`` are ``engine.report.rundata.from_run``'s keywords."""
    if report is None and save is None:
        return []
    from engine.report.rundata import from_run, save_run

    run = from_run(**run_fields)
    lines = []
    if save is not None:
        lines.append(f"saved: {save_run(run, save)} (rebuild the report with: bt report {save})")
    if report is not None:
        from engine.report.tearsheet import write_run_report

        t0 = time.perf_counter()
        path = write_run_report(run, report)
        lines.append(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.2f} s)")
    return lines


def save_sweep_extras(out: str | None, metric: str, dsr: Any) -> None:
    """Store the ranking metric and the Deflated Sharpe Ratio beside a sweep's parts
    (``_report.json``; skipped by Parquet readers) so ``bt report DIR`` shows the
    exact DSR later. Nothing without ``out``."""
    if out is None:
        return
    import json

    from engine.atomic import write_text
    from engine.jsonable import json_safe

    write_text(Path(out) / SWEEP_EXTRAS, json.dumps(json_safe({"metric": metric, "dsr": dsr}), indent=1))


def sweep_report(out: str | None, path: str, *, result: Any, grid: Any, manifest: dict[str, Any], top: int) -> str:
    """Write ``bt sweep --report PATH`` from the stored sweep ``out`` or, without
    ``--out``, from the in-memory result; returns the line to tell the user."""
    from engine.report.sweep_figures import SweepData
    from engine.report.tearsheet import write_sweep_report

    t0 = time.perf_counter()
    dsr = result.dsr.to_dict() if result.dsr is not None else None
    if out is not None:
        written = write_sweep_report(out, path, metric=result.metric, top=top, dsr=dsr)
    else:
        data = SweepData(table=result.table, combos=grid.combos, manifest=manifest, metric=result.metric, dsr=dsr)
        written = write_sweep_report(data, path, metric=result.metric, top=top)
    return f"report: {written} ({written.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.2f} s)"


@click.command()
@click.argument("source", type=click.Path())
@click.option("-o", "--output", default=None, metavar="PATH",
              help="HTML file to write (default: <strategy>-<time>.html in the working directory).")
@click.option("--metric", default=None, help="Sweeps: metric that ranks the combinations (default: the sweep's).")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True,
              help="Sweeps: rows of the ranking table.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def report(source, output, metric, top, debug):
    """Rebuild an HTML report from SOURCE: a run saved with `bt run ... --save DIR`,
    or a sweep directory written by `bt sweep ... --out DIR`."""
    try:
        from engine.report.rundata import is_run_dir, load_run
        from engine.report.tearsheet import default_report_name, write_run_report, write_sweep_report

        src = Path(source)
        if not src.exists():
            raise ValueError(f"{source}: no such file or directory; give a directory written by "
                             "bt run --save or bt sweep --out")
        t0 = time.perf_counter()
        if is_run_dir(src):
            run = load_run(src)
            path = write_run_report(run, output or default_report_name(str(run.meta.get("strategy"))))
        elif (src / "_manifest.json").is_file():
            import json

            name = json.loads((src / "_manifest.json").read_text()).get("strategy") or "sweep"
            path = write_sweep_report(src, output or default_report_name(f"{name}-sweep"), metric=metric, top=top)
        else:
            raise ValueError(f"{source}: neither a saved run (run.json) nor a sweep directory (_manifest.json)")
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    click.echo(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.2f} s)")
