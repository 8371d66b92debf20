"""Sliding windows: equal to a naive loop, views of the input, aligned to the bar they end at."""

import numpy as np
import pytest
import torch

from mlbt.models import sliding_windows, valid_windows, window_end_bars


def naive_windows(x, length):
    return torch.stack([x[t - length + 1 : t + 1] for t in range(length - 1, len(x))])


@pytest.mark.parametrize("length", [1, 3, 7])
def test_equals_a_naive_loop(length):
    x = torch.arange(7 * 3, dtype=torch.float32).reshape(7, 3)
    w = sliding_windows(x, length)
    assert w.shape == (7 - length + 1, length, 3)
    assert torch.equal(w, naive_windows(x, length))


def test_one_dimensional_input():
    x = torch.arange(6.0)
    assert torch.equal(sliding_windows(x, 2), torch.tensor([[0.0, 1], [1, 2], [2, 3], [3, 4], [4, 5]]))


def test_windows_are_views_not_copies():
    x = torch.randn(50, 4)
    w = sliding_windows(x, 10)
    assert w.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    assert w._is_view()
    x[20, 1] = 123.0  # visible through every window that holds bar 20
    assert (w[11:21, :, 1] == 123.0).sum() == 10


def test_numpy_input_shares_memory():
    a = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    w = sliding_windows(a, 5)
    a[4, 0] = 7.0
    assert w[0, 4, 0] == 7.0 and w[4, 0, 0] == 7.0


def test_alignment_window_for_bar_t_ends_at_t():
    x = torch.arange(10.0).unsqueeze(1)  # feature value = bar number
    w = sliding_windows(x, 4)
    ends = window_end_bars(10, 4)
    assert ends.tolist() == list(range(3, 10))
    # the last bar of each window is its end bar t, the first is t - length + 1: nothing after t
    assert torch.equal(w[:, -1, 0], ends.float())
    assert torch.equal(w[:, 0, 0], ends.float() - 3)


def test_valid_windows_matches_a_naive_check():
    x = torch.randn(20, 3)
    x[2, 1] = float("nan")
    x[9, 0] = float("inf")
    for length in (1, 3, 5):
        expected = torch.isfinite(naive_windows(x, length)).flatten(1).all(1)
        assert torch.equal(valid_windows(x, length), expected)
    assert valid_windows(torch.tensor([1.0, float("nan"), 2.0, 3.0]), 2).tolist() == [False, False, True]


def test_bad_length_is_refused():
    with pytest.raises(ValueError, match="window length"):
        sliding_windows(torch.zeros(5, 2), 6)
    with pytest.raises(ValueError, match="window length"):
        sliding_windows(torch.zeros(5, 2), 0)
