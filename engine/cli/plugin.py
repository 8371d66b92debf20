"""``bt check``, ``bt signal`` and ``bt train``: a plugin's audit, its latest decision,
and its models."""

from __future__ import annotations

import json
import sys
from typing import Any, cast

import click
import numpy as np
import pandas as pd

from mlbt.cli.crossval import cv_options, train_cv
from mlbt.cli.errors import fail
from mlbt.cli.options import (
    apply,
    cache_option,
    data_options,
    engine_settings,
    json_option,
    model_options,
    output_options,
    plugin_argument,
    plugin_bars,
    plugin_with_sets,
    set_option,
    symbols_option,
)
from mlbt.cli.progress import quiet_for, reporting
from mlbt.data.universe import asset_bars, assets, is_universe
from mlbt.io import json_safe
from mlbt.sim import PortfolioResult, backtest
from mlbt.strategy import (
    Prepared,
    StageResult,
    Strategy,
    audit,
    audit_cross,
    audit_pooled,
    is_cross_sectional,
    is_pooled,
    make_signals,
    prepare,
    prepare_assets,
    universe_signals,
)

CROSS_CUTS = 50  # cut points of the cross-sectional stage (features of every asset again at each)

common = apply(plugin_argument, data_options, set_option, model_options, output_options)


def _strategy_and_bars(plugin: str, sets: tuple[str, ...], options: dict[str, Any]) -> tuple[Strategy, pd.DataFrame]:
    strategy = plugin_with_sets(plugin, sets)
    bars, _ = plugin_bars(strategy, options)
    return strategy, bars


def _stage_json(s: StageResult, index: pd.Index) -> dict[str, Any]:
    return {"stage": s.stage, "passed": s.passed, "cuts": s.cuts, "compared": s.compared,
            "covered": [{"from_bar": a, "to_bar": b, "from_time": str(index[a]), "to_time": str(index[b]),
                         "cuts": k, "every_bar": 1 < k == b - a + 1} for a, b, k in s.covered],
            "failures": [{"cut_bar": t, "cut_time": str(index[t]), "column": col, "first_changed": when}
                         for t, col, when in s.failures]}


def _stage_line(s: StageResult, index: pd.Index, asset: str | None) -> str:
    who = f"{asset:<8} " if asset is not None else ""
    if s.passed:
        return f"PASS  {who}{s.stage:<12} {s.cuts} cut points, {s.compared:,} values unchanged ({s.coverage})"
    t, col, when = s.failures[0]
    failed = len({cut for cut, _, _ in s.failures})
    return (f"FAIL  {who}{s.stage:<12} {failed} of {s.cuts} cut points changed a value; first: {col!r} at {when} "
            f"when the data was cut after bar {t} ({index[t]}): it uses later data ({s.coverage})")


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
    own bars; a plugin that ranks assets with weights() also gets a cross-section
    stage over the universe, one with a pooled model a pooled-model stage); exit 1 on
    failure.

    Models are retrained on each of --cuts prefixes (nothing cached is reused); shrink
    them for a quick audit with e.g. --set epochs=1."""
    try:
        with reporting(quiet_for(quiet, as_json)):
            strategy, bars = _strategy_and_bars(plugin, sets, options)
        names: list[str | None] = list(assets(bars)) if is_universe(bars) else [None]
        audited: list[tuple[str | None, pd.DataFrame, list[StageResult]]] = []
        device, profile = "cpu" if device == "auto" else device, "fast" if profile == "auto" else profile
        with reporting(quiet_for(quiet, as_json)):
            for asset in names:
                own = asset_bars(bars, asset) if asset is not None else bars
                audited.append((asset, own, audit(strategy, own, cuts=cuts, rule_cuts=rule_cuts, device=device,
                                                  profile=profile)))
            universe: list[StageResult] = []  # stages of the universe as a whole
            if is_universe(bars) and is_pooled(strategy) and strategy.network:
                universe.append(audit_pooled(strategy, bars, cuts=cuts, device=device, profile=profile))
            if is_universe(bars) and is_cross_sectional(strategy):
                universe.append(audit_cross(strategy, bars, cuts=min(rule_cuts, CROSS_CUTS) or 1, device=device,
                                            profile=profile))
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    if universe:
        audited.append(("all", bars, universe))
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
@symbols_option
@click.option("--json", "as_json", is_flag=True, help="Accepted for symmetry: the output is always JSON.")
def signal(plugin: str, sets: tuple[str, ...], device: str, profile: str, quiet: bool, debug: bool,
           cache_dir: str | None, as_json: bool, **options: Any) -> None:
    """The latest bar's decision of PLUGIN as one JSON object (with --symbols: an entry
    per asset, and the shared-cash portfolio's positions and weights)."""
    try:
        with reporting(quiet_for(quiet, True)):  # its output is always JSON
            strategy, bars = _strategy_and_bars(plugin, sets, options)
            if is_universe(bars):
                ready = prepare_assets(strategy, bars, device=device, profile=profile, cache_dir=cache_dir)
                engine = engine_settings(strategy, {"cash_sharing": True})  # the plugin's own settings
                signals = universe_signals(strategy, bars, ready, engine=engine)
                result = cast(PortfolioResult, backtest(bars, signals, **engine))
            else:
                prepared = prepare(strategy, bars, device=device, profile=profile, cache_dir=cache_dir)
                signals = make_signals(strategy, prepared.ctx)
                # the plugin's own settings, as bt run has them (its stops decide the position held; its
                # periods_per_year lets one bar go without an inferred frequency)
                trades = backtest(bars, signals, **engine_settings(strategy, {})).trades
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    if not is_universe(bars):
        out = _decision(strategy, bars, prepared, signals.target.iloc[:, 0], bool(signals.reentry),
                        trades[(trades["col"] == 0) & trades["is_open"]], cache_dir,
                        bars.attrs.get("symbol") or options["source"] or strategy.data)
        click.echo(json.dumps(json_safe(out), default=str))
        return
    held = result.trades
    held = held[held["is_open"] & (held["group"] == result.groups[0])]
    entries = []
    for k, asset in enumerate(assets(bars)):
        own = asset_bars(bars, asset)
        target = signals.target.iloc[:, k].reindex(own.index)
        if ready[asset] is None:
            entries.append({"asset": asset, "timestamp": str(own.index[-1]), "flat": True,
                            "reason": "no walk-forward fold on its bars", "signal": 0, "position": 0})
            continue
        entries.append({"asset": asset, **_decision(strategy, own, ready[asset], target, bool(signals.reentry),
                                                    held[held["asset"].astype(str) == str(asset)], cache_dir,
                                                    str(asset))})
    cols = np.flatnonzero(result.group_of == 0)
    weight, value = result.weight.iloc[-1, cols], result.value.iloc[-1, cols]
    names = [str(a) for a in result.asset_of.take(cols)]
    portfolio = {
        "timestamp": str(bars.index[-1]), "equity": float(np.asarray(result.equity)[-1].ravel()[0]),
        "cash": float(np.asarray(result.cash)[-1].ravel()[0]),
        "positions": {a: {"units": float(u), "side": side, "since": str(t)} for a, u, side, t in
                      zip(held["asset"].astype(str), held["size"], held["side"], held["entry_time"], strict=True)},
        "values": dict(zip(names, map(float, value), strict=True)),
        "weights": dict(zip(names, map(float, weight), strict=True)),
    }
    click.echo(json.dumps(json_safe({"strategy": strategy.name, "synthetic": bool(bars.attrs.get("synthetic")),
                                     "symbols": names, "assets": entries, "portfolio": portfolio}), default=str))


def _decision(strategy: Strategy, bars: pd.DataFrame, prepared: Any, target: pd.Series, reentry: bool,
              held: pd.DataFrame, cache_dir: str | None, ticker: str) -> dict[str, Any]:
    """The decision at the last bar of ``bars`` (one asset): the signal, the position
    held (``held``: its open trade, if any), the model's numbers and the indicators."""
    ctx = prepared.ctx
    details = strategy.details(ctx)
    # the rule's decision at the last bar: with reentry a bar without an explicit signal is
    # neutral (0); otherwise a NaN target keeps the standing one
    decision = target.fillna(0.0) if reentry else target.ffill().fillna(0.0)

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
    return {
        "timestamp": str(bars.index[-1]), "ticker": ticker,
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


@click.command()
@common
@cache_option
@click.option("--retrain/--no-retrain", default=None,
              help="Train even when cached (default: --retrain; with --cv purged-kfold --no-retrain).")
@symbols_option
@cv_options
def train(plugin: str, sets: tuple[str, ...], device: str, profile: str, quiet: bool, debug: bool,
          cache_dir: str | None, retrain: bool | None, cv: str, folds: int | None, embargo: int | None,
          grids: tuple[str, ...], metric: str | None, as_json: bool, **options: Any) -> None:
    """Train PLUGIN's walk-forward models into the cache (or refresh them); with
    --symbols, one per asset of the universe, each on its own bars.

    With --cv purged-kfold, cross-validate instead: for each --grid choice of model
    params, K contiguous test folds, each predicted by a model trained on the other
    samples minus those whose label overlaps the test labels (purged) and an embargo
    after them; prints each fold's out-of-sample metrics, their mean and standard
    deviation, and the best choice. Results are cached per choice. Example:
    bt train strategies/crypto_lstm.py --cv purged-kfold --folds 5 --grid lookback=32,64
    """
    if cv == "purged-kfold":
        train_cv(plugin, sets, device, profile, quiet, debug, cache_dir, bool(retrain), folds, embargo, grids,
                  metric, as_json, options)
        return
    try:
        given = [name for name, value in (("--folds", folds), ("--embargo", embargo), ("--metric", metric))
                 if value is not None] + [name for name, value in (("--grid", grids), ("--json", as_json)) if value]
        if given:
            raise ValueError(f"{given[0]} needs --cv purged-kfold")
        retrain = True if retrain is None else retrain
        with reporting(quiet):
            strategy, bars = _strategy_and_bars(plugin, sets, options)
        if not strategy.network:
            raise ValueError(f"{strategy.name} has no model to train")
        ready: dict[Any, Prepared | None]
        with reporting(quiet):
            if is_universe(bars):
                ready = prepare_assets(strategy, bars, device=device, profile=profile, cache_dir=cache_dir,
                                       retrain=retrain)
            else:
                ready = {None: prepare(strategy, bars, device=device, profile=profile, cache_dir=cache_dir,
                                       retrain=retrain)}
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    from mlbt.models import PredictionCache  # mlbt.models loads torch: only for a model

    for asset, prepared in ready.items():
        who = f"{strategy.name} ({asset})" if asset is not None else strategy.name
        if prepared is None:
            click.echo(f"{who}: flat, no walk-forward fold on its bars")
            continue
        click.echo(f"{who}: {len(prepared.folds)} folds, {'from cache' if prepared.cache_hit else 'trained'}, "
                   f"stored in {PredictionCache(cache_dir).path(str(prepared.cache_key))}")
