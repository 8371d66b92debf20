"""Sliding windows over a bar-indexed feature matrix, as views.

Alignment: row i of ``sliding_windows(x, length)`` holds bars i .. i+length-1, so it is
the window *for bar t = i + length - 1*: the bars t-length+1 .. t, everything a
prediction made at bar t's close may see and nothing later. ``window_end_bars`` gives
t for every row. Targets (e.g. bar t+1's close) are aligned by the caller to t.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_tensor(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    # torch.as_tensor shares memory with a numpy array of a torch dtype (no copy).
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x)


def _check_length(n_bars: int, length: int) -> None:
    if not 1 <= length <= n_bars:
        raise ValueError(f"window length {length} must be between 1 and the number of bars ({n_bars})")


def sliding_windows(x: torch.Tensor | np.ndarray, length: int) -> torch.Tensor:
    """Windows of ``length`` bars ending at each bar from ``length - 1`` on.

    x: (bars, features) or (bars,), bars in time order. Returns a view sharing x's
    storage (no copy, built with ``Tensor.unfold``): (bars - length + 1, length, features)
    or (bars - length + 1, length). Row i = x[i : i + length], the window for bar
    i + length - 1. A numpy array is wrapped without copying. Index the view (or call
    ``.contiguous()``) to materialize a batch; do not write to it.
    """
    x = _as_tensor(x)
    if x.dim() not in (1, 2):
        raise ValueError(f"x must be (bars, features) or (bars,), got shape {tuple(x.shape)}")
    _check_length(x.shape[0], length)
    w = x.unfold(0, length, 1)  # (windows, features, length): unfold appends the window axis
    return w if x.dim() == 1 else w.transpose(1, 2)


def window_end_bars(n_bars: int, length: int) -> torch.Tensor:
    """The bar t whose window each row of ``sliding_windows`` is: arange(length - 1, n_bars)."""
    _check_length(n_bars, length)
    return torch.arange(length - 1, n_bars)


def valid_windows(x: torch.Tensor | np.ndarray, length: int) -> torch.Tensor:
    """Boolean (bars - length + 1,): True where the window holds only finite values.

    Use it to drop indicator warm-up rows (NaN) from training and inference. Counts bad
    bars with a cumulative sum, so it costs O(bars x features), whatever the length.
    """
    x = _as_tensor(x)
    _check_length(x.shape[0], length)
    bad_bar = ~torch.isfinite(x) if x.dim() == 1 else ~torch.isfinite(x).all(dim=-1)
    count = torch.cat([torch.zeros(1, dtype=torch.long, device=bad_bar.device), bad_bar.long().cumsum(0)])
    return (count[length:] - count[:-length]) == 0
