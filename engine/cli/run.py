"""``bt run``: backtest a plugin on its data and print the metrics, the model's
out-of-sample quality and the signal funnel; write a tearsheet."""

from __future__ import annotations

import json
from typing import Any

import click

from mlbt.cli.errors import fail
from mlbt.cli.options import (
    cache_option,
    data_options,
    engine_options,
    engine_settings,
    given_settings,
    json_option,
    load_bars,
    model_options,
    output_options,
    plugin_argument,
    plugin_with_sets,
    retrain_option,
    set_option,
)
from mlbt.cli.progress import reporting
from mlbt.io import json_safe
from mlbt.report.outputs import check_outputs, finish_run, run_report_path
from mlbt.sim import backtest
from mlbt.strategy import funnel_lines, make_signals, prepare, signal_funnel


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


@click.command()
@plugin_argument
@data_options
@set_option
@engine_options
@model_options
@retrain_option
@cache_option
@json_option("the run (settings, metrics, model metrics, funnel)")
@click.option("--report", "report_path", default=None, metavar="PATH",
              help="HTML tearsheet to write (default: <strategy>-<time>.html here; none with --json unless given).")
@click.option("--no-report", is_flag=True, help="Write no HTML report.")
@click.option("--save", "save_dir", default=None, metavar="DIR",
              help="Save the results (Result.to_parquet + run metadata) for `bt report DIR`.")
@output_options
def run(plugin: str, sets: tuple[str, ...], device: str, profile: str, retrain: bool, cache_dir: str | None,
        as_json: bool, report_path: str | None, no_report: bool, save_dir: str | None, quiet: bool, debug: bool,
        **options: Any) -> None:
    """Backtest PLUGIN (a strategy file; it is code and runs as you) and print its metrics."""
    try:
        strategy = plugin_with_sets(plugin, sets)
        engine = engine_settings(strategy, given_settings(options))
        report_path = run_report_path(strategy.name, report_path, no_report, as_json)
        check_outputs(report=report_path, save=save_dir, cache_dir=cache_dir, model=bool(strategy.network))
        source = options["source"] or strategy.data
        bars, data_warnings = load_bars(source, symbol=options["symbol"], start=options["start"], end=options["end"],
                                        timeframe=options["timeframe"], repair=options["repair"])
        with reporting(quiet):
            prepared = prepare(strategy, bars, device=device, profile=profile, cache_dir=cache_dir, retrain=retrain)
        result = backtest(bars, make_signals(strategy, prepared.ctx), **engine)
        ml = strategy.ml_metrics(prepared.ctx)
        funnel = signal_funnel(strategy, prepared.ctx)
        written = finish_run(report=report_path, save=save_dir, strategy=strategy, bars=bars, result=result,
                             prepared=prepared, ml=ml, source=source, symbol=options["symbol"], engine=engine,
                             device=device, funnel=funnel)
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    stats = result.stats
    if stats.ndim == 2:  # a plugin that emits several columns: show the first
        stats = stats.iloc[0]
    if as_json:
        click.echo(json.dumps(json_safe({
            "strategy": strategy.name, "params": strategy.values, "data": source,
            "synthetic": bool(bars.attrs.get("synthetic")), "bars": len(bars), "start": str(bars.index[0]),
            "end": str(bars.index[-1]), "engine": engine.to_dict(), "fill": engine.fill, "fee": engine.fee,
            "data_warnings": data_warnings, "model": prepared.model, "cache_hit": prepared.cache_hit,
            "folds": prepared.folds, "stats": stats.to_dict(), "ml": ml, "funnel": funnel}), default=str))
        for line in written if not quiet else ():
            click.echo(line, err=True)
        return
    if not quiet:
        for line in data_warnings:
            click.echo(f"warning: {line}", err=True)
    label = " (SYNTHETIC data)" if bars.attrs.get("synthetic") else ""
    click.echo(f"{strategy!r} on {source}{label}: {len(bars):,} bars {bars.index[0]} .. {bars.index[-1]}, "
               f"fill={engine.fill}, fee={engine.fee}")
    if prepared.model is not None:
        origin = "cache" if prepared.cache_hit else "trained now"
        click.echo(f"model: {prepared.model['network']} ({prepared.model['profile']} profile), "
                   f"{len(prepared.folds)} walk-forward folds, {origin}")
    for line in (*_metric_lines(stats.to_dict(), ml), *funnel_lines(funnel), *written):
        click.echo(line)


def _metric_lines(stats: dict[str, Any], ml: dict[str, Any]) -> list[str]:
    """The trading metrics, with the model's out-of-sample metrics beside them."""
    rows = [(k, _fmt(v)) for k, v in stats.items()]
    ml_rows = [(k, _fmt(v)) for k, v in ml.items()]
    width = max(len(k) for k, _ in rows + ml_rows)
    vwidth = max(len(v) for _, v in rows)
    left = [f"{k:<{width}}  {v:>{vwidth}}" for k, v in rows]
    right = [f"{k:<{width}}  {v}" for k, v in ml_rows]
    if right:
        left = [f"{'trading':<{width + vwidth + 2}}"] + left
        right = ["model (out of sample)"] + right
    lines = []
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else " " * (width + vwidth + 2)
        b = right[i] if i < len(right) else ""
        lines.append(f"{a}    {b}".rstrip())
    return lines
