"""A pooled model over a universe: one walk-forward network trained on every asset's
windows (``mlbt.models.pooled``), a declared plugin choice (``pooled = True``, or a
model param ``pooled``), cached by content like a single asset's.

Each asset keeps its own features, labels and context (its bars, features and the
pooled model's predictions on its bars), so its rule, ``bt check`` and the reports
read it as they read a per-asset model; the cache key covers every asset's inputs."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from mlbt.data import fingerprint
from mlbt.data.universe import asset_bars, assets
from mlbt.strategy.base import Context, Strategy
from mlbt.strategy.pipeline import NoFoldError, Prepared, digest, features_of, model_inputs

log = logging.getLogger(__name__)


def is_pooled(strategy: Strategy) -> bool:
    """The plugin asks for one model over every asset (``pooled``, an attribute or a param)."""
    return bool(getattr(strategy, "pooled", False))


def prepare_pooled(strategy: Strategy, bars: pd.DataFrame, *, device: str = "auto", profile: str = "auto",
                   cache_dir: str | None = None, use_cache: bool = True, retrain: bool = False,
                   announce: bool = True) -> dict[str, Prepared | None]:
    """Each asset's Prepared, its predictions from one pooled walk-forward model of
    universe ``bars``; an asset with no bar in any fold is None (flat, one log line
    unless not ``announce``, as in the audit's prefix runs).
    NoFoldError when the universe has too few samples for a first fold."""
    from mlbt.models import PredictionCache, cache_key, cached, resolve_device  # loads torch: a model's run
    from mlbt.models.pooled import split, walk_forward_pooled
    from mlbt.models.walkforward import label_components

    names = assets(bars)
    contexts = {a: Context(own, features_of(strategy, own)) for a in names if len(own := asset_bars(bars, a))}
    inputs = {a: model_inputs(strategy, c.features) for a, c in contexts.items()}
    labels = {a: strategy.labels(c) for a, c in contexts.items()}
    positions = [bars.index.get_indexer(c.bars.index) for c in contexts.values()]
    wf = strategy.walk_forward()
    first = next(iter(inputs.values()))
    config = strategy.model_config(profile).resolved(device, n_features=first.shape[1])
    parts = {
        "data": fingerprint(bars), "pooled": [str(a) for a in contexts],
        "features": {"set": strategy.features, "columns": list(first.columns),
                     "values": digest(*(x.to_numpy() for x in inputs.values()))},
        "labels": digest(*(p for y in labels.values() for p in label_components(y))),
        "model": config.to_dict(), "walk_forward": wf.to_dict(), "model_params": strategy.model_params,
        "device": resolve_device(device).type,
    }
    lengths = [len(c.bars) for c in contexts.values()]

    def compute() -> Any:
        log.info("%s: training one pooled %s (%s profile) walk-forward on %d assets (%s bars), lookback %d",
                 strategy.name, config.network, config.profile, len(contexts), f"{sum(lengths):,}", wf.lookback)
        return walk_forward_pooled([x.to_numpy() for x in inputs.values()], list(labels.values()), positions,
                                   len(bars), config, wf, device=device)

    cache = PredictionCache(cache_dir) if use_cache else None
    result, hit = cached(cache, parts, compute, n_bars=sum(lengths), refresh=retrain)
    if not result.folds:
        raise NoFoldError(f"the universe's {sum(lengths):,} asset bars give {strategy.name}'s pooled model no "
                          f"walk-forward fold: the first needs min_train = {wf.min_train:,} samples of all assets; "
                          "load more data or lower it with --set min_train=...")
    key = cache_key(parts)
    out: dict[str, Prepared | None] = {a: None for a in names}
    for (asset, ctx), piece in zip(contexts.items(), split(result, lengths, positions), strict=True):
        if not piece.folds or not np.any(piece.fold_of_bar >= 0):
            if announce:
                log.warning("%s: asset %s stays flat: none of its bars falls in a fold of the pooled model",
                            strategy.name, asset)
            continue
        ctx.predictions = piece.frame(ctx.bars.index)
        out[asset] = Prepared(ctx, cache_hit=hit if use_cache else None, cache_key=key,
                              folds=[f.to_dict() for f in piece.folds], model=config.to_dict())
    return out
