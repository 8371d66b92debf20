"""``bt run``: backtest a plugin on its data and print the metrics, the model's
out-of-sample quality and the signal funnel; write a tearsheet."""

from __future__ import annotations

import json

import click

from mlbt.cli.common import fail, load_bars, parse_sets, repair_option
from mlbt.io import json_safe
from mlbt.report.outputs import check_outputs, finish_run, run_report_path
from mlbt.sim import backtest
from mlbt.strategy import funnel_lines, load_strategy, make_signals, prepare, signal_funnel


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


@click.command()
@click.argument("plugin", type=click.Path())
@click.option("--data", "source", default=None, help="Embedded sample name or file; default: the plugin's.")
@click.option("--symbol", default=None, help="Symbol to select in a multi-symbol file.")
@click.option("--start", default=None, help="First timestamp to use (inclusive).")
@click.option("--end", default=None, help="Last timestamp to use (inclusive).")
@click.option("--timeframe", default=None, help="Aggregate the bars first, e.g. 4h, 1D.")
@repair_option
@click.option("--fee", type=float, default=None, help="Fee per fill, fraction of notional (default: the plugin's).")
@click.option("--fixed-fee", type=float, default=0.0, show_default=True, help="Fee per fill, currency.")
@click.option("--slippage", type=float, default=0.0, show_default=True, help="Adverse fill move, fraction.")
@click.option("--cash", type=float, default=None, help="Initial cash (default: the plugin's, 100,000).")
@click.option("--fill", type=click.Choice(["next_open", "close"]), default="next_open", show_default=True)
@click.option("--sl", type=float, default=None, help="Stop-loss distance, fraction of entry price.")
@click.option("--tp", type=float, default=None, help="Take-profit distance, fraction of entry price.")
@click.option("--trail", is_flag=True, help="Make the stop-loss trailing.")
@click.option("--max-hold", type=int, default=None, help="Close after this many bars in a trade.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a strategy param.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where the model trains and predicts.")
@click.option("--profile", type=click.Choice(["auto", "fast", "full"]), default="auto", show_default=True,
              help="Network sizes: the seed's (full) or CPU-friendly (fast); auto = full on CUDA.")
@click.option("--retrain", is_flag=True, help="Ignore cached models and predictions; train again.")
@click.option("--cache-dir", default=None, help="Model/prediction cache (default $BT_CACHE_DIR or ~/.cache/bt).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--report", "report_path", default=None, metavar="PATH",
              help="HTML tearsheet to write (default: <strategy>-<time>.html here; none with --json unless given).")
@click.option("--no-report", is_flag=True, help="Write no HTML report.")
@click.option("--save", "save_dir", default=None, metavar="DIR",
              help="Save the results (Result.to_parquet + run metadata) for `bt report DIR`.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def run(plugin, source, symbol, start, end, timeframe, repair, fee, fixed_fee, slippage, cash, fill, sl, tp, trail,
        max_hold, sets, device, profile, retrain, cache_dir, as_json, report_path, no_report, save_dir, quiet, debug):
    """Backtest PLUGIN (a strategy file; it is code and runs as you) and print its metrics."""
    try:
        strategy = load_strategy(plugin, **parse_sets(sets))
        report_path = run_report_path(strategy.name, report_path, no_report, as_json)
        check_outputs(report=report_path, save=save_dir, cache_dir=cache_dir, model=bool(strategy.network))
        fee = strategy.fee if fee is None else fee
        cash = strategy.cash if cash is None else cash
        bars, data_warnings = load_bars(source or strategy.data, symbol=symbol, start=start, end=end,
                                        timeframe=timeframe, repair=repair)
        prepared = prepare(strategy, bars, device=device, profile=profile, cache_dir=cache_dir, retrain=retrain,
                           quiet=quiet)
        signals = make_signals(strategy, prepared.ctx)
        result = backtest(bars, signals, fee=fee, fixed_fee=fixed_fee, slippage=slippage, cash=cash,
                          fill=fill, sl=sl, tp=tp, trail=trail, max_hold=max_hold)
        ml = strategy.ml_metrics(prepared.ctx)
        funnel = signal_funnel(strategy, prepared.ctx)
        written = finish_run(report=report_path, save=save_dir,
                             strategy=strategy, bars=bars, result=result, prepared=prepared, ml=ml,
                             source=source or strategy.data, symbol=symbol, fee=fee, fixed_fee=fixed_fee,
                             slippage=slippage, fill=fill, cash=cash, device=device, funnel=funnel)
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    stats = result.stats
    if stats.ndim == 2:  # a plugin that emits several columns: show the first
        stats = stats.iloc[0]
    if as_json:
        click.echo(json.dumps(json_safe({"strategy": strategy.name, "params": strategy.values,
                               "data": source or strategy.data, "synthetic": bool(bars.attrs.get("synthetic")),
                               "bars": len(bars), "start": str(bars.index[0]), "end": str(bars.index[-1]),
                               "fill": fill, "fee": fee, "data_warnings": data_warnings,
                               "model": prepared.model, "cache_hit": prepared.cache_hit, "folds": prepared.folds,
                               "stats": stats.to_dict(), "ml": ml, "funnel": funnel}), default=str))
        for line in written if not quiet else ():
            click.echo(line, err=True)
        return
    if not quiet:
        for line in data_warnings:
            click.echo(f"warning: {line}", err=True)
    label = " (SYNTHETIC data)" if bars.attrs.get("synthetic") else ""
    click.echo(f"{strategy!r} on {source or strategy.data}{label}: {len(bars):,} bars "
               f"{bars.index[0]} .. {bars.index[-1]}, fill={fill}, fee={fee}")
    if prepared.model is not None:
        origin = "cache" if prepared.cache_hit else "trained now"
        click.echo(f"model: {prepared.model['network']} ({prepared.model['profile']} profile), "
                   f"{len(prepared.folds)} walk-forward folds, {origin}")
    rows = [(k, _fmt(v)) for k, v in stats.items()]
    ml_rows = [(k, _fmt(v)) for k, v in ml.items()]
    width = max(len(k) for k, _ in rows + ml_rows)
    vwidth = max(len(v) for _, v in rows)
    left = [f"{k:<{width}}  {v:>{vwidth}}" for k, v in rows]
    right = [f"{k:<{width}}  {v}" for k, v in ml_rows]
    if right:
        left = [f"{'trading':<{width + vwidth + 2}}"] + left
        right = ["model (out of sample)"] + right
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else " " * (width + vwidth + 2)
        b = right[i] if i < len(right) else ""
        click.echo(f"{a}    {b}".rstrip())
    for line in funnel_lines(funnel):
        click.echo(line)
    for line in written:
        click.echo(line)


