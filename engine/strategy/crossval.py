"""A strategy's model under purged k-fold cross-validation (``mlbt.models.cv``), for
choosing its model params: the same features, labels, model config and cache key parts
as its walk-forward (``pipeline.prepare``), split into purged, embargoed folds instead,
each fold scored by the plugin's own out-of-sample metrics (``Strategy.ml_metrics``
on the fold's predictions). Results are cached per choice (``mlbt.models.CVCache``);
the metrics are recomputed from the cached predictions, so an edited ``ml_metrics``
needs no retraining. torch is imported only when this runs."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlbt.strategy.base import Context, Strategy
from mlbt.strategy.pipeline import features_of, model_inputs, model_key_parts

if TYPE_CHECKING:  # pragma: no cover
    from mlbt.models import CVResult
    from mlbt.models.cv import Scorer

log = logging.getLogger(__name__)

#: The metric that ranks choices when none is asked for: the first of these a plugin reports.
PREFERRED = ("direction_accuracy", "accuracy", "directional_accuracy", "sign_accuracy", "roc_auc")


@dataclass
class ChoiceCV:
    """One choice of model params (``params``: the values varied, as given) and its
    cross-validation: the result, whether it came from the cache, and its key."""

    params: dict[str, Any]
    result: CVResult
    cache_hit: bool | None
    cache_key: str

    @property
    def horizon(self) -> int:
        return int(self.result.settings["horizon"])

    @property
    def embargo(self) -> int:
        return int(self.result.settings["embargo"])


def float_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The real-valued entries of a plugin's ``ml_metrics`` (rates, errors,
    correlations); counts, flags and nested dicts (the skill test) are left out."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, float | np.floating)}


def _scorer(strategy: Strategy, bars: pd.DataFrame, feats: pd.DataFrame) -> Scorer | None:
    """The plugin's ``ml_metrics`` on one fold's predictions (a Context whose
    predictions are NaN outside the fold, its ``fold`` column 0 on the fold's bars and
    -1 elsewhere), or None when the plugin defines none."""
    if type(strategy).ml_metrics is Strategy.ml_metrics:
        return None

    def score(predictions: dict[str, np.ndarray], test: np.ndarray) -> dict[str, float]:
        from mlbt.models import WalkForwardResult

        fold_of_bar = np.full(len(bars), -1, dtype=np.int64)
        fold_of_bar[test] = 0
        frame = WalkForwardResult(predictions, fold_of_bar).frame(bars.index)
        return float_metrics(strategy.ml_metrics(Context(bars=bars, features=feats, predictions=frame)))

    return score


def cross_validate_strategy(
    strategy: Strategy,
    bars: pd.DataFrame,
    *,
    folds: int = 5,
    embargo: int | None = None,
    device: str = "auto",
    profile: str = "auto",
    cache_dir: str | None = None,
    use_cache: bool = True,
    refresh: bool = False,
    feats: pd.DataFrame | None = None,
) -> tuple[CVResult, bool | None, str]:
    """(result, cache hit (None without a cache), cache key): ``strategy``'s network
    under a purged ``folds``-fold cross-validation on ``bars`` (one instrument), its
    horizon and lookback from ``walk_forward()``; ``embargo`` in bars (None:
    ``mlbt.models.default_embargo``). ``feats``: the feature set, when already computed."""
    # mlbt.models loads torch: imported only for a strategy with a network
    from mlbt.models import CVCache, PurgedKFold, cache_key, cached, cross_validate, default_embargo
    from mlbt.models.cv import label_scorer
    from mlbt.models.walkforward import label_components, usable_samples

    if not strategy.network:
        raise ValueError(f"{strategy.name} has no model to cross-validate")
    feats = features_of(strategy, bars) if feats is None else feats
    wf = strategy.walk_forward()
    X = model_inputs(strategy, feats)
    config = strategy.model_config(profile).resolved(device, n_features=X.shape[1])
    labels = strategy.labels(Context(bars=bars, features=feats))
    parts_of_y = label_components(labels)
    n_usable = int(usable_samples(np.asarray(X.to_numpy(), dtype=np.float32), parts_of_y, wf.lookback).sum())
    cv = PurgedKFold(folds, wf.horizon, default_embargo(n_usable, wf) if embargo is None else embargo)
    parts = {**model_key_parts(strategy, bars, X, labels, config, device), "cv": cv.to_dict()}
    score = _scorer(strategy, bars, feats) or label_scorer(labels, wf.target_scalers)

    def compute() -> CVResult:
        log.info("%s: purged %d-fold cross-validation of %s (%s profile) on %s bars, lookback %d, horizon %d, "
                 "embargo %d bars", strategy.name, cv.folds, config.network, config.profile, f"{len(bars):,}",
                 wf.lookback, cv.horizon, cv.embargo)
        return cross_validate(X.to_numpy(), labels, config, wf, cv, device=device, score=score)

    cache = CVCache(cache_dir) if use_cache else None
    result, hit = cached(cache, parts, compute, n_bars=len(bars), refresh=refresh)
    if hit:
        result.scored(score)
    return result, (hit if use_cache else None), cache_key(parts)


def cross_validate_choices(
    strategy: Strategy,
    bars: pd.DataFrame,
    choices: list[dict[str, Any]],
    **options: Any,
) -> list[ChoiceCV]:
    """``cross_validate_strategy`` for each choice of model params (``strategy`` with
    the choice's values set; an empty dict: its own values), in order."""
    feats = features_of(strategy, bars)
    out = []
    for i, choice in enumerate(choices):
        one = type(strategy)(**{**strategy.values, **choice}) if choice else strategy
        result, hit, key = cross_validate_strategy(one, bars, feats=feats, **options)
        out.append(ChoiceCV(dict(choice), result, hit, key))
        what = ", ".join(f"{k}={v}" for k, v in choice.items()) or "the plugin's params"
        log.info(f"choice {i + 1}/{len(choices)} ({what}): {'from cache' if hit else 'cross-validated'}",
                 extra={"progress": {"task": "choices", "done": i + 1, "total": len(choices)}})
    return out


def choose_metric(choices: list[ChoiceCV], asked: str | None = None) -> str:
    """The metric that ranks the choices: ``asked`` (ValueError when no fold reports
    it), else the first of ``PREFERRED`` they report, else their first metric."""
    names = list(dict.fromkeys(m for c in choices for m in c.result.metric_names()))
    if not names:
        raise ValueError("the folds report no out-of-sample metric to compare the choices by")
    if asked is not None:
        if asked not in names:
            raise ValueError(f"--metric {asked!r}: not an out-of-sample metric of this plugin; known: "
                             f"{', '.join(names)}")
        return asked
    return next((m for m in PREFERRED if m in names), names[0])


def best_choice(choices: list[ChoiceCV], metric: str) -> int | None:
    """Index of the choice with the best mean of ``metric`` over its folds (the
    highest, or the lowest for an error or a loss; the first on a tie); None when
    no choice has a finite mean."""
    from mlbt.models import lower_is_better

    sign = -1.0 if lower_is_better(metric) else 1.0
    means = [c.result.mean().get(metric, math.nan) for c in choices]
    finite = [i for i, m in enumerate(means) if math.isfinite(m)]
    return max(finite, key=lambda i: (sign * means[i], -i)) if finite else None
