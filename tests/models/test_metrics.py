"""ML metrics against hand-computed numbers, and against the hand-written implementation
bt shipped before scikit-learn (``legacy_metrics``, a frozen oracle): they agree to 1e-12."""

import itertools
import math

import numpy as np
import pytest
import torch

from mlbt.models.metrics import (
    accuracy,
    change_correlation,
    confusion_matrix,
    direction_accuracy,
    log_loss,
    mae,
    mse,
    per_class_accuracy,
    rmse,
    roc_auc,
    roc_curve,
)
from tests.models import legacy_metrics as legacy

# 50ETF-style states: +1 buy, -1 sell
TRUE = [1, 1, 1, 1, -1, -1, -1, -1, -1, -1]
PRED = [1, -1, -1, -1, -1, -1, -1, -1, 1, -1]


def test_accuracy_overall_and_per_class():
    assert accuracy(TRUE, PRED) == pytest.approx(0.6)  # 1 buy + 5 sells right out of 10
    by_true = per_class_accuracy(TRUE, PRED)
    assert by_true == {-1: pytest.approx(5 / 6), 1: pytest.approx(1 / 4)}  # "sell accuracy", "buy accuracy"
    by_pred = per_class_accuracy(TRUE, PRED, by="pred")
    assert by_pred == {-1: pytest.approx(5 / 8), 1: pytest.approx(1 / 2)}
    assert math.isnan(per_class_accuracy([1, 1], [1, 1], labels=[-1, 1])[-1])
    assert accuracy(torch.tensor(TRUE), torch.tensor(PRED)) == pytest.approx(0.6)


def test_confusion_matrix_rows_true_columns_predicted():
    m = confusion_matrix(TRUE, PRED, labels=[1, -1])
    assert m.tolist() == [[1, 3], [1, 5]]
    assert confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1]).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert confusion_matrix([0, 5], [0, 0], labels=[0, 1]).tolist() == [[1, 0], [0, 0]]  # 5 not counted


def brute_force_auc(y, s):
    pos = [b for a, b in zip(y, s, strict=True) if a == 1]
    neg = [b for a, b in zip(y, s, strict=True) if a == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_roc_auc_hand_and_brute_force():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts one half
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 2, 40)
        s = rng.integers(0, 6, 40) / 5.0  # many ties
        if 0 < y.sum() < 40:
            assert roc_auc(y, s) == pytest.approx(brute_force_auc(y, s))


def test_roc_curve_area_equals_auc():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)
    fpr, tpr, thresholds = roc_curve(y, s)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and thresholds[0] == np.inf
    area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)  # trapezoids handle ties as halves
    assert area == pytest.approx(roc_auc(y, s))


def test_log_loss_binary_and_multiclass():
    expected = -(math.log(0.9) + math.log(1 - 0.2) + math.log(0.6)) / 3
    assert log_loss([1, 0, 1], [0.9, 0.2, 0.6]) == pytest.approx(expected)
    assert log_loss([1, 0], [1.0, 0.0]) == pytest.approx(-math.log(1 - 1e-15))  # clipped, finite
    probs = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
    assert log_loss([0, 2], probs) == pytest.approx(-(math.log(0.7) + math.log(0.8)) / 2)
    # rows that do not sum to 1 are normalized (scikit-learn's rule): 0.4/0.8 and 0.3/0.6
    assert log_loss([0, 1], [[0.4, 0.2, 0.2], [0.3, 0.3, 0.0]]) == pytest.approx(-math.log(0.5))
    assert log_loss([1, 0, 1], [0.9, float("nan"), 0.6]) == pytest.approx(-(math.log(0.9) + math.log(0.6)) / 2)


def test_regression_errors():
    t, p = [1.0, 2.0, 4.0, float("nan")], [2.0, 2.0, 1.0, 5.0]
    assert mae(t, p) == pytest.approx((1 + 0 + 3) / 3)
    assert mse(t, p) == pytest.approx((1 + 0 + 9) / 3)
    assert rmse(t, p) == pytest.approx(math.sqrt(10 / 3))


def test_direction_is_measured_on_the_predicted_change():
    close = [100.0, 101.0, 102.0, 101.0, 101.0]
    next_close = [101.0, 102.0, 101.0, 101.0, 103.0]  # up, up, down, flat (skipped), up
    pred = [100.5, 100.9, 101.5, 105.0, 101.0]  # up, down, down, -, zero change (wrong)
    assert direction_accuracy(pred, close, next_close) == pytest.approx(2 / 4)
    # a lagging "prediction" (next price = current close + noise) tracks price levels closely
    # (level correlation ~1) but has no directional skill
    rng = np.random.default_rng(0)
    c = 100 + np.cumsum(rng.normal(size=2000))
    lag = c[:-1] + rng.normal(scale=0.01, size=1999)
    assert np.corrcoef(lag, c[1:])[0, 1] > 0.99
    assert abs(direction_accuracy(lag, c[:-1], c[1:]) - 0.5) < 0.05


def test_change_correlation():
    close = np.array([10.0, 10.0, 10.0, 10.0])
    next_close = np.array([11.0, 9.0, 12.0, 10.0])  # actual changes 1, -1, 2, 0
    pred = close + np.array([2.0, -2.0, 4.0, 0.0])  # exactly twice the actual change
    assert change_correlation(pred, close, next_close) == pytest.approx(1.0)
    assert change_correlation(close - np.array([1.0, -1.0, 2.0, 0.0]), close, next_close) == pytest.approx(-1.0)
    assert math.isnan(change_correlation(close, close, next_close))  # constant prediction


# -- before/after: scikit-learn against the frozen hand-written implementation ----------

def close(new, old):
    np.testing.assert_allclose(new, old, rtol=1e-12, atol=1e-12)


def nan_dict_equal(new, old):
    np.testing.assert_array_equal(np.array(list(new)), np.array(list(old)))  # same keys, in order (NaN too)
    close(np.array(list(new.values())), np.array(list(old.values())))  # NaN where the old code had NaN


def label_sets(rng):
    """Binary and multi-class labels: ints, signed floats, strings, classes absent from one side."""
    n = int(rng.integers(1, 200))
    yield rng.integers(0, 2, n), rng.integers(0, 2, n)
    yield rng.choice([-1.0, 1.0], n), rng.choice([-1.0, 1.0], n)
    yield rng.integers(0, 2, n).astype(float), rng.random(n) > 0.5  # 0/1 labels vs a boolean call
    yield rng.integers(0, 5, n), rng.integers(0, 4, n)  # class 4 is never predicted
    yield rng.choice(["buy", "hold", "sell"], n), rng.choice(["buy", "sell"], n)
    t = rng.integers(0, 3, n).astype(float)
    yield t, np.where(rng.random(n) < 0.7, t, rng.integers(0, 3, n))  # mostly right


@pytest.mark.parametrize("seed", range(10))
def test_classification_agrees_with_the_legacy_code(seed):
    rng = np.random.default_rng(seed)
    for t, p in label_sets(rng):
        close(accuracy(t, p), legacy.accuracy(t, p))
        np.testing.assert_array_equal(confusion_matrix(t, p), legacy.confusion_matrix(t, p))
        labels = np.unique(t)[::-1]  # a chosen order, and a subset: predictions outside it are not counted
        np.testing.assert_array_equal(confusion_matrix(t, p, labels=labels), legacy.confusion_matrix(t, p, labels))
        for by in ("true", "pred"):
            nan_dict_equal(per_class_accuracy(t, p, by=by), legacy.per_class_accuracy(t, p, by=by))
            nan_dict_equal(per_class_accuracy(t, p, labels=labels, by=by),
                           legacy.per_class_accuracy(t, p, labels=labels, by=by))


def test_classification_edge_cases_agree_with_the_legacy_code():
    cases = [([], []), ([1.0, np.nan, 2.0], [1.0, np.nan, 3.0]),  # NaN labels never match
             ([0.5, 1.5, 0.5], [0.5, 0.5, 2.5])]  # float-valued classes
    for t, p in cases:
        a, b = accuracy(t, p), legacy.accuracy(t, p)
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)
        for labels in (None, [0.5, 1.0, 7.0]):
            np.testing.assert_array_equal(confusion_matrix(t, p, labels), legacy.confusion_matrix(t, p, labels))
            nan_dict_equal(per_class_accuracy(t, p, labels), legacy.per_class_accuracy(t, p, labels))
    assert confusion_matrix([0, 5], [5, 0], labels=[0, 1]).tolist() == [[0, 0], [0, 0]]  # none counted
    assert confusion_matrix([1], [1], labels=[]).shape == (0, 0)  # the legacy code raised IndexError here


def scores(rng, n):
    """Binary labels and scores with ties (rounded), NaN labels and NaN/inf scores."""
    y = rng.integers(0, 2, n).astype(float)
    s = np.round(rng.normal(size=n) + 0.7 * y, int(rng.integers(0, 3)))
    y[rng.random(n) < 0.05] = np.nan
    s[rng.random(n) < 0.05] = np.nan
    s[rng.random(n) < 0.01] = np.inf
    return y, s


@pytest.mark.parametrize("seed", range(20))
def test_roc_agrees_with_the_legacy_code(seed):
    rng = np.random.default_rng(seed)
    y, s = scores(rng, int(rng.integers(2, 500)))
    close(roc_auc(y, s), legacy.roc_auc(y, s))
    for new, old in zip(roc_curve(y, s), legacy.roc_curve(y, s), strict=True):
        assert new.shape == old.shape
        close(new, old)
    only_pos = np.ones(len(s))
    assert math.isnan(roc_auc(only_pos, s)) and math.isnan(legacy.roc_auc(only_pos, s))
    for new, old in zip(roc_curve(only_pos, s), legacy.roc_curve(only_pos, s), strict=True):
        close(new, old)  # the absent class's rate is 0, not NaN
    for new, old in zip(roc_curve([], []), legacy.roc_curve([], []), strict=True):
        close(new, old)


@pytest.mark.parametrize("seed", range(10))
def test_log_loss_agrees_with_the_legacy_code(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    y = rng.integers(0, 2, n).astype(float)
    prob = rng.random(n)
    prob[rng.random(n) < 0.1] = rng.choice([0.0, 1.0])  # clipped to eps
    prob[rng.random(n) < 0.05] = np.nan
    y[rng.random(n) < 0.05] = np.nan
    close(log_loss(y, prob), legacy.log_loss(y, prob))
    close(log_loss(y, prob, eps=1e-7), legacy.log_loss(y, prob, eps=1e-7))
    close(log_loss(np.ones(n), prob), legacy.log_loss(np.ones(n), prob))  # one class only
    k = int(rng.integers(2, 6))
    yk = rng.integers(0, k, n).astype(float)
    pk = rng.random((n, k))
    pk[rng.random((n, k)) < 0.05] = 0.0
    pk[rng.random(n) < 0.05, 0] = np.nan
    close(log_loss(yk, pk), legacy.log_loss(yk, pk))  # rows not summing to 1: normalized
    with np.errstate(invalid="ignore"):  # a row of zeros becomes NaN: skipped by both
        pk = pk / pk.sum(axis=1, keepdims=True)
    close(log_loss(yk, pk), legacy.log_loss(yk, pk))
    close(log_loss(torch.tensor(yk), torch.tensor(pk)), legacy.log_loss(yk, pk))
    assert math.isnan(log_loss([np.nan], [0.5])) and math.isnan(legacy.log_loss([np.nan], [0.5]))
    assert math.isnan(log_loss([0.0], [[np.nan, 1.0]])) and math.isnan(legacy.log_loss([0.0], [[np.nan, 1.0]]))


@pytest.mark.parametrize("seed", range(10))
def test_regression_agrees_with_the_legacy_code(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 500))
    t, p = rng.normal(size=n) * 100, rng.normal(size=n) * 100
    t[rng.random(n) < 0.1] = np.nan
    p[rng.random(n) < 0.1] = np.inf
    for new, old in ((mae, legacy.mae), (mse, legacy.mse), (rmse, legacy.rmse)):
        close(new(t, p), old(t, p))
        close(new(torch.tensor(t), p), old(t, p))
        assert math.isnan(new([np.nan], [1.0])) and math.isnan(old([np.nan], [1.0]))
        with pytest.raises(ValueError, match="differ in length"):
            new([1.0, 2.0], [1.0])
