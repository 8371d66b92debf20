"""Is the model's out-of-sample skill more than a naive baseline's, and how sure is that?

``regression_skill``: a forecast of the next close against the no-change forecast (the
current close), by a Diebold-Mariano test on squared errors with a HAC variance of the
horizon's overlap; reports the out-of-sample R^2 against the baseline too.
``classification_skill``: calls against the majority class (a one-sided binomial test of
the correct calls against the majority rate) and the latest known label (for a direction
label of horizon 1: the previous bar's direction); with scores of a binary label, the AUC
with a DeLong confidence interval and a Mann-Whitney test of AUC > 0.5.

Each returns a dict of plain floats and strings (JSON-safe; NaN where undefined) with at
least ``test``, ``baseline``, ``statistic``, ``p_value`` and ``verdict`` ("skill at 5%
(p=0.003)", "no evidence of skill at 5% (p=0.41)", "too few predictions (n=4)"). Inputs
are per-bar arrays of one length; pairs with a NaN (warm-up bars) are skipped.

The tests come from scipy and statsmodels; the one piece written here is DeLong's
variance of the AUC, which neither provides (see ``delong_auc``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

LEVEL = 0.05  #: significance level of the verdicts
MIN_N = 30  #: fewer predictions than this: no test, the verdict says so
DM_TEST = "Diebold-Mariano (squared error, Newey-West HAC, HLN)"
BINOMIAL_TEST = "binomial (accuracy vs majority rate)"


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64).ravel()


def _aligned(*arrays: Any) -> list[np.ndarray]:
    a = [_np(x) for x in arrays]
    if len({len(x) for x in a}) > 1:
        raise ValueError(f"inputs differ in length: {[len(x) for x in a]}")
    keep = np.logical_and.reduce([np.isfinite(x) for x in a])
    return [x[keep] for x in a]


def verdict(p_value: float, n: int, *, min_n: int = MIN_N, level: float = LEVEL,
            untestable: str = "no test possible") -> str:
    """One line: 'skill at 5% (p=0.003)', 'no evidence of skill at 5% (p=0.41)',
    'too few predictions (n=4)'; a NaN p-value reads as no evidence, ``untestable`` saying why."""
    if n < min_n:
        return f"too few predictions (n={n})"
    pct = f"{level:.0%}"
    if not math.isfinite(p_value):
        return f"no evidence of skill at {pct} ({untestable})"
    shown = "p<0.001" if p_value < 0.001 else f"p={p_value:.2g}"
    return f"skill at {pct} ({shown})" if p_value < level else f"no evidence of skill at {pct} ({shown})"


def regression_skill(pred: Any, close: Any, next_close: Any, *, horizon: int = 1, min_n: int = MIN_N) -> dict:
    """A price forecast against the no-change forecast (the current close).

    At bar t, ``pred[t]`` forecasts ``next_close[t]`` (the close ``horizon`` bars on)
    from ``close[t]``. Errors are taken relative to the close, e = (next_close -
    forecast) / close, so the losses of a series whose price grew tenfold weigh alike.
    The loss differential d_t = e_baseline^2 - e_model^2 (positive: the model was
    closer); the Diebold-Mariano statistic is mean(d) / its standard error, the
    variance being Newey-West (Bartlett kernel) with horizon - 1 lags (forecasts
    ``horizon`` bars ahead overlap, so their errors are MA(horizon - 1)): statsmodels'
    OLS of d on a constant with ``cov_type="HAC"``, which is that test. The statistic
    then carries the Harvey-Leybourne-Newbold (1997) small-sample factor
    sqrt((n + 1 - 2h + h(h - 1)/n) / n) and is compared with Student's t, n - 1
    degrees of freedom; p_value is one-sided (H1: the model's loss is lower).
    r2_oos = 1 - SSE_model / SSE_baseline (negative: worse than no change).
    """
    import statsmodels.api as sm

    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    p, c, nxt = _aligned(pred, close, next_close)
    ok = c != 0
    p, c, nxt = p[ok], c[ok], nxt[ok]
    e_model, e_base = (nxt - p) / c, (nxt - c) / c
    n = len(e_model)
    out: dict[str, Any] = {"test": DM_TEST, "baseline": "no change", "statistic": float("nan"),
                           "p_value": float("nan"), "verdict": "", "r2_oos": float("nan"), "n": n,
                           "horizon": int(horizon)}
    sse_model, sse_base = float(np.sum(e_model**2)), float(np.sum(e_base**2))
    if n and sse_base > 0:
        out["r2_oos"] = 1.0 - sse_model / sse_base
    if n >= max(min_n, 2):
        d = e_base**2 - e_model**2
        fit = sm.OLS(d, np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": horizon - 1})
        se = math.sqrt(max(float(fit.cov_params()[0, 0]), 0.0))
        if se > 0:
            h = horizon
            hln = math.sqrt(max((n + 1 - 2 * h + h * (h - 1) / n) / n, 0.0))
            out["statistic"] = float(d.mean() / se * hln)
            out["p_value"] = float(stats.t.sf(out["statistic"], df=n - 1))
    out["verdict"] = verdict(out["p_value"], n, min_n=min_n, untestable="the loss difference does not vary")
    return out


def delong_auc(positive: Any, negative: Any) -> tuple[float, float]:
    """(AUC, its DeLong variance) of the scores of positives against negatives.

    DeLong, DeLong & Clarke-Pearson (1988), in Sun & Xu's (2014) midrank form:
    V10_i = (rank of positive i among all - its rank among positives) / n_neg,
    V01_j = 1 - (rank of negative j among all - its rank among negatives) / n_pos,
    AUC = mean(V10), Var = var(V10) / n_pos + var(V01) / n_neg (ddof 1).
    Written here: neither scipy nor statsmodels has DeLong's variance, and the
    alternative they do offer (scipy.stats.bootstrap) is random (a run's ``ml`` must
    repeat exactly when served from the cache) and costs thousands of resamples.
    """
    x, y = _np(positive), _np(negative)
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        return float("nan"), float("nan")
    z = stats.rankdata(np.r_[x, y])  # midranks: ties count one half
    v10 = (z[:m] - stats.rankdata(x)) / n
    v01 = 1.0 - (z[m:] - stats.rankdata(y)) / m
    return float(v10.mean()), float(v10.var(ddof=1) / m + v01.var(ddof=1) / n)


def auc_skill(y_true: Any, score: Any, *, level: float = LEVEL) -> dict:
    """AUC of ``score`` for a binary ``y_true`` (positive: the larger label), its
    two-sided (1 - level) DeLong interval (clipped to [0, 1]) and the one-sided
    Mann-Whitney p-value of AUC > 0.5 (scipy; its U / (n_pos n_neg) is the AUC)."""
    t, s = _aligned(y_true, score)
    out = {"auc": float("nan"), "auc_low": float("nan"), "auc_high": float("nan"), "auc_p_value": float("nan")}
    classes = np.unique(t)
    if len(classes) != 2:
        return out
    pos = t == classes[1]
    auc, var = delong_auc(s[pos], s[~pos])
    if not math.isfinite(auc):
        return out
    half = stats.norm.ppf(1 - level / 2) * math.sqrt(var)
    out |= {"auc": auc, "auc_low": max(auc - half, 0.0), "auc_high": min(auc + half, 1.0),
            "auc_p_value": float(stats.mannwhitneyu(s[pos], s[~pos], alternative="greater").pvalue)}
    return out


def classification_skill(y_true: Any, y_pred: Any, score: Any = None, *, previous: Any = None,
                         min_n: int = MIN_N) -> dict:
    """Class calls against the majority class and the latest known label.

    ``y_pred``: the model's call per bar; ``previous``: the latest label known at the bar
    (the label ``horizon`` bars back; for a next-bar direction, the previous bar's), the
    second baseline, reported as ``previous_accuracy``. The test: scipy's binomial test,
    one-sided, of the correct calls against the majority class's share of the labels
    (the accuracy of always calling it, a rate known only in hindsight: a baseline a
    little harder to beat). It treats the bars as independent; labels over several
    bars ahead overlap, which makes its p-value somewhat too small.
    ``score`` (a binary label's score of the larger class) adds ``auc``, ``auc_low``,
    ``auc_high``, ``auc_p_value`` and ``auc_verdict`` (see ``auc_skill``).
    """
    arrays = [y_true, y_pred, *([score] if score is not None else [])]
    t, c, *rest = _aligned(*arrays)
    keep = np.isfinite(_np(y_true)) & np.isfinite(_np(y_pred))
    if score is not None:
        keep &= np.isfinite(_np(score))
    n = len(t)
    out: dict[str, Any] = {"test": BINOMIAL_TEST, "baseline": "majority class", "statistic": float("nan"),
                           "p_value": float("nan"), "verdict": "", "n": n, "accuracy": float("nan"),
                           "majority_class": float("nan"), "majority_rate": float("nan"),
                           "previous_accuracy": float("nan")}
    if n:
        classes, counts = np.unique(t, return_counts=True)
        correct = int(np.sum(t == c))
        out |= {"accuracy": correct / n, "majority_class": float(classes[np.argmax(counts)]),
                "majority_rate": float(counts.max() / n)}
        if previous is not None:
            prev = _np(previous)
            if len(prev) != len(keep):
                raise ValueError(f"previous differs in length from y_true: {len(prev)} and {len(keep)}")
            prev = prev[keep]
            known = np.isfinite(prev)
            out["previous_accuracy"] = float(np.mean(prev[known] == t[known])) if known.any() else float("nan")
        if n >= min_n:
            res = stats.binomtest(correct, n, out["majority_rate"], alternative="greater")
            out |= {"statistic": float(res.statistic), "p_value": float(res.pvalue)}
    out["verdict"] = verdict(out["p_value"], n, min_n=min_n)
    if score is not None:
        auc = auc_skill(t, rest[0])
        out |= auc
        out["auc_verdict"] = verdict(auc["auc_p_value"], n, min_n=min_n, untestable="one class only")
    return out
