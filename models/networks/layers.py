"""Small building blocks shared by the networks. Tensors are (batch, time, features)."""

from __future__ import annotations

import torch
from torch import nn


class TimeBatchNorm(nn.BatchNorm1d):
    """Batch normalization of the last (feature) axis.

    Accepts (batch, time, features) or (batch, features). For sequences the statistics
    run over batch and time, as Keras' ``BatchNormalization()`` does on a sequence.
    Uses torch's defaults (momentum 0.1, eps 1e-5), not Keras' (0.99 / 1e-3): with few
    epochs Keras' slow running averages leave evaluation statistics far from training's.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            return super().forward(x.transpose(1, 2)).transpose(1, 2)
        return super().forward(x)


class AdditiveAttention(nn.Module):
    """Attention over time that pools a sequence to one vector.

    score_t = v . tanh(W h_t + b); weights = softmax of the scores over time;
    output = sum_t weights_t * h_t. (batch, time, dim) -> (batch, dim).
    Parameters: dim * dim + dim (W, b) + dim (v).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.score = nn.Linear(dim, 1, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(torch.tanh(self.proj(h))), dim=1)
        return (weights * h).sum(dim=1)


def lstm_layer(n_in: int, n_hidden: int) -> nn.LSTM:
    """One cuDNN-friendly LSTM layer: batch_first, so inputs are (batch, time, features)."""
    return nn.LSTM(n_in, n_hidden, batch_first=True)
