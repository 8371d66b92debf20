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

Where the cheap cuts go: ``rule_cuts`` spread evenly (about one per 100 bars of the
20,106-bar sample), and every bar where an input or an output of the rule first has a
value (each features column, each prediction, the target and the other decisions):
a warm-up gap back-filled from later bars leaks only over the few dozen bars next to
such a bar, which the spread cuts step over. A short series gets a rule cut at every
bar. Each stage records the bar ranges its cuts covered (``StageResult.covered``).

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

SHORT_SERIES = 10  # x rule_cuts bars (2,000 by default): a series this short gets a rule cut at every bar
WARMUP_MARGIN = 64  # bars either side of where an input first has a value, cut at every bar ...
WARMUP_MARGIN_MAX = 256  # ... or the spread cuts' spacing when wider (a gap shorter than it meets no spread cut)
WARMUP_CUTS = 2_000  # at most this many every-bar warm-up cuts (earliest first), whatever the columns
EVERY_BAR_RUN = 3  # consecutive cut bars from which a covered range reads "every bar"


@dataclass
class StageResult:
    """One stage's verdict: ``failures`` lists (cut bar, column, first bad timestamp);
    ``covered`` the bar ranges of its cuts, (first bar, last bar, cuts) each, ascending:
    a range with as many cuts as bars was cut at every bar, another has its cuts spread."""

    stage: str
    cuts: int = 0
    compared: int = 0
    failures: list[tuple[int, str, str]] = field(default_factory=list)
    covered: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def coverage(self) -> str:
        """``covered`` in words, e.g. "cuts: every bar of 0..150, then 201 spread over 203..20,104"."""
        words = [f"bar {a:,}" if a == b else f"every bar of {a:,}..{b:,}" if k == b - a + 1
                 else f"{k:,} spread over {a:,}..{b:,}" for a, b, k in self.covered]
        return "cuts: " + ", then ".join(words) if words else "no cuts"


def spans(cuts: Iterable[int]) -> list[tuple[int, int, int]]:
    """The ranges of bar indices ``cuts``, as (first, last, count), ascending: each run of at
    least EVERY_BAR_RUN consecutive bars is one range (cut at every bar), and the cuts
    between two such runs are one range of spread cuts."""
    bars = sorted(set(cuts))
    runs: list[list[int]] = []  # [first, last] of consecutive bars
    for t in bars:
        if runs and t == runs[-1][1] + 1:
            runs[-1][1] = t
        else:
            runs.append([t, t])
    out: list[tuple[int, int, int]] = []
    loose: list[int] = []  # the cuts of the spread range being gathered

    def flush() -> None:
        if loose:
            out.append((loose[0], loose[-1], len(loose)))
            loose.clear()

    for a, b in runs:
        if b - a + 1 >= EVERY_BAR_RUN:
            flush()
            out.append((a, b, b - a + 1))
        else:
            loose.extend(range(a, b + 1))
    flush()
    return out


def cut_points(n: int, count: int, first: int) -> list[int]:
    """``count`` bar indices spread over [first, n - 2], ascending, unique."""
    first = max(1, min(first, n - 2))
    return sorted({int(x) for x in np.linspace(first, n - 2, count)})


def warmup_cuts(n: int, starts: Iterable[int], margin: int, cap: int = WARMUP_CUTS) -> list[int]:
    """Every bar within ``margin`` of each bar in ``starts`` (where an input of the rule first
    has a value), in [0, n - 2], ascending; at most ``cap`` of them, the earliest starts'
    first. A back-filled warm-up leaks before the honest input's first value and after the
    filled one's, so the window reaches both ways."""
    out: set[int] = set()
    for s in sorted(set(starts)):
        out.update(range(max(0, s - margin), min(n - 2, s + margin) + 1))
        if len(out) >= cap:
            break
    return sorted(out)[:cap]


def _first_values(frame: pd.DataFrame | None, skip: tuple[str, ...] = ()) -> list[int]:
    """The bar at which each column of ``frame`` first has a (non-NaN) value; columns
    without one are left out."""
    if frame is None or not frame.shape[1]:
        return []
    defined = frame.drop(columns=[c for c in skip if c in frame.columns]).notna().to_numpy()
    has = defined.any(axis=0)
    return sorted({int(i) for i in defined.argmax(axis=0)[has]})


def _spreads(full: pd.DataFrame) -> dict[Any, float]:
    """Each column's spread (std of its finite values), the scale of ``_compare``'s tolerance."""
    out = {}
    for col in full.columns:
        finite = full[col].to_numpy(dtype="float64")
        finite = finite[np.isfinite(finite)]
        out[col] = float(np.std(finite)) if len(finite) else 0.0
    return out


def _compare(stage: StageResult, t: int, prefix: pd.DataFrame, full: pd.DataFrame, rtol: float,
             spreads: dict[Any, float] | None = None) -> None:
    """Values at bars <= t must agree within ``rtol`` x (|value| + the column's spread);
    ``spreads`` (of ``_spreads(full)``) saves computing them again at each cut."""
    stage.cuts += 1
    head = full.iloc[: t + 1]
    spreads = spreads if spreads is not None else _spreads(full)
    for col in full.columns:
        if col not in prefix.columns:
            stage.failures.append((t, str(col), "missing in the prefix run"))
            continue
        a = prefix[col].to_numpy(dtype="float64")
        b = head[col].to_numpy(dtype="float64")
        spread = spreads[col]
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
    decides the signal on few bars shows only at the cut bar itself, so it needs many.
    With ``rule_cuts`` above 0 the rule is also cut at every bar of the warm-up (within
    WARMUP_MARGIN or the spread's spacing, to WARMUP_MARGIN_MAX, of each bar where a
    features column, a prediction or a decision first has a value; at most WARMUP_CUTS
    bars), and at every bar of a series of at most SHORT_SERIES x ``rule_cuts`` bars:
    so at most ``cuts + rule_cuts + max(WARMUP_CUTS, SHORT_SERIES x rule_cuts)`` cuts."""
    full = prepare(strategy, bars, device=device, profile=profile, use_cache=False)
    rule = has_signal_rule(strategy)  # a cross-sectional plugin's rule is audited by audit_cross
    full_decisions = _decisions(strategy, full.ctx) if rule else None
    n, first = len(bars), 0
    if full.ctx.predictions is not None:
        started = np.flatnonzero(full.ctx.predictions["fold"].to_numpy() >= 0)
        first = int(started[0]) if len(started) else n - 2
    stages = [StageResult("features"), StageResult("predictions"), StageResult("signals")]
    model_cuts = cut_points(n, cuts, first)
    cheap_set: set[int] = set()
    if rule_cuts > 0 and n >= 2:
        cheap_set.update(cut_points(n, rule_cuts, first))
        if n <= SHORT_SERIES * rule_cuts:
            cheap_set.update(range(n - 1))
        else:
            starts = [*_first_values(full.ctx.features), *_first_values(full.ctx.predictions, skip=("fold",)),
                      *_first_values(full_decisions)]
            spacing = (n - 2 - first) / rule_cuts
            margin = int(min(max(WARMUP_MARGIN, np.ceil(spacing)), WARMUP_MARGIN_MAX))
            cheap_set.update(warmup_cuts(n, starts, margin))
    cheap_set.difference_update(model_cuts)
    every = sorted([*model_cuts, *cheap_set])
    retrain = set(model_cuts)
    feature_spreads = _spreads(full.ctx.features)
    decision_spreads = _spreads(full_decisions) if full_decisions is not None else None
    task = f"{strategy.name}: audit"
    for i, t in enumerate(every):
        log.info("%s cut %d of %d at bar %s", task, i + 1, len(every), f"{t:,}",
                 extra={"progress": {"task": task, "done": i, "total": len(every), "line": False}})
        part = bars.iloc[: t + 1]
        if t in retrain and full.ctx.predictions is not None:
            log.info("%s: audit cut %d of %d: retraining on bars 0..%s (%s)", strategy.name, model_cuts.index(t) + 1,
                     len(model_cuts), f"{t:,}", bars.index[t])
            prefix = prepare(strategy, part, device=device, profile=profile, use_cache=False).ctx
        else:
            prefix = Context(part, features_of(strategy, part))
        _compare(stages[0], t, prefix.features, full.ctx.features, rtol, feature_spreads)
        ctx = prefix
        if full.ctx.predictions is not None:
            if t in retrain:
                _compare(stages[1], t, prefix.predictions, full.ctx.predictions, model_rtol)
            ctx = Context(part, prefix.features, full.ctx.predictions.iloc[: t + 1])
        if full_decisions is not None:
            _compare(stages[2], t, _decisions(strategy, ctx), full_decisions, rtol, decision_spreads)
    retrained = len(model_cuts) if full.ctx.predictions is not None else 0
    log.info("%s: %d cuts compared (%d retrained)", task, len(every), retrained,
             extra={"progress": {"task": task, "done": len(every), "total": len(every), "line": False}})
    stages[0].covered = stages[2].covered = spans(every)
    stages[1].covered = spans(model_cuts)
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
    points = cut_points(len(bars), cuts, _first_predicted(contexts.values(), bars.index))
    stage.covered = spans(points)
    for t in points:
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
    points = cut_points(len(bars), cuts, first)
    stage.covered = spans(points)
    for k, t in enumerate(points):
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
