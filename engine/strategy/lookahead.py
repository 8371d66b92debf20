"""The no-lookahead audit behind ``bt check``: prefix invariance, stage by stage.

For each cut point t, the strategy runs on ``bars[: t + 1]`` and on the full bars;
every value at or before bar t must be the same in both runs, for the features, the
model's walk-forward predictions (trained again on the prefix: nothing cached is
reused, the prefix has its own data fingerprint) and the signals (target, size,
stops, trail, max_hold, each ``conditions()`` mask and each ``details()`` series). A
value that changes means bar t's decision used data from after bar t. A one-bar leak
shows only at the cut bar itself, and only where the rest of the rule lets it decide,
so besides the few cuts that retrain the network, many cheap cuts rerun just the
features and the rule.

Tolerances: features and signals must agree to 1e-9 (relative to the value plus the
column's spread); model outputs to 1e-5, because a float32 network gives results that
differ in the last bits when the same window is predicted in a batch of another size
(BLAS picks kernels by shape). A leak moves values by far more than that.

The signal stage judges the rule alone: the prefix run's rule sees the prefix's
bars and features with the full run's predictions cut at bar t (the prediction stage
has just shown those to be the prefix's own, within 1e-5). A threshold or a size
computed from a prediction is then compared exactly, and float noise in the network
cannot flip a signal and read as a leak; a rule that reads a later prediction still
differs, since the cut predictions end at bar t.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlbt.strategy.base import Context, Strategy
from mlbt.strategy.cross_section import CrossContext, cross_signals
from mlbt.strategy.pipeline import features_of, has_signal_rule, make_signals, prepare
from mlbt.strategy.pooled import prepare_pooled
from mlbt.strategy.universe import prepare_assets

log = logging.getLogger(__name__)


@dataclass
class StageResult:
    """One stage's verdict: ``failures`` lists (cut bar, column, first bad timestamp)."""

    stage: str
    cuts: int = 0
    compared: int = 0
    failures: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def cut_points(n: int, count: int, first: int) -> list[int]:
    """``count`` bar indices spread over [first, n - 2], ascending, unique."""
    first = max(1, min(first, n - 2))
    return sorted({int(x) for x in np.linspace(first, n - 2, count)})


def _compare(stage: StageResult, t: int, prefix: pd.DataFrame, full: pd.DataFrame, rtol: float) -> None:
    """Values at bars <= t must agree within ``rtol`` x (|value| + the column's spread)."""
    stage.cuts += 1
    head = full.iloc[: t + 1]
    for col in full.columns:
        if col not in prefix.columns:
            stage.failures.append((t, str(col), "missing in the prefix run"))
            continue
        a = prefix[col].to_numpy(dtype="float64")
        b = head[col].to_numpy(dtype="float64")
        finite = full[col].to_numpy(dtype="float64")
        finite = finite[np.isfinite(finite)]
        spread = float(np.std(finite)) if len(finite) else 0.0
        same = (a == b) | (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= rtol * (np.abs(b) + spread))
        stage.compared += len(a)
        if not same.all():
            bad = int(np.flatnonzero(~same)[0])
            stage.failures.append((t, str(col), str(full.index[bad])))


def _decisions(strategy: Strategy, ctx: Context) -> pd.DataFrame:
    """Everything the rule decides per bar, one float column each: the Signals fields
    (target, size, sl, tp, trail, max_hold per column), every condition mask of
    ``conditions()`` and every ``details()`` series (what ``bt signal`` prints)."""
    index, T = ctx.bars.index, len(ctx.bars)
    cols: dict[str, np.ndarray] = {}

    def add(name: str, value: Any) -> None:
        if value is None or np.ndim(value) == 0 or isinstance(value, bool):
            return
        arr = np.asarray(value, dtype="float64")
        if arr.shape[0] != T:
            return  # per-column values: not bar-aligned
        arr = arr.reshape(T, -1)
        for j in range(arr.shape[1]):
            cols[f"{name}[{j}]"] = arr[:, j]

    signals = make_signals(strategy, ctx)
    add("target", signals.target)
    for name, value in signals.settings().items():
        add(name, value)
    for side, conditions in strategy.conditions(ctx, strategy.grid()).items():
        for name, mask in conditions:
            add(f"{side}: {name}", mask)
    for name, values in strategy.details(ctx).items():
        add(f"details.{name}", values)
    return pd.DataFrame(cols, index=index)


def audit(strategy: Strategy, bars: pd.DataFrame, *, cuts: int = 5, rule_cuts: int = 200, device: str = "cpu",
          profile: str = "fast", rtol: float = 1e-9, model_rtol: float = 1e-5) -> list[StageResult]:
    """Run the audit; returns one StageResult per stage (features, predictions, signals).

    ``cuts`` prefixes rerun everything, the network's walk-forward training included;
    ``rule_cuts`` more rerun only the features and the rule (with the full run's
    predictions cut at t), which costs milliseconds each: a leak in a filter that
    decides the signal on few bars shows only at the cut bar itself, so it needs many."""
    full = prepare(strategy, bars, device=device, profile=profile, use_cache=False)
    rule = has_signal_rule(strategy)  # a cross-sectional plugin's rule is audited by audit_cross
    full_decisions = _decisions(strategy, full.ctx) if rule else None
    first = 0
    if full.ctx.predictions is not None:
        started = np.flatnonzero(full.ctx.predictions["fold"].to_numpy() >= 0)
        first = int(started[0]) if len(started) else len(bars) - 2
    stages = [StageResult("features"), StageResult("predictions"), StageResult("signals")]
    model_cuts = cut_points(len(bars), cuts, first)
    cheap = [t for t in cut_points(len(bars), rule_cuts, first) if t not in model_cuts]
    every = sorted([*model_cuts, *cheap])
    task = f"{strategy.name}: audit"
    for i, t in enumerate(every):
        log.info("%s cut %d of %d at bar %s", task, i + 1, len(every), f"{t:,}",
                 extra={"progress": {"task": task, "done": i, "total": len(every), "line": False}})
        part = bars.iloc[: t + 1]
        if t in model_cuts and full.ctx.predictions is not None:
            log.info("%s: audit cut %d of %d: retraining on bars 0..%s (%s)", strategy.name, model_cuts.index(t) + 1,
                     len(model_cuts), f"{t:,}", bars.index[t])
            prefix = prepare(strategy, part, device=device, profile=profile, use_cache=False).ctx
        else:
            prefix = Context(part, features_of(strategy, part))
        _compare(stages[0], t, prefix.features, full.ctx.features, rtol)
        ctx = prefix
        if full.ctx.predictions is not None:
            if t in model_cuts:
                _compare(stages[1], t, prefix.predictions, full.ctx.predictions, model_rtol)
            ctx = Context(part, prefix.features, full.ctx.predictions.iloc[: t + 1])
        if full_decisions is not None:
            _compare(stages[2], t, _decisions(strategy, ctx), full_decisions, rtol)
    retrained = len(model_cuts) if full.ctx.predictions is not None else 0
    log.info("%s: %d cuts compared (%d retrained)", task, len(every), retrained,
             extra={"progress": {"task": task, "done": len(every), "total": len(every), "line": False}})
    if full_decisions is None:
        stages.pop(2)
    if full.ctx.predictions is None:
        stages.pop(1)
    if full.ctx.features.shape[1] == 0:
        stages.pop(0)  # no declared feature set: whatever the rule computes is audited as signals
    return stages


def _first_predicted(contexts: Iterable[Context | None], index: pd.Index) -> int:
    """The bar of universe ``index`` with the first walk-forward prediction of any
    asset's context (0 when none has one)."""
    starts = [c.bars.index[f[0]] for c in contexts if c is not None and c.predictions is not None
              and len(f := np.flatnonzero(c.predictions["fold"].to_numpy() >= 0))]
    return int(index.searchsorted(min(starts))) if starts else 0


def audit_cross(strategy: Strategy, bars: pd.DataFrame, *, cuts: int = 50, device: str = "cpu",
                profile: str = "fast", cache_dir: str | None = None, rtol: float = 1e-9) -> StageResult:
    """The ``cross-section`` stage of a plugin that defines ``weights``: on universe
    ``bars``, the weights at bar t must not change when every asset's bars after t are
    removed. At each of ``cuts`` cut points every asset's features are computed again
    on its prefix, with its walk-forward predictions cut at t (the per-asset audit
    checks those against a prefix retraining), so only the rule across the assets is
    judged: ranking by the next bar's return fails at every cut."""
    ready = prepare_assets(strategy, bars, device=device, profile=profile, cache_dir=cache_dir)
    contexts = {a: p.ctx if p is not None else None for a, p in ready.items()}
    grid = strategy.grid()
    full = cross_signals(strategy, CrossContext(bars, contexts), grid).target
    stage = StageResult("cross-section")
    for t in cut_points(len(bars), cuts, _first_predicted(contexts.values(), bars.index)):
        end = bars.index[t]
        prefix: dict[Any, Context | None] = {}
        for asset, ctx in contexts.items():
            own = ctx.bars.loc[:end] if ctx is not None else None
            if ctx is None or own is None or not len(own):
                prefix[asset] = None
                continue
            cut = ctx.predictions.iloc[: len(own)] if ctx.predictions is not None else None
            prefix[asset] = Context(own, features_of(strategy, own), cut)
        _compare(stage, t, cross_signals(strategy, CrossContext(bars.iloc[: t + 1], prefix), grid).target, full, rtol)
    return stage


def audit_pooled(strategy: Strategy, bars: pd.DataFrame, *, cuts: int = 5, device: str = "cpu",
                 profile: str = "fast", model_rtol: float = 1e-5) -> StageResult:
    """The ``pooled model`` stage of a plugin that declares ``pooled``: at each of
    ``cuts`` cut points the one model of universe ``bars`` is trained again on every
    asset's bars up to t (nothing cached is reused), and each asset's predictions at
    or before t must be the full run's (within ``model_rtol``, as for one asset)."""
    full = prepare_pooled(strategy, bars, device=device, profile=profile, use_cache=False)
    first = _first_predicted((p.ctx if p is not None else None for p in full.values()), bars.index)
    stage = StageResult("pooled model")
    for k, t in enumerate(cut_points(len(bars), cuts, first)):
        log.info("%s: audit cut %d of %d: retraining the pooled model on bars 0..%s (%s)", strategy.name, k + 1,
                 cuts, f"{t:,}", bars.index[t])
        prefix = prepare_pooled(strategy, bars.iloc[: t + 1], device=device, profile=profile, use_cache=False,
                                announce=False)
        stage.cuts += 1
        for asset, whole in full.items():
            if whole is None or whole.ctx.predictions is None:
                continue
            own = prefix.get(asset)
            cut = whole.ctx.predictions.loc[: bars.index[t]]
            if own is None:  # not covered on the prefix: then it has no prediction there in the full run either
                own_frame = cut.assign(**{c: np.nan for c in cut.columns if c != "fold"}, fold=-1)
            else:
                own_frame = own.ctx.predictions
            one = StageResult(stage.stage)
            _compare(one, len(cut) - 1, own_frame, cut, model_rtol)
            stage.compared += one.compared
            stage.failures += [(t, f"{asset}: {col}", when) for _, col, when in one.failures]
    return stage
