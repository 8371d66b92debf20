"""From a strategy and bars to signals: features, cached walk-forward predictions,
the vectorized signal rule. torch is imported only for strategies with a network."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlbt.data import MODEL_COLUMNS, features, fingerprint
from mlbt.settings import setting
from mlbt.sim import Signals
from mlbt.strategy.base import Context, Grid, Strategy
from mlbt.strategy.cross_section import check_cross, is_cross_sectional
from mlbt.strategy.plugins import PluginError, describe, hook_site

log = logging.getLogger(__name__)


class NoFoldError(ValueError):
    """The bars are too short for the strategy's first walk-forward fold."""


@dataclass
class Prepared:
    """Everything before the signal rule: the context, and where predictions came
    from (``cache_hit``, ``cache_key``, ``folds``, the resolved model config)."""

    ctx: Context
    cache_hit: bool | None = None
    cache_key: str | None = None
    folds: list[dict[str, Any]] = field(default_factory=list)
    model: dict[str, Any] | None = None


def prepare(
    strategy: Strategy,
    bars: pd.DataFrame,
    *,
    device: str = "auto",
    profile: str = "auto",
    cache_dir: str | None = None,
    use_cache: bool = True,
    retrain: bool = False,
) -> Prepared:
    """Features of ``strategy.features`` and, when it has a network, walk-forward
    predictions (from the cache unless ``retrain``; computed and stored otherwise)."""
    feats = features_of(strategy, bars)
    ctx = Context(bars=bars, features=feats)
    if not strategy.network:
        return Prepared(ctx)
    # mlbt.models loads torch: imported only for a strategy with a network
    from mlbt.models import PredictionCache, cache_key, cached, walk_forward

    wf = strategy.walk_forward()
    X = model_inputs(strategy, feats)
    config = strategy.model_config(profile).resolved(device, n_features=X.shape[1])
    labels = strategy.labels(ctx)
    parts = model_key_parts(strategy, bars, X, labels, config, device)
    cache = PredictionCache(cache_dir) if use_cache else None

    def compute():
        log.info("%s: training %s (%s profile) walk-forward on %s bars, lookback %d, retrain every %d bars",
                 strategy.name, config.network, config.profile, f"{len(bars):,}", wf.lookback, wf.retrain_every)
        return walk_forward(X.to_numpy(), labels, config, wf, device=device)

    result, hit = cached(cache, parts, compute, n_bars=len(bars), refresh=retrain)
    if not result.folds:
        raise NoFoldError(f"{len(bars):,} bars give {strategy.name} no walk-forward fold: the first needs "
                         f"min_train = {wf.min_train:,} training samples (windows of lookback = {wf.lookback} "
                         "bars with every feature and a label) before the bars it predicts; load more data "
                         "(an earlier --start) or lower it with --set min_train=...")
    ctx.predictions = result.frame(bars.index)
    return Prepared(ctx, cache_hit=hit if use_cache else None, cache_key=cache_key(parts),
                    folds=[f.to_dict() for f in result.folds], model=config.to_dict())


def model_key_parts(strategy: Strategy, bars: pd.DataFrame, X: pd.DataFrame, labels: Any, config: Any,
                    device: str) -> dict[str, Any]:
    """What a trained model of ``strategy`` depends on, the parts of its cache key: the
    data, the network's inputs ``X`` and ``labels`` (their values), the resolved model
    ``config``, the walk-forward settings, the model params and the device kind."""
    from mlbt.models import resolve_device  # mlbt.models loads torch: only for a model
    from mlbt.models.walkforward import label_components

    return {
        "data": fingerprint(bars),
        # the values the network sees and learns, not the code that made them: an edit to an
        # indicator, a label helper or the TA backend (TA-Lib or pandas-ta's own) changes the key
        "features": {"set": strategy.features, "columns": list(X.columns), "values": digest(X.to_numpy())},
        "labels": digest(*label_components(labels)),
        "model": config.to_dict(),
        "walk_forward": strategy.walk_forward().to_dict(),
        "model_params": strategy.model_params,
        "device": resolve_device(device).type,  # CUDA trains under AMP; its models are not the CPU's
    }


def features_of(strategy: Strategy, bars: pd.DataFrame) -> pd.DataFrame:
    """The strategy's feature set on ``bars`` (row t from bars <= t; NaN in warm-up),
    or an empty frame on the bars' index when it declares none."""
    return features(bars, strategy.features) if strategy.features else pd.DataFrame(index=bars.index)


def model_inputs(strategy: Strategy, feats: pd.DataFrame) -> pd.DataFrame:
    """The feature columns the network reads (its set's MODEL_COLUMNS; all when the
    plugin declares no feature set)."""
    return feats[list(MODEL_COLUMNS[strategy.features])] if strategy.features else feats


def digest(*arrays: np.ndarray) -> str:
    """SHA-256 (16 hex characters) of arrays' shapes and bytes, NaN included."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _target_array(target: Any, index: pd.Index, site: str, shapes: str) -> np.ndarray:
    """A Signals target as a float array: PluginError at ``site`` for no target, one
    that is not numbers, or a Series/DataFrame on other timestamps than the bars'."""
    if target is None or isinstance(target, str | bytes | dict | set):
        raise PluginError(f"{site} returned Signals with a target that is {describe(target)}; expected numbers "
                          f"(+1 long, -1 short, 0 flat, NaN keep) of shape {shapes}")
    if isinstance(target, pd.Series | pd.DataFrame) and len(target) == len(index) \
            and not target.index.equals(index) and not target.index.equals(pd.RangeIndex(len(index))):
        differs = next((k for k in range(len(index)) if target.index[k] != index[k]), 0)
        raise PluginError(f"{site} returned a target {type(target).__name__} on another index than the bars' (row "
                          f"{differs}: {target.index[differs]}, the bar is {index[differs]}); build it on "
                          "ctx.bars.index, or return a numpy array")
    try:
        return np.asarray(target, dtype="float64")
    except (TypeError, ValueError) as e:
        raise PluginError(f"{site} returned a target ({describe(target)}) that is not numbers ({e}); expected "
                          f"+1 long, -1 short, 0 flat or NaN keep, of shape {shapes}") from None


def _check_fields(signals: Signals, index: pd.Index, n: int, site: str) -> None:
    """The settings a Signals carries (sl, size, ...): numbers of a shape the engine
    reads (a scalar, one per column, one per bar, or bars x columns) and in the
    setting's range; PluginError at ``site`` naming the field otherwise."""
    T = len(index)
    for name, value in signals.settings().items():
        if value is None or (name == "trail" and isinstance(value, bool | np.bool_)):
            continue
        if name == "funding_rate" and isinstance(value, str):  # the name of a bars column
            continue
        shapes = f"a number, ({n},) per column, ({T},) per bar or ({T}, {n})"
        if isinstance(value, pd.Series) and len(value) == T and not value.index.equals(index) and len(value) != n:
            raise PluginError(f"{site} returned Signals({name}=...) as a Series on another index than the bars'; "
                              f"build it on ctx.bars.index, or give {shapes}")
        try:
            a = np.asarray(value, dtype="float64")
        except (TypeError, ValueError):
            raise PluginError(f"{site} returned Signals({name}=...) that is {describe(value)}, not numbers; expected "
                              f"{shapes}") from None
        if a.shape not in ((), (1,), (n,), (T,), (T, 1), (1, n), (T, n)):
            raise PluginError(f"{site} returned Signals({name}=...) of shape {a.shape} ({describe(value)}); expected "
                              f"{shapes}")
        rule = setting(name)
        ok = rule.valid(a) | np.isnan(a)  # NaN (none, or a bar the engine does not read) is the engine's to judge
        if not np.all(ok):
            bad = a.ravel()[int(np.argmin(np.ravel(ok)))]
            raise PluginError(f"{site} returned Signals({name}={bad:g}{' ...' if a.ndim else ''}): {rule.refusal(bad)}")


def has_signal_rule(strategy: Strategy) -> bool:
    """The plugin defines its own per-instrument ``signals(ctx, p)``."""
    return type(strategy).signals is not Strategy.signals


def make_signals(strategy: Strategy, ctx: Context, grid: Grid | None = None) -> Signals:
    """The strategy's signal rule over ``grid`` (default: its own param values), checked
    and normalized: ``target`` becomes a (bars, columns) DataFrame labelled with the
    grid's combinations (a single (bars, 1) column serves every combination); the other
    fields stay as the rule set them ((1, N) grid params: one value per column).
    PluginError, naming the plugin, when the rule returns something else."""
    grid = grid or strategy.grid()
    if not has_signal_rule(strategy):
        if is_cross_sectional(strategy):
            check_cross(strategy, ctx.bars, "target_weight")  # a universe's context goes to cross_signals
        raise PluginError(f"{strategy.name} defines no signals(ctx, p) to run on one instrument")
    signals = strategy.signals(ctx, grid)
    T, n = len(ctx.bars), len(grid)
    shapes = f"({T}, {n}) or ({T}, 1)" if n > 1 else f"({T},) or ({T}, 1)"
    site = hook_site(strategy, "signals")
    if not isinstance(signals, Signals):
        raise PluginError(f"{site} returned {describe(signals)}; expected Signals(target=...) with a target of shape "
                          f"{shapes} ({T:,} bars, {n:,} param combination(s))")
    target = _target_array(signals.target, ctx.bars.index, site, shapes)
    if target.ndim == 1:
        target = target[:, None]
    if target.ndim != 2 or target.shape[0] != T or target.shape[1] not in (1, n):
        raise PluginError(f"{site} returned a target of shape {target.shape} ({describe(signals.target)}); expected "
                          f"shape {shapes} for {T:,} bars and {n:,} param combination(s)")
    _check_fields(signals, ctx.bars.index, n, site)
    if target.shape[1] != n:
        target = np.repeat(target, n, axis=1)
    signals.target = pd.DataFrame(target, index=ctx.bars.index, columns=grid.columns)
    return signals
