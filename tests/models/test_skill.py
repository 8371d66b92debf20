"""mlbt.models.skill: each statistic against a value computed by hand, noise reading as no
skill and a planted signal as skill."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from mlbt.models.skill import (
    BINOMIAL_TEST,
    DM_TEST,
    auc_skill,
    classification_skill,
    delong_auc,
    regression_skill,
    verdict,
)

KEYS = {"test", "baseline", "statistic", "p_value", "verdict"}

# A tiny forecast by hand: close 1, actual change a, forecast change f.
A = np.array([2.0, -1.0, 3.0, 0.0, 1.0, -2.0])
F = np.array([1.0, -1.0, 1.0, 1.0, 0.0, -1.0])
# e_base = a, e_model = a - f: d = a^2 - (a - f)^2 = [3, 1, 5, -1, 0, 3], mean 11/6;
# 6 (d - mean) = [7, -5, 19, -17, -11, 7]: sum of squares 894, lag-1 products -343.
# gamma0 = 894 / 6^3, gamma1 = -343 / 6^3; Var(mean d) = (gamma0 + 2 w1 gamma1) / n,
# Bartlett w1 = 1 - 1/(L + 1): h = 1 (L = 0): 894 / 6^4; h = 2 (L = 1, w1 = 1/2): 551 / 6^4.
# HLN factor sqrt((n + 1 - 2h + h(h - 1)/n) / n): h = 1: sqrt(5/6); h = 2: sqrt(5/9).
# SSE_model = 8, SSE_base = 19: R^2 OOS = 11/19.


def hand(h: int) -> dict:
    close = np.ones(6)
    return regression_skill(close + F, close, close + A, horizon=h, min_n=2)


@pytest.mark.parametrize(("h", "var", "hln"), [(1, 894 / 6**4, 5 / 6), (2, 551 / 6**4, 5 / 9)])
def test_diebold_mariano_matches_the_hand_computation(h, var, hln):
    out = hand(h)
    stat = (11 / 6) / math.sqrt(var) * math.sqrt(hln)
    assert out["statistic"] == pytest.approx(stat, rel=1e-12)
    assert out["p_value"] == pytest.approx(stats.t.sf(stat, df=5), rel=1e-12)
    assert out["r2_oos"] == pytest.approx(11 / 19, rel=1e-12)
    assert out["test"] == DM_TEST and out["baseline"] == "no change" and out["n"] == 6 and out["horizon"] == h
    assert {type(v) for v in out.values()} <= {float, int, str}


def test_errors_are_relative_to_the_close():
    """The same forecast at ten times the price reads the same."""
    close = np.full(6, 10.0)
    out = regression_skill(close + 10 * F, close, close + 10 * A, min_n=2)
    assert out["statistic"] == pytest.approx(hand(1)["statistic"]) and out["r2_oos"] == pytest.approx(11 / 19)


def test_binomial_p_value_is_the_hand_computed_tail():
    y = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], dtype=float)  # majority rate 0.6
    calls = y.copy()
    calls[-1] = 1.0  # 9 of 10 right
    out = classification_skill(y, calls, min_n=1)
    tail = sum(math.comb(10, k) * 0.6**k * 0.4 ** (10 - k) for k in (9, 10))  # 0.0463574016
    assert tail == pytest.approx(0.0463574016)
    assert out["p_value"] == pytest.approx(tail, rel=1e-9) and out["statistic"] == pytest.approx(0.9)
    assert out["test"] == BINOMIAL_TEST and out["baseline"] == "majority class"
    assert out["majority_rate"] == pytest.approx(0.6) and out["majority_class"] == 1.0
    assert out["verdict"] == "skill at 5% (p=0.046)"


def test_previous_direction_baseline():
    y = np.array([1, -1, -1, 1, 1, 1, np.nan])
    prev = np.r_[np.nan, y[:-1]]  # right at bars 2, 4, 5 of the 5 with a previous label
    out = classification_skill(y, np.ones(7), previous=prev, min_n=1)
    assert out["previous_accuracy"] == pytest.approx(3 / 5) and out["n"] == 6
    assert out["accuracy"] == pytest.approx(4 / 6)


@pytest.mark.parametrize(("pos", "neg", "auc", "var"), [
    # placements V10 = [1, 1, 1/2], V01 = [2/3, 1]: S10 = 1/12, S01 = 1/18; Var = 1/36 + 1/36
    ([0.9, 0.8, 0.4], [0.7, 0.3], 5 / 6, 1 / 18),
    # a tie counts one half: V10 = [3/4, 1], V01 = [3/4, 1]: S10 = S01 = 1/32; Var = 1/64 + 1/64
    ([0.5, 0.9], [0.5, 0.1], 7 / 8, 1 / 32),
])
def test_delong_variance_matches_the_hand_computation(pos, neg, auc, var):
    a, v = delong_auc(pos, neg)
    assert a == pytest.approx(auc) and v == pytest.approx(var)
    assert a == pytest.approx(roc_auc_score([1] * len(pos) + [0] * len(neg), pos + neg))


def test_auc_interval_and_exact_mann_whitney_p_value():
    y, s = np.array([1, 1, 1, 0, 0.0]), np.array([0.9, 0.8, 0.4, 0.7, 0.3])
    out = auc_skill(y, s)
    half = stats.norm.ppf(0.975) * math.sqrt(1 / 18)
    assert out["auc_low"] == pytest.approx(5 / 6 - half) and out["auc_high"] == 1.0  # clipped
    # U >= 5 of 6: the positives hold ranks {3, 4, 5} or {2, 4, 5} of the C(5, 3) = 10 equally likely sets
    assert out["auc_p_value"] == pytest.approx(2 / 10)


def test_too_few_and_empty_inputs_are_nan_safe():
    for out in (regression_skill([], [], []), regression_skill([1.0, 2.0], [1.0, 1.0], [1.5, 2.5]),
                classification_skill([], [], []), classification_skill([1.0, 0.0], [1.0, 1.0], [0.6, 0.4])):
        assert KEYS <= set(out) and out["verdict"].startswith("too few predictions")
        assert math.isnan(out["p_value"])
        json.dumps(out)
    flat = regression_skill(np.ones(50), np.ones(50), np.linspace(0.9, 1.1, 50))  # the forecast is no change
    assert flat["verdict"] == "no evidence of skill at 5% (the loss difference does not vary)"
    assert flat["r2_oos"] == 0.0


def test_verdict_strings():
    assert verdict(0.003, 100) == "skill at 5% (p=0.003)"
    assert verdict(0.41, 100) == "no evidence of skill at 5% (p=0.41)"
    assert verdict(1e-9, 100) == "skill at 5% (p<0.001)"
    assert verdict(0.01, 4) == "too few predictions (n=4)"


def random_walk(rng: np.random.Generator, n: int, signal: float) -> tuple[np.ndarray, ...]:
    """close, the next close and a forecast whose predictable share of the return is ``signal``."""
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    s = rng.normal(0, 0.01, n)
    r = signal * s + rng.normal(0, 0.01, n)
    return close, close * (1 + r), close * (1 + signal * s)


def test_noise_shows_no_skill_and_a_planted_signal_does():
    noisy = []  # forecasts of pure noise around the close, independent of the next return
    for seed in range(20):
        rng = np.random.default_rng(seed)
        close, nxt, _ = random_walk(rng, 400, 0.0)
        noisy.append(regression_skill(close * (1 + rng.normal(0, 0.002, 400)), close, nxt))
    assert all(KEYS <= set(o) for o in noisy)
    assert sum(o["p_value"] < 0.05 for o in noisy) <= 2 and all(o["r2_oos"] < 0.01 for o in noisy)
    assert sum(o["verdict"].startswith("no evidence") for o in noisy) >= 18
    for h in (1, 3):
        close, nxt, pred = random_walk(np.random.default_rng(7), 500, 0.7)
        planted = regression_skill(pred, close, nxt, horizon=h)
        assert planted["p_value"] < 0.01 and planted["verdict"].startswith("skill at 5%")
        assert planted["r2_oos"] == pytest.approx(0.33, abs=0.1)  # 0.49 / 1.49 of the variance


def test_classifier_noise_shows_no_skill_and_a_planted_signal_does():
    outs = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        y = (rng.random(300) < 0.55).astype(float)
        score = rng.random(300)
        outs.append(classification_skill(y, (score > 0.5).astype(float), score))
    assert sum(o["p_value"] < 0.05 for o in outs) <= 2 and sum(o["auc_p_value"] < 0.05 for o in outs) <= 2
    assert sum(o["verdict"].startswith("no evidence") for o in outs) >= 18
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.55).astype(float)
    always = classification_skill(y, np.full(300, float(y.mean() > 0.5)))  # the majority class every bar: no skill
    assert always["verdict"].startswith("no evidence") and always["accuracy"] == always["majority_rate"]
    score = 0.6 * y + rng.random(300)  # planted: the score leans towards the truth
    out = classification_skill(y, (score > 0.8).astype(float), score)
    assert out["p_value"] < 0.01 and out["verdict"].startswith("skill at 5%")
    assert out["auc_p_value"] < 0.01 and out["auc_low"] > 0.5 and out["auc_verdict"].startswith("skill at 5%")
