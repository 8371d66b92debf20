"""ML metrics against hand-computed numbers."""

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
