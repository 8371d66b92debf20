"""``bt sweep``: run a grid of plugin and engine params, rank the combinations, report
the Deflated Sharpe Ratio of the best one or a walk-forward optimization."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import click
import numpy as np

from mlbt.cli.errors import USER_ERRORS, fail
from mlbt.cli.options import (
    allocation_option,
    cache_option,
    data_options,
    engine_options,
    engine_settings,
    given_settings,
    json_option,
    model_options,
    output_options,
    parse_sets,
    plugin_argument,
    plugin_bars,
    retrain_option,
    symbols_option,
)
from mlbt.cli.progress import quiet_for, reporting
from mlbt.cli.tables import print_table
from mlbt.data.universe import assets, symbol_list
from mlbt.io import json_safe
from mlbt.report.formatting import bar_spacing, fmt, param_text
from mlbt.report.outputs import check_outputs, save_sweep_extras, sweep_report
from mlbt.settings import SWEEPABLE
from mlbt.strategy import load_strategy, resolve_allocation
from mlbt.sweep import RETURN_BLOCKS, DaskExecutor, SweepResult, SweepStore, build_grid, run_sweep


def _table(rows: list[dict], columns: list[str], params: list[str], bar: Any,
           key_of: dict[str, str] | None = None) -> None:
    """Print ``rows``: params as given, metrics by the reports' formatting rules (a
    column formatted as the metric ``key_of[column]`` names, else as itself)."""
    key_of = key_of or {}
    cells = [[param_text(r.get(c)) if c in params else fmt(r.get(c), key_of.get(c, c), bar=bar) for c in columns]
             for r in rows]
    print_table(columns, cells, left=0)


@click.command()
@plugin_argument
@click.option("--grid", "grids", multiple=True, metavar="NAME=SPEC",
              help="A swept param: NAME=v1,v2,... or NAME=start:stop:step (stop included). Plugin params and the "
                   f"engine settings {', '.join(SWEEPABLE)} ('none' = off: no stop, no limit). Repeat per param.")
@click.option("--random", "random_n", type=click.IntRange(min=1), default=None,
              help="Run N combinations drawn at random.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --random.")
@click.option("--constraint", "constraints", multiple=True, metavar="EXPR",
              help='Keep combinations where EXPR holds, e.g. "fast < slow". Repeatable.')
@data_options
@symbols_option
@allocation_option
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Fix a plugin param (not swept).")
@engine_options
@click.option("--metric", default="sharpe", show_default=True, help="Metric that ranks the combinations.")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True, help="Rows of the ranking to print.")
@click.option("--min-trades", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Rank only combinations with at least N trades (each still counts as a trial of the DSR).")
@click.option("--out", default=None, metavar="DIR",
              help="Store results here as Parquet parts + manifest (a Parquet dataset directory).")
@click.option("--resume", is_flag=True, help="Continue the interrupted sweep stored in --out.")
@click.option("--memory-budget", type=click.FloatRange(min=0, min_open=True), default=1024.0,
              show_default=True, metavar="MB",
              help="Working memory of one chunk of columns; sets the chunk size.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=None,
              help="Columns per chunk (overrides --memory-budget).")
@click.option("--pbo-blocks", type=click.IntRange(min=0), default=RETURN_BLOCKS, show_default=True, metavar="S",
              help="Blocks of the probability of backtest overfitting (CSCV over C(S, S/2) splits; even); 0: none.")
@click.option("--walk-forward", "walk_forward", type=click.IntRange(min=1), default=None, metavar="K",
              help="Walk-forward optimization over K folds: choose by --metric in-sample (anchored), report "
                   "the out-of-sample folds stitched together.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where chunks run: this process, or a Dask cluster.")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler to use (else a LocalCluster).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the LocalCluster (default: cores).")
@model_options
@retrain_option
@cache_option
@json_option("the summary")
@click.option("--report", "report_path", default=None, metavar="PATH", help="Also write an HTML sweep report.")
@output_options
def sweep(plugin: str, grids: tuple[str, ...], random_n: int | None, seed: int, constraints: tuple[str, ...],
          sets: tuple[str, ...], metric: str, top: int, out: str | None, resume: bool, memory_budget: float,
          chunk_size: int | None, walk_forward: int | None, executor: str, scheduler: str | None,
          workers: int | None, device: str, profile: str, retrain: bool, cache_dir: str | None, as_json: bool,
          report_path: str | None, quiet: bool, debug: bool, allocation: str | None, min_trades: int,
          pbo_blocks: int, **options: Any) -> None:
    """Sweep PLUGIN's params (a strategy file; it is code and runs as you) and rank them.

    Signal params become engine columns over one set of cached predictions; each
    distinct value of a model param (model=True) trains its own walk-forward models.
    With --symbols each combination is a portfolio of the universe's assets with
    shared cash: params x assets are the engine columns, a row is a portfolio.
    Example: bt sweep strategies/sma_cross.py --grid fast=5:50:5 --grid slow=20:200:10
    --grid fee=0.0005,0.001 --constraint "fast < slow" --out sweep.parquet
    """
    ex = None
    try:
        if executor != "dask" and (scheduler or workers):
            raise ValueError("--scheduler and --workers need --executor dask")
        if scheduler and workers:
            raise ValueError("--workers sizes the LocalCluster bt starts; a --scheduler's cluster has its own")
        if resume and not out:
            raise ValueError("--resume needs --out (the directory of the sweep to continue)")
        params = parse_sets(sets)
        strategy = load_strategy(plugin, **params)
        given = given_settings(options)
        names = [g.split("=", 1)[0].strip() for g in grids]
        for name in given:
            if name in names and name not in strategy.params:
                raise ValueError(f"--{name.replace('_', '-')} and --grid {name}=...: give one")
        engine = engine_settings(strategy, given)
        allocation = resolve_allocation(strategy, allocation)
        check_outputs(report=report_path, out=out, cache_dir=cache_dir, model=bool(strategy.network))
        fixed = {**strategy.values, **{k: v for k, v in engine.items() if isinstance(v, int | float)}}
        grid = build_grid(grids, strategy.params, constraints=constraints, fixed=fixed, random=random_n, seed=seed)
        source = options["source"] or strategy.data
        with reporting(quiet_for(quiet, as_json)):
            bars, data_warnings = plugin_bars(strategy, options)
        if executor == "dask":
            ex = DaskExecutor(scheduler=scheduler, workers=workers)
        with reporting(quiet_for(quiet, as_json)):
            result = run_sweep(
                plugin, grid, bars, params=params, engine=engine, metric=metric, out=out, resume=resume,
                memory_budget_mb=memory_budget, chunk_size=chunk_size, executor=ex, walk_forward=walk_forward,
                prepare_options=dict(device=device, profile=profile, cache_dir=cache_dir, retrain=retrain),
                data_name=source, allocation=allocation, min_trades=min_trades, pbo_blocks=pbo_blocks)
    except KeyboardInterrupt:
        click.echo(f"sweep interrupted{_stored(out)}", err=True)
        sys.exit(130)
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc, (*USER_ERRORS, TypeError))
    finally:
        if ex is not None:
            ex.close()
    _report(result, strategy, grid, bars, source, data_warnings, top, as_json, quiet, allocation)
    try:
        save_sweep_extras(out, metric, result.dsr.to_dict() if result.dsr is not None else None,
                          result.pbo.to_dict() if result.pbo is not None else None)
        if report_path:
            line = sweep_report(out, report_path, result=result, grid=grid, top=top, manifest={
                "strategy": strategy.name, "data": source, "bars": len(bars),
                "start": str(bars.index[0]), "end": str(bars.index[-1]), **grid.spec, "combos": len(grid),
                "engine": engine.to_dict(), "walk_forward": walk_forward})
            if not (as_json and quiet):  # as bt run: with --json the line is stderr chatter
                click.echo(line, err=as_json)
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)


def _stored(out: str | None) -> str:
    """Where an interrupted sweep's finished chunks are, for the message."""
    store = SweepStore(out) if out else None
    if store is None or not store.manifest_path.exists():
        return ""
    return (f": {len(store.done())} of {store.read_manifest().get('chunks')} chunks stored in {out}; "
            "continue with --resume")


def _report(result: SweepResult, strategy: Any, grid: Any, bars: Any, data_name: str, data_warnings: list[str],
            top: int, as_json: bool, quiet: bool, allocation: str) -> None:
    metric = result.metric
    params = list(grid.combos.columns)
    shown = ["combo", *params, *dict.fromkeys([metric, "sharpe", "psr", "total_return", "max_drawdown", "trades"])]
    ranked = result.top(top) if result.walk_forward is None else None
    rows = []
    if ranked is not None:
        for r in ranked.to_dict("records"):
            rows.append({k: r[k] for k in shown} | {p: grid.combos[p].iat[int(r["combo"])] for p in params})
    busy = result.elapsed - (result.prepare_seconds or 0.0)
    rate = result.computed_combos / busy if busy > 0 else math.nan
    prep = f" (features/models: {result.prepare_seconds:.1f} s)" if result.prepare_seconds else ""
    symbols = [str(a) for a in assets(bars)]
    bar = bar_spacing(bars.index)
    if as_json:
        wf = None
        if result.walk_forward is not None:
            wf = {k: v for k, v in result.walk_forward.items() if k != "equity"}
        click.echo(json.dumps(json_safe({
            "strategy": strategy.name, "data": data_name, "synthetic": bool(bars.attrs.get("synthetic")),
            "bars": len(bars), "start": str(bars.index[0]), "end": str(bars.index[-1]),
            "combinations": len(grid), "grid_total": grid.total, "chunks": result.chunks,
            "chunk_size": result.chunk_size, "computed_chunks": result.computed, "skipped_chunks": result.skipped,
            "elapsed_s": result.elapsed, "combos_per_s": rate, "metric": metric,
            "out": str(result.out) if result.out else None, "data_warnings": data_warnings,
            "top": rows, "best": result.best, "dsr": result.dsr.to_dict() if result.dsr else None,
            "pbo": result.pbo.to_dict() if result.pbo is not None else None,
            "walk_forward": wf, "min_trades": result.min_trades,
            "symbols": symbols or None, "allocation": allocation if symbols else None})))
        return
    if not quiet:
        for line in data_warnings:
            click.echo(f"warning: {line}", err=True)
    label = " (SYNTHETIC data)" if bars.attrs.get("synthetic") else ""
    if symbols:
        label += (f", {len(symbols)} assets ({symbol_list(symbols)}) as one portfolio per combination, shared "
                  f"cash, allocation {allocation}")
    click.echo(f"{strategy.name} on {data_name}{label}: {len(bars):,} bars {bars.index[0]} .. {bars.index[-1]}; "
               f"{len(grid):,} combinations ({grid.total:,} in the full grid) in {result.chunks} chunks of "
               f"{result.chunk_size:,}; {result.elapsed:.1f} s{prep}, {rate:,.0f} combos/s")
    if result.out is not None:
        resumed = f" (resumed: {result.skipped} chunks were stored, {result.computed} computed)" if result.skipped \
            else ""
        click.echo(f"results: {result.out}{resumed}")
    if result.walk_forward is not None:
        wf = result.walk_forward
        folds = wf["folds"]
        click.echo(f"walk-forward optimization, {len(folds) + 1} folds (in-sample: all bars before the fold; "
                   f"chosen by {metric}); out-of-sample only:")
        frows = [{"fold": f["fold"], "out-of-sample from": f["out_of_sample"][0][:19],
                  "to": f["out_of_sample"][1][:19], "combo": f["combo"], **f["params"],
                  f"IS {metric}": f[f"in_sample_{metric}"], "OOS return": f["out_of_sample_return"]} for f in folds]
        _table(frows, list(frows[0]), params, bar, {f"IS {metric}": metric, "OOS return": "return"})
        s = wf["stats"]
        click.echo(f"stitched out-of-sample ({wf['bars']:,} bars): total_return {fmt(s['total_return'], 'return')}, "
                   f"sharpe {fmt(s['sharpe'], 'sharpe')}, max_drawdown {fmt(s['max_drawdown'], 'max_drawdown')}, "
                   f"trades {fmt(s['trades'], 'trades')}")
        return
    click.echo(f"top {len(rows)} by {metric}:")
    _table(rows, shown, params, bar)
    if result.dsr is not None and result.best is not None:
        d = result.dsr
        uncounted = len(result.table) - d.trials
        why = (f" (every combination with a Sharpe ratio; {uncounted:,} of {len(result.table):,} have none: a flat "
               "equity curve, no trade)" if uncounted else " (every combination)")
        click.echo(f"Deflated Sharpe Ratio of combo {result.best['combo']}: {d.dsr:.4f} (per-bar SR {d.sharpe:.5f} "
                   f"vs {d.sharpe_0:.5f}, the expected best of {d.trials:,} trials{why} under the null; returns: "
                   f"skew {d.skew:.3f}, excess kurtosis {d.kurtosis - 3:.2f}, {d.observations:,} bars)")
    if result.pbo is not None:
        click.echo(pbo_line(result.pbo))


def pbo_line(pbo: Any) -> str:
    """The printed line of a sweep's probability of backtest overfitting."""
    g = pbo.degradation
    slope = f"{g.slope:.2f}" if np.isfinite(g.slope) else "-"
    return (f"Probability of backtest overfitting: {pbo.pbo:.2f} (CSCV, {pbo.blocks} blocks, {pbo.combinations:,} "
            f"in/out-of-sample splits of {pbo.columns:,} combinations: the in-sample best ranked at or below the "
            f"out-of-sample median in {pbo.pbo:.0%} of them; its out-of-sample Sharpe was negative in "
            f"{g.prob_oos_loss:.0%}, slope of out- on in-sample Sharpe {slope}): "
            + ("picking the in-sample best did no better than a random pick out of sample" if pbo.pbo >= 0.5 else
               "the in-sample best stayed above the out-of-sample median more often than not"))
