"""``bt report``: rebuild a run's tearsheet or a sweep's report from what was saved."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from mlbt.cli.errors import fail
from mlbt.cli.options import output_options
from mlbt.cli.tables import print_metrics
from mlbt.report import RunData, default_report_name, is_run_dir, load_run, write_run_report, write_sweep_report
from mlbt.report.formatting import bar_spacing, fmt


@click.command()
@click.argument("source", type=click.Path())
@click.option("-o", "--output", default=None, metavar="PATH",
              help="HTML file to write (default: <strategy>-<time>.html in the working directory).")
@click.option("--metric", default=None, help="Sweeps: metric that ranks the combinations (default: the sweep's).")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True,
              help="Sweeps: rows of the ranking table.")
@output_options
def report(source: str, output: str | None, metric: str | None, top: int, quiet: bool, debug: bool) -> None:
    """Rebuild an HTML report from SOURCE: a run saved with `bt run ... --save DIR`,
    or a sweep directory written by `bt sweep ... --out DIR`. Prints a saved run's
    metrics and the path written (it has no progress to silence: --quiet is accepted
    as on every command)."""
    run: RunData | None = None
    try:
        src = Path(source)
        if not src.exists():
            raise ValueError(f"{source}: no such file or directory; give a directory written by "
                             "bt run --save or bt sweep --out")
        t0 = time.perf_counter()
        if is_run_dir(src):
            run = load_run(src)
            path = write_run_report(run, output or default_report_name(str(run.meta.get("strategy"))))
        elif (src / "_manifest.json").is_file():
            name = json.loads((src / "_manifest.json").read_text()).get("strategy") or "sweep"
            path = write_sweep_report(src, output or default_report_name(f"{name}-sweep"), metric=metric, top=top)
        else:
            raise ValueError(f"{source}: neither a saved run (run.json) nor a sweep directory (_manifest.json)")
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    if run is not None:
        m = run.meta
        click.echo(f"{m.get('strategy')} on {m.get('data')}: {fmt(m.get('bars'), 'bars')} bars "
                   f"{m.get('start')} .. {m.get('end')}")
        ml = {} if run.is_universe else run.ml  # a universe's are per asset: its tearsheet tables them
        print_metrics(run.stats, ml, bar=bar_spacing(run.equity.index), index=run.equity.index)
    click.echo(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.2f} s)")
