"""``bt check``, ``bt signal`` and ``bt train``: a plugin's audit, its latest decision,
and its models."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import numpy as np
import pandas as pd

from mlbt.cli.errors import fail
from mlbt.cli.options import (
    apply,
    cache_option,
    data_options,
    json_option,
    load_bars,
    model_options,
    output_options,
    plugin_argument,
    plugin_with_sets,
    set_option,
    symbols_option,
)
from mlbt.cli.progress import reporting
from mlbt.data.universe import asset_bars, assets
from mlbt.io import json_safe
from mlbt.sim import backtest
from mlbt.strategy import StageResult, Strategy, audit, make_signals, prepare

common = apply(plugin_argument, data_options, set_option, model_options, output_options)


def _strategy_and_bars(plugin: str, sets: tuple[str, ...], options: dict[str, Any]) -> tuple[Strategy, pd.DataFrame]:
    strategy = plugin_with_sets(plugin, sets)
    bars, _ = load_bars(options["source"] or strategy.data, symbol=options["symbol"], start=options["start"],
                        end=options["end"], timeframe=options["timeframe"], repair=options["repair"],
                        symbols=options.get("symbols"))
    return strategy, bars


def _stage_json(s: StageResult, index: pd.Index) -> dict[str, Any]:
    return {"stage": s.stage, "passed": s.passed, "cuts": s.cuts, "compared": s.compared,
            "failures": [{"cut_bar": t, "cut_time": str(index[t]), "column": col, "first_changed": when}
                         for t, col, when in s.failures]}


def _stage_line(s: StageResult, index: pd.Index, asset: str | None) -> str:
    who = f"{asset:<8} " if asset is not None else ""
    if s.passed:
        return f"PASS  {who}{s.stage:<12} {s.cuts} cut points, {s.compared:,} values unchanged"
    t, col, when = s.failures[0]
    failed = len({cut for cut, _, _ in s.failures})
    return (f"FAIL  {who}{s.stage:<12} {failed} of {s.cuts} cut points changed a value; first: {col!r} at {when} "
            f"when the data was cut after bar {t} ({index[t]}): it uses later data")


@click.command()
@common
@click.option("--cuts", type=click.IntRange(min=1), default=5, show_default=True,
              help="Cut points that retrain the model on the prefix.")
@click.option("--rule-cuts", type=click.IntRange(min=0), default=200, show_default=True,
              help="More cut points that rerun only the features and the signal rule (cheap).")
@symbols_option
@json_option("the verdict of each stage")
def check(plugin: str, sets: tuple[str, ...], device: str, profile: str, quiet: bool, debug: bool, cuts: int,
          rule_cuts: int, as_json: bool, **options: Any) -> None:
    """No-lookahead audit of PLUGIN: features, predictions and signals (with the rule's
    conditions and details) at bar t must not change when the bars after t are removed.
    One line per stage (per asset and stage with --symbols: each asset audited on its
    own bars); exit 1 on failure.

    Models are retrained on each of --cuts prefixes (nothing cached is reused); shrink
    them for a quick audit with e.g. --set epochs=1."""
    try:
        strategy, bars = _strategy_and_bars(plugin, sets, options)
        names: list[str | None] = list(assets(bars)) if options.get("symbols") else [None]
        audited: list[tuple[str | None, pd.DataFrame, list[StageResult]]] = []
        with reporting(quiet):
            for asset in names:
                own = asset_bars(bars, asset) if asset is not None else bars
                audited.append((asset, own, audit(strategy, own, cuts=cuts, rule_cuts=rule_cuts,
                                                  device="cpu" if device == "auto" else device,
                                                  profile="fast" if profile == "auto" else profile)))
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    passed = all(s.passed for _, _, stages in audited for s in stages)
    if as_json:
        doc: dict[str, Any] = {"strategy": strategy.name, "passed": passed}
        if names == [None]:
            doc["stages"] = [_stage_json(s, bars.index) for s in audited[0][2]]
        else:
            doc["assets"] = [{"asset": a, "passed": all(s.passed for s in stages),
                              "stages": [_stage_json(s, own.index) for s in stages]} for a, own, stages in audited]
        click.echo(json.dumps(doc))
        sys.exit(0 if passed else 1)
    for asset, own, stages in audited:
        for s in stages:
            click.echo(_stage_line(s, own.index, asset))
    if not passed:
        sys.exit(1)


@click.command()
@common
@cache_option
@click.option("--json", "as_json", is_flag=True, help="Accepted for symmetry: the output is always JSON.")
def signal(plugin: str, sets: tuple[str, ...], device: str, profile: str, quiet: bool, debug: bool,
           cache_dir: str | None, as_json: bool, **options: Any) -> None:
    """The latest bar's decision of PLUGIN as one JSON object."""
    try:
        strategy, bars = _strategy_and_bars(plugin, sets, options)
        with reporting(quiet):
            prepared = prepare(strategy, bars, device=device, profile=profile, cache_dir=cache_dir)
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

    def last(values: Any) -> float | None:
        v = float(np.asarray(values, dtype="float64").ravel()[-1]) if values is not None else float("nan")
        return v if np.isfinite(v) else None

    predicted, threshold = last(details.get("predicted_price")), last(details.get("threshold"))
    current = float(bars["close"].iloc[-1])
    model_info = None
    if prepared.model is not None:
        from mlbt.models import PredictionCache  # mlbt.models loads torch: only for a model

        last_fold = prepared.folds[-1] if prepared.folds else None
        model_info = {
            "path": str(PredictionCache(cache_dir).path(str(prepared.cache_key)) / "model.pt"),
            "network": prepared.model["network"], "profile": prepared.model["profile"],
            "last_trained": str(bars.index[last_fold["train_end"]]) if last_fold else None,
            "lookback": strategy.walk_forward().lookback, "folds": len(prepared.folds),
            "cache_hit": prepared.cache_hit,
        }
    out = {
        "timestamp": str(bars.index[-1]), "ticker": bars.attrs.get("symbol") or options["source"] or strategy.data,
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
@cache_option
@click.option("--retrain/--no-retrain", default=True, show_default=True, help="Train even when cached.")
def train(plugin: str, sets: tuple[str, ...], device: str, profile: str, quiet: bool, debug: bool,
          cache_dir: str | None, retrain: bool, **options: Any) -> None:
    """Train PLUGIN's walk-forward models into the cache (or refresh them)."""
    try:
        strategy, bars = _strategy_and_bars(plugin, sets, options)
        if not strategy.network:
            raise ValueError(f"{strategy.name} has no model to train")
        with reporting(quiet):
            prepared = prepare(strategy, bars, device=device, profile=profile, cache_dir=cache_dir, retrain=retrain)
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    from mlbt.models import PredictionCache  # mlbt.models loads torch: only for a model

    click.echo(f"{strategy.name}: {len(prepared.folds)} folds, "
               f"{'from cache' if prepared.cache_hit else 'trained'}, "
               f"stored in {PredictionCache(cache_dir).path(str(prepared.cache_key))}")
