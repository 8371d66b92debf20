"""``bt train --cv purged-kfold``: purged, embargoed k-fold cross-validation of a
plugin's model-param choices (``mlbt.strategy.crossval``), printed as a table or one
JSON document."""

from __future__ import annotations

import json
from typing import Any

import click
import pandas as pd

from mlbt.cli.errors import fail
from mlbt.cli.options import apply, json_option, plugin_bars, plugin_with_sets
from mlbt.cli.progress import quiet_for, reporting
from mlbt.cli.tables import print_table
from mlbt.data.universe import assets, is_universe
from mlbt.io import json_safe
from mlbt.report.formatting import fmt, param_text
from mlbt.strategy import Strategy
from mlbt.strategy.crossval import ChoiceCV, best_choice, choose_metric, cross_validate_choices
from mlbt.sweep.grid import build_grid

#: The ways ``bt train`` validates: walk-forward (what trading uses) or purged k-fold (model selection).
CV_METHODS = ("walk-forward", "purged-kfold")
DEFAULT_FOLDS = 5

cv_options = apply(
    click.option("--cv", "cv", type=click.Choice(CV_METHODS), default="walk-forward", show_default=True,
                 help="walk-forward: train the models bt trades with. purged-kfold: report the out-of-sample "
                      "metrics of K purged, embargoed folds per choice of model params (López de Prado 2018, "
                      "ch. 7), for choosing them; trades nothing."),
    click.option("--folds", type=int, default=None, metavar="K",
                 help=f"Folds of --cv purged-kfold (at least 2; default {DEFAULT_FOLDS})."),
    click.option("--embargo", type=int, default=None, metavar="BARS",
                 help="Bars after each test fold's purged samples whose samples are left out of training too "
                      "(--cv purged-kfold; default: 1% of the samples, at least the walk-forward's embargo beyond "
                      "the label horizon)."),
    click.option("--grid", "grids", multiple=True, metavar="NAME=SPEC",
                 help="Choices of a model param for --cv purged-kfold: NAME=v1,v2,... or NAME=start:stop:step "
                      "(stop included); repeat per param: one cross-validation per combination."),
    click.option("--metric", default=None,
                 help="Out-of-sample metric that picks the best choice (--cv purged-kfold; default: direction "
                      "or class accuracy when the plugin reports it)."),
    json_option("the cross-validation (--cv purged-kfold)"),
)


def _model_choices(strategy: Strategy, grids: tuple[str, ...]) -> list[dict[str, Any]]:
    """The combinations of ``--grid`` specs of model params (one empty choice, the
    plugin's own values, without any); ValueError for a param that is not a model one."""
    if not grids:
        return [{}]
    model = {k: p for k, p in strategy.params.items() if p.model}
    for spec in grids:
        name = spec.split("=", 1)[0].strip()
        if "=" in spec and name not in model:
            raise ValueError(f"--grid {spec!r}: {name!r} is not a model param of {strategy.name}; a cross-validation "
                             f"compares model params (model=True): {', '.join(model) or 'none'}")
    combos = build_grid(grids, model).combos
    return [{k: v.item() if hasattr(v, "item") else v for k, v in row.items()} for row in combos.to_dict("records")]


def train_cv(plugin: str, sets: tuple[str, ...], device: str, profile: str, quiet: bool, debug: bool,
              cache_dir: str | None, retrain: bool, folds: int | None, embargo: int | None, grids: tuple[str, ...],
              metric: str | None, as_json: bool, options: dict[str, Any]) -> None:
    """``bt train --cv purged-kfold`` (its options as ``train`` passes them): one
    cross-validation per choice, then the table (or the JSON document)."""
    k = DEFAULT_FOLDS if folds is None else folds
    try:
        if k < 2:
            raise ValueError(f"--folds {k}: a purged k-fold needs at least 2 folds")
        if embargo is not None and embargo < 0:
            raise ValueError(f"--embargo {embargo}: give a number of bars >= 0")
        if options.get("symbols"):
            raise ValueError("--cv purged-kfold cross-validates one instrument; give --symbol, not --symbols")
        strategy = plugin_with_sets(plugin, sets)
        if not strategy.network:
            raise ValueError(f"{strategy.name} has no model to cross-validate")
        choices = _model_choices(strategy, grids)
        with reporting(quiet_for(quiet, as_json)):
            bars, _ = plugin_bars(strategy, options)
            if is_universe(bars):
                raise ValueError(f"--cv purged-kfold cross-validates one instrument, and {strategy.name} loads "
                                 f"{len(assets(bars))} symbols; give --symbol")
            done = cross_validate_choices(strategy, bars, choices, folds=k, embargo=embargo, device=device,
                                          profile=profile, cache_dir=cache_dir, refresh=retrain)
        chosen = choose_metric(done, metric)
        best = best_choice(done, chosen)
    except Exception as exc:  # fail() re-raises bt's own bugs
        fail(debug, exc)
    doc = _cv_doc(strategy, bars, options["source"] or strategy.data, done, chosen, best, k, cache_dir)
    if as_json:
        click.echo(json.dumps(json_safe(doc)))
    else:
        _cv_table(doc)


def _cv_doc(strategy: Strategy, bars: pd.DataFrame, source: str, done: list[ChoiceCV], metric: str, best: int | None,
            folds: int, cache_dir: str | None) -> dict[str, Any]:
    """The cross-validation as one JSON-able document: folds numbered from 1, test
    bars as bar numbers (rows of the data, inclusive) and their timestamps."""
    from mlbt.models import CVCache, lower_is_better

    index = bars.index

    def fold(f: Any) -> dict[str, Any]:
        return {"fold": f.fold + 1, "test_start_bar": f.test_start, "test_end_bar": f.test_end,
                "test_start": str(index[f.test_start]), "test_end": str(index[f.test_end]), "n_test": f.n_test,
                "n_train": f.n_train, "n_val": f.n_val, "n_purged": f.n_purged, "n_embargoed": f.n_embargoed,
                "epochs": f.epochs, "best_epoch": f.best_epoch, "seconds": f.seconds, "metrics": f.metrics}

    choices = [{"choice": i + 1, "params": c.params, "horizon": c.horizon, "embargo": c.embargo,
                "cache_hit": c.cache_hit, "cache_key": c.cache_key, "folds": [fold(f) for f in c.result.folds],
                "mean": c.result.mean(), "std": c.result.std()} for i, c in enumerate(done)]
    return {"strategy": strategy.name, "data": source, "synthetic": bool(bars.attrs.get("synthetic")),
            "bars": len(bars), "start": str(index[0]), "end": str(index[-1]),
            "cv": {"method": "purged-kfold", "folds": folds, "metric": metric,
                   "higher_is_better": not lower_is_better(metric)},
            "cache": str(CVCache(cache_dir).root / "cv"), "choices": choices,
            "best": None if best is None else {k: choices[best][k] for k in ("choice", "params", "mean", "std")}}


def _cv_table(doc: dict[str, Any]) -> None:
    """The cross-validation for a person: a header, one row per (choice, fold) and a
    mean ± std row per choice (the best one marked), then the best choice."""
    choices, metric = doc["choices"], doc["cv"]["metric"]
    params = list(dict.fromkeys(p for c in choices for p in c["params"]))
    metrics = list(dict.fromkeys([metric, *(m for c in choices for m in c["mean"])]))
    label = " (SYNTHETIC data)" if doc["synthetic"] else ""
    spans = sorted({(c["horizon"], c["embargo"]) for c in choices})
    gaps = "; ".join(f"label horizon {h} bar{'s' * (h != 1)}, embargo {e} bar{'s' * (e != 1)}" for h, e in spans)
    click.echo(f"{doc['strategy']} on {doc['data']}{label}: {doc['bars']:,} bars {doc['start']} .. {doc['end']}")
    click.echo(f"purged {doc['cv']['folds']}-fold cross-validation ({gaps}); out-of-sample metrics per test fold, "
               f"choices ranked by the mean {metric} ({'higher' if doc['cv']['higher_is_better'] else 'lower'} is "
               "better)")
    columns = ["choice", *params, "fold", "test bars", "train", "purged", "embargoed", *metrics, ""]
    rows = []
    for c in choices:
        given = [param_text(c["params"].get(p)) if p in c["params"] else "-" for p in params]
        for f in c["folds"]:
            rows.append([str(c["choice"]), *given, str(f["fold"]), f"{f['test_start_bar']}..{f['test_end_bar']}",
                         f"{f['n_train']:,}", f"{f['n_purged']:,}", f"{f['n_embargoed']:,}",
                         *(fmt(f["metrics"].get(m), m) for m in metrics), ""])
        best = doc["best"] is not None and doc["best"]["choice"] == c["choice"]
        note = ("from cache" if c["cache_hit"] else "trained") + (", best" if best else "")
        rows.append([str(c["choice"]), *given, "mean ± std", "", "", "", "",
                     *(f"{fmt(c['mean'].get(m), m)} ± {fmt(c['std'].get(m), m)}" for m in metrics), note])
    print_table(columns, rows, left=len(params) + 2)
    if doc["best"] is None:
        click.echo(f"best: none (no choice has a finite mean {metric})")
    else:
        b = doc["best"]
        what = ", ".join(f"{k}={param_text(v)}" for k, v in b["params"].items()) or "the plugin's params"
        click.echo(f"best: choice {b['choice']} ({what}): {metric} {fmt(b['mean'][metric], metric)} ± "
                   f"{fmt(b['std'][metric], metric)} (mean ± std over {doc['cv']['folds']} folds)")
    hits = sum(bool(c["cache_hit"]) for c in choices)
    click.echo(f"{len(choices) - hits} trained, {hits} from cache, in {doc['cache']}")
