"""``bt run``: backtest a plugin on its data and print the metrics, the model's
out-of-sample quality and the signal funnel; write a tearsheet."""

from __future__ import annotations

import json
from typing import Any

import click

from mlbt.cli.errors import fail
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
    plugin_argument,
    plugin_bars,
    plugin_with_sets,
    retrain_option,
    set_option,
    symbols_option,
)
from mlbt.cli.progress import quiet_for, reporting
from mlbt.cli.tables import print_metrics, print_table
from mlbt.data.universe import is_universe
from mlbt.io import json_safe
from mlbt.report.formatting import bar_spacing, fmt, undefined
from mlbt.report.outputs import check_outputs, finish_run, run_report_path
from mlbt.settings import settings_text
from mlbt.sim import backtest
from mlbt.strategy import (
    bankrupt_notes,
    check_cross,
    few_trades_notes,
    funnel_lines,
    is_cross_sectional,
    is_pooled,
    make_signals,
    merged_funnel,
    prepare,
    prepare_assets,
    random_twins,
    resolve_allocation,
    signal_funnel,
    tradable_start,
    universe_signals,
)

SHOWN = 12  # a universe's assets named in the header line (the per-asset lines name them all)


@click.command()
@plugin_argument
@data_options
@symbols_option
@allocation_option
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
@click.option("--twins", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Also simulate N random-entry twins (the strategy's trades, holding times and sides at random "
                   "bars) and rank the strategy among them; 0: none.")
@click.option("--twins-seed", type=int, default=0, show_default=True, help="Seed of the twins' random entries.")
@output_options
def run(plugin: str, sets: tuple[str, ...], device: str, profile: str, retrain: bool, cache_dir: str | None,
        as_json: bool, report_path: str | None, no_report: bool, save_dir: str | None, quiet: bool, debug: bool,
        allocation: str | None, twins: int, twins_seed: int, **options: Any) -> None:
    """Backtest PLUGIN (a strategy file; it is code and runs as you) and print its metrics.

    With --symbols (or a source that is a universe) the plugin's rule runs on each
    asset's own features and walk-forward predictions, and the assets trade as one
    portfolio with shared cash, each entry sized by --allocation.

    With --twins N the strategy also runs against N random-entry twins: its own trades,
    holding times and sides at random bars, so its percentile among them says whether
    its timing beats chance at the same exposure."""
    try:
        strategy = plugin_with_sets(plugin, sets)
        given = given_settings(options)
        engine = engine_settings(strategy, given)
        allocation = resolve_allocation(strategy, allocation)
        report_path = run_report_path(strategy.name, report_path, no_report, as_json)
        check_outputs(report=report_path, save=save_dir, cache_dir=cache_dir, model=bool(strategy.network))
        source = options["source"] or strategy.data
        with reporting(quiet_for(quiet, as_json)):
            bars, data_warnings = plugin_bars(strategy, options)
        if is_cross_sectional(strategy):  # before any training: a universe, and weights as targets
            check_cross(strategy, bars, engine.size_type)
        if is_universe(bars):
            if twins:
                raise ValueError("--twins: random-entry twins of a universe portfolio are not supported yet; run "
                                 "one asset with --symbol ASSET --twins N, or drop --twins")
            if given.get("cash_sharing") is False:
                raise ValueError("--no-cash-sharing: a run over a universe is one portfolio with shared cash; "
                                 "run each asset on its own cash with --symbol ASSET, or drop --no-cash-sharing")
            engine = engine_settings(strategy, {**given, "cash_sharing": True})
            with reporting(quiet_for(quiet, as_json)):
                ready = prepare_assets(strategy, bars, device=device, profile=profile, cache_dir=cache_dir,
                                       retrain=retrain)
            result = backtest(bars, universe_signals(strategy, bars, ready, allocation=allocation, engine=engine),
                              **engine)
            per_ml = {a: m for a, p in ready.items() if p is not None and (m := strategy.ml_metrics(p.ctx))}
            first = result.stats.iloc[0] if result.stats.ndim == 2 else result.stats
            funnel = merged_funnel([signal_funnel(strategy, p.ctx) for p in ready.values() if p is not None])
            notes = [*few_trades_notes(strategy, int(first["trades"]), funnel, plugin, bars="asset-bars"),
                     *bankrupt_notes(first.to_dict(), bars.index)]
            written = finish_run(report=report_path, save=save_dir, strategy=strategy, bars=bars, result=result,
                                 prepared=ready, ml=per_ml, source=source, symbol=None, engine=engine, device=device,
                                 allocation=allocation, notes=notes)
            _universe_output(strategy, bars, source, engine, allocation, ready, result, per_ml, data_warnings,
                             written, as_json, quiet, notes)
            return
        with reporting(quiet_for(quiet, as_json)):
            prepared = prepare(strategy, bars, device=device, profile=profile, cache_dir=cache_dir, retrain=retrain)
        signals = make_signals(strategy, prepared.ctx)
        result = backtest(bars, signals, **engine)
        twin = None
        if twins:
            with reporting(quiet_for(quiet, as_json)):
                twin = random_twins(bars, result, signals, engine, twins, seed=twins_seed,
                                    start=tradable_start(signals, prepared.folds))
        ml = strategy.ml_metrics(prepared.ctx)
        funnel = signal_funnel(strategy, prepared.ctx)
        first = result.stats.iloc[0] if result.stats.ndim == 2 else result.stats
        notes = [*few_trades_notes(strategy, int(first["trades"]), funnel, plugin),
                 *bankrupt_notes(first.to_dict(), bars.index)]
        written = finish_run(report=report_path, save=save_dir, strategy=strategy, bars=bars, result=result,
                             prepared=prepared, ml=ml, source=source, symbol=options["symbol"], engine=engine,
                             device=device, funnel=funnel, notes=notes, twins=twin)
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    stats = result.stats
    if stats.ndim == 2:  # a plugin that emits several columns: show the first
        stats = stats.iloc[0]
    if as_json:
        _echo_json({**_json_head(strategy, bars, source, engine, data_warnings), "model": prepared.model,
                    "cache_hit": prepared.cache_hit, "folds": prepared.folds, "stats": stats.to_dict(),
                    "undefined": undefined(stats.to_dict()), "ml": ml, "funnel": funnel, "notes": notes,
                    "twins": twin.to_dict() if twin is not None else None}, written, quiet)
        return
    label = _warn_and_label(bars, data_warnings, quiet)
    click.echo(f"{strategy!r} on {source}{label}: {len(bars):,} bars {bars.index[0]} .. {bars.index[-1]}, "
               f"fill={engine.fill}, fee={engine.fee}")
    click.echo(f"engine: {settings_text(engine.to_dict())}")
    if prepared.model is not None:
        origin = "from cache" if prepared.cache_hit else "trained now"
        click.echo(f"model: {prepared.model['network']} ({prepared.model['profile']} profile), "
                   f"{len(prepared.folds)} walk-forward folds, {origin}")
    print_metrics(stats.to_dict(), ml, bar=bar_spacing(bars.index), index=bars.index)
    if twin is not None:
        click.echo(twins_line(twin))
    for line in (*funnel_lines(funnel), *(f"note: {n}" for n in notes), *written):
        click.echo(line)


def twins_line(twin: Any) -> str:
    """The printed line of ``bt run --twins``: where the strategy ranks among its twins."""
    d = twin.to_dict()
    if not twin.trades:
        return f"twins: {d['verdict']}"
    sharpe, ret = (lambda v: fmt(v, "sharpe")), (lambda v: fmt(v, "total_return"))
    return (f"random-entry twins ({twin.n:,}, {twin.trades:,} trades each, seed {twin.seed}): Sharpe "
            f"{sharpe(twin.strategy_sharpe)} vs twins' median {sharpe(d['median_sharpe'])} (5-95% "
            f"{sharpe(d['band_sharpe'][0])} .. {sharpe(d['band_sharpe'][1])}), return {ret(twin.strategy_return)} "
            f"above {d['percentile_return']:.0f}% of them; {d['verdict']}")


def _json_head(strategy: Any, bars: Any, source: str, engine: Any, data_warnings: list[str]) -> dict[str, Any]:
    """The fields of ``bt run --json`` every run has: what ran, on what, with what settings."""
    return {"strategy": strategy.name, "params": strategy.values, "data": source,
            "synthetic": bool(bars.attrs.get("synthetic")), "bars": len(bars), "start": str(bars.index[0]),
            "end": str(bars.index[-1]), "engine": engine.to_dict(), "fill": engine.fill, "fee": engine.fee,
            "data_warnings": data_warnings}


def _echo_json(doc: dict[str, Any], written: list[str], quiet: bool) -> None:
    """The run as one JSON document on stdout; what it wrote as lines on stderr."""
    click.echo(json.dumps(json_safe(doc), default=str))
    for line in written if not quiet else ():
        click.echo(line, err=True)


def _warn_and_label(bars: Any, data_warnings: list[str], quiet: bool) -> str:
    """Print the data warnings (unless ``quiet``); the header's label of synthetic data."""
    if not quiet:
        for line in data_warnings:
            click.echo(f"warning: {line}", err=True)
    return " (SYNTHETIC data)" if bars.attrs.get("synthetic") else ""


def _universe_output(strategy: Any, bars: Any, source: str, engine: Any, allocation: str, ready: dict,
                     result: Any, ml: dict, data_warnings: list[str], written: list[str], as_json: bool,
                     quiet: bool, notes: list[str]) -> None:
    """What ``bt run`` prints for a universe: the first group's metrics and a line per asset."""
    names = [str(a) for a in ready]
    stats = result.stats.iloc[0] if result.stats.ndim == 2 else result.stats
    cols = [int(c) for c in (result.group_of == 0).nonzero()[0]]
    contribution = result.contributions.iloc[cols]
    trades = result.trades
    trades = trades[trades["group"] == result.groups[0]]
    per_asset = [{"asset": a, "flat": ready[a] is None, "contribution": float(contribution.iloc[k]),
                  "trades": int((trades["asset"].astype(str) == a).sum()), "ml": ml.get(a, {}),
                  "folds": len(ready[a].folds) if ready[a] is not None else 0,
                  "cache_hit": ready[a].cache_hit if ready[a] is not None else None}
                 for k, a in enumerate(names)]
    if as_json:
        _echo_json({**_json_head(strategy, bars, source, engine, data_warnings), "symbols": names,
                    "allocation": allocation, "stats": stats.to_dict(), "undefined": undefined(stats.to_dict()),
                    "assets": per_asset, "notes": notes}, written, quiet)
        return
    label = _warn_and_label(bars, data_warnings, quiet)
    shown = ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
    click.echo(f"{strategy!r} on {source}{label}: {len(names)} assets ({shown}), {len(bars):,} bars "
               f"{bars.index[0]} .. {bars.index[-1]}, shared cash, allocation {allocation}, fill={engine.fill}, "
               f"fee={engine.fee}")
    click.echo(f"engine: {settings_text(engine.to_dict())}")
    models = [p for p in ready.values() if p is not None and p.model is not None]
    if models and is_pooled(strategy):
        click.echo(f"model: {models[0].model['network']} ({models[0].model['profile']} profile), one pooled over "
                   f"{len(models)} assets, {max(len(p.folds) for p in models)} walk-forward folds, "
                   f"{'from cache' if models[0].cache_hit else 'trained now'}")
    elif models:
        hits = sum(bool(p.cache_hit) for p in models)
        click.echo(f"models: {models[0].model['network']} ({models[0].model['profile']} profile), one per asset, "
                   f"{sum(len(p.folds) for p in models)} walk-forward folds, {hits} of {len(models)} from cache")
    print_metrics(stats.to_dict(), {}, bar=bar_spacing(bars.index), index=bars.index)
    keys = list(dict.fromkeys(k for m in ml.values() for k, v in m.items() if not isinstance(v, dict)))[:3]
    skill = any(isinstance(m.get("skill"), dict) for m in ml.values())  # the verdict of mlbt.models.skill
    flat = any(row["flat"] for row in per_asset)
    print_table(["asset", "contribution", "trades", *keys, *["skill vs baseline"] * skill, *[""] * flat],
                [[row["asset"], fmt(row["contribution"], "total_return"), fmt(row["trades"], "trades"),
                  *(fmt(row["ml"].get(k), k) for k in keys),
                  *[(row["ml"].get("skill") or {}).get("verdict", "-")] * skill,
                  *["flat: no walk-forward fold" if row["flat"] else ""] * flat] for row in per_asset])
    for line in (*(f"note: {n}" for n in notes), *written):
        click.echo(line)

