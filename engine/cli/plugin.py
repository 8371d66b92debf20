"""``bt check``, ``bt signal`` and ``bt train``: a plugin's audit, its latest decision,
and its models."""

from __future__ import annotations

import json
import sys

import click
import numpy as np

from mlbt.cli.common import fail, load_bars, parse_sets, repair_option
from mlbt.io import json_safe
from mlbt.sim import backtest
from mlbt.strategy import audit, load_strategy, make_signals, prepare

_common = [
    click.argument("plugin", type=click.Path()),
    click.option("--data", "source", default=None, help="Sample name, file or synthetic: spec; default: the plugin's."),
    click.option("--symbol", default=None, help="Symbol to select in a multi-symbol file."),
    click.option("--start", default=None, help="First timestamp (inclusive)."),
    click.option("--end", default=None, help="Last timestamp (inclusive)."),
    click.option("--timeframe", default=None, help="Aggregate the bars first, e.g. 4h."),
    repair_option,
    click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a strategy param."),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
    click.option("--profile", type=click.Choice(["auto", "fast", "full"]), default="auto", show_default=True),
    click.option("--quiet", is_flag=True, help="No progress output."),
    click.option("--debug", is_flag=True, help="Show tracebacks."),
]


def common(fn):
    for option in reversed(_common):
        fn = option(fn)
    return fn


def _strategy_and_bars(plugin, source, symbol, start, end, timeframe, repair, sets):
    strategy = load_strategy(plugin, **parse_sets(sets))
    bars, _ = load_bars(source or strategy.data, symbol=symbol, start=start, end=end, timeframe=timeframe,
                        repair=repair)
    return strategy, bars


@click.command()
@common
@click.option("--cuts", type=click.IntRange(min=1), default=5, show_default=True,
              help="Cut points that retrain the model on the prefix.")
@click.option("--rule-cuts", type=click.IntRange(min=0), default=200, show_default=True,
              help="More cut points that rerun only the features and the signal rule (cheap).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict of each stage as one JSON object.")
def check(plugin, source, symbol, start, end, timeframe, repair, sets, device, profile, quiet, debug, cuts, rule_cuts,
          as_json):
    """No-lookahead audit of PLUGIN: features, predictions and signals (with the rule's
    conditions and details) at bar t must not change when the bars after t are removed.
    One line per stage; exit 1 on failure.

    Models are retrained on each of --cuts prefixes (nothing cached is reused); shrink
    them for a quick audit with e.g. --set epochs=1."""
    try:
        strategy, bars = _strategy_and_bars(plugin, source, symbol, start, end, timeframe, repair, sets)
        stages = audit(strategy, bars, cuts=cuts, rule_cuts=rule_cuts, device="cpu" if device == "auto" else device,
                       profile="fast" if profile == "auto" else profile, quiet=quiet)
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    if as_json:
        click.echo(json.dumps({"strategy": strategy.name, "passed": all(s.passed for s in stages), "stages": [
            {"stage": s.stage, "passed": s.passed, "cuts": s.cuts, "compared": s.compared,
             "failures": [{"cut_bar": t, "cut_time": str(bars.index[t]), "column": col, "first_changed": when}
                          for t, col, when in s.failures]} for s in stages]}))
        sys.exit(0 if all(s.passed for s in stages) else 1)
    for s in stages:
        if s.passed:
            click.echo(f"PASS  {s.stage:<12} {s.cuts} cut points, {s.compared:,} values unchanged")
        else:
            t, col, when = s.failures[0]
            failed = len({cut for cut, _, _ in s.failures})
            click.echo(f"FAIL  {s.stage:<12} {failed} of {s.cuts} cut points changed a value; first: {col!r} at {when} "
                       f"when the data was cut after bar {t} ({bars.index[t]}): it uses later data")
    if not all(s.passed for s in stages):
        sys.exit(1)


@click.command()
@common
@click.option("--cache-dir", default=None, help="Model/prediction cache directory.")
@click.option("--json", "as_json", is_flag=True, help="Accepted for symmetry: the output is always JSON.")
def signal(plugin, source, symbol, start, end, timeframe, repair, sets, device, profile, quiet, debug, cache_dir,
           as_json):
    """The latest bar's decision of PLUGIN as one JSON object."""
    try:
        strategy, bars = _strategy_and_bars(plugin, source, symbol, start, end, timeframe, repair, sets)
        prepared = prepare(strategy, bars, device=device, profile=profile, cache_dir=cache_dir, quiet=quiet)
        ctx = prepared.ctx
        signals = make_signals(strategy, ctx)
        details = strategy.details(ctx)
        trades = backtest(bars, signals).trades
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    target = signals.target.iloc[:, 0]
    # the rule's decision at the last bar: with reentry a bar without an explicit signal is
    # neutral (0); otherwise a NaN target keeps the standing one
    decision = target.fillna(0.0) if signals.reentry else target.ffill().fillna(0.0)
    held = trades[(trades["col"] == 0) & trades["is_open"]]

    def last(values):
        v = float(np.asarray(values, dtype="float64").ravel()[-1]) if values is not None else float("nan")
        return v if np.isfinite(v) else None

    predicted, threshold = last(details.get("predicted_price")), last(details.get("threshold"))
    current = float(bars["close"].iloc[-1])
    model_info = None
    if prepared.model is not None:
        from mlbt.models import PredictionCache  # mlbt.models loads torch: only for a model

        last_fold = prepared.folds[-1] if prepared.folds else None
        model_info = {
            "path": str(PredictionCache(cache_dir).path(prepared.cache_key) / "model.pt"),
            "network": prepared.model["network"], "profile": prepared.model["profile"],
            "last_trained": str(bars.index[last_fold["train_end"]]) if last_fold else None,
            "lookback": strategy.walk_forward().lookback, "folds": len(prepared.folds),
            "cache_hit": prepared.cache_hit,
        }
    out = {
        "timestamp": str(bars.index[-1]), "ticker": bars.attrs.get("symbol") or source or strategy.data,
        "strategy": strategy.name, "synthetic": bool(bars.attrs.get("synthetic")),
        "signal": int(decision.iloc[-1]),
        "position": int(1 if held["side"].iloc[0] == "long" else -1) if len(held) else 0,
        "position_since": str(held["entry_time"].iloc[0]) if len(held) else None,
        "confidence": last(details.get("confidence")),
        "predicted_price": predicted, "current_price": current,
        "price_difference": None if predicted is None else predicted - current, "threshold": threshold,
        "details": {k: last(v) for k, v in details.items() if k not in ("confidence", "predicted_price", "threshold")},
        "indicators": {k: (None if not np.isfinite(v) else float(v)) for k, v in ctx.features.iloc[-1].items()},
        "model_info": model_info,
    }
    click.echo(json.dumps(json_safe(out), default=str))


@click.command()
@common
@click.option("--cache-dir", default=None, help="Model/prediction cache directory.")
@click.option("--retrain/--no-retrain", default=True, show_default=True, help="Train even when cached.")
def train(plugin, source, symbol, start, end, timeframe, repair, sets, device, profile, quiet, debug, cache_dir,
          retrain):
    """Train PLUGIN's walk-forward models into the cache (or refresh them)."""
    try:
        strategy, bars = _strategy_and_bars(plugin, source, symbol, start, end, timeframe, repair, sets)
        if not strategy.network:
            raise ValueError(f"{strategy.name} has no model to train")
        prepared = prepare(strategy, bars, device=device, profile=profile, cache_dir=cache_dir, retrain=retrain,
                           quiet=quiet)
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    from mlbt.models import PredictionCache  # mlbt.models loads torch: only for a model

    click.echo(f"{strategy.name}: {len(prepared.folds)} folds, "
               f"{'from cache' if prepared.cache_hit else 'trained'}, "
               f"stored in {PredictionCache(cache_dir).path(prepared.cache_key)}")
