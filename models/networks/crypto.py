"""Crypto multi-filter regressor (docs/reference-systems.md, system 3)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mlbt.models.networks.layers import TimeBatchNorm, lstm_layer


class CryptoRegressor(nn.Module):
    """Batch-normed 3-layer LSTM stack and a swish dense head: the next price.

    | layer                          | size (full)          |
    |--------------------------------|----------------------|
    | batch-norm on input            | 14 features          |
    | LSTM -> dropout -> batch-norm  | 256, dropout 0.3     |
    | LSTM -> dropout -> batch-norm  | 128, dropout 0.3     |
    | LSTM -> dropout -> batch-norm  | 64, dropout 0.2, last step only |
    | dense, swish -> dropout        | 64, dropout 0.2      |
    | dense, swish                   | 32                   |
    | dense, linear                  | 1: predicted price (scaled units) |

    Input (batch, 60, 14 features), robust-scaled. Output (batch,).

    Recurrent dropout: the seed also used recurrent dropout 0.1-0.2 inside the LSTM
    cells. cuDNN's fused LSTM cannot drop the recurrent state, and an unfused cell loop
    is an order of magnitude slower on a GPU, so this network keeps cuDNN layers and
    relies on the listed between-layer dropouts (0.3, 0.3, 0.2) alone.
    """

    def __init__(
        self,
        n_features: int = 14,
        lstm: Sequence[int] = (256, 128, 64),
        dropout: Sequence[float] = (0.3, 0.3, 0.2),
        dense: Sequence[int] = (64, 32),
        dense_dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if len(lstm) != 3 or len(dropout) != 3 or len(dense) != 2:
            raise ValueError(f"crypto net: want 3 LSTM sizes, 3 dropouts, 2 dense; got {lstm}, {dropout}, {dense}")
        self.input_norm = TimeBatchNorm(n_features)
        self.lstm1 = lstm_layer(n_features, lstm[0])
        self.drop1, self.norm1 = nn.Dropout(dropout[0]), TimeBatchNorm(lstm[0])
        self.lstm2 = lstm_layer(lstm[0], lstm[1])
        self.drop2, self.norm2 = nn.Dropout(dropout[1]), TimeBatchNorm(lstm[1])
        self.lstm3 = lstm_layer(lstm[1], lstm[2])
        self.drop3, self.norm3 = nn.Dropout(dropout[2]), TimeBatchNorm(lstm[2])
        self.dense1, self.drop4 = nn.Linear(lstm[2], dense[0]), nn.Dropout(dense_dropout)
        self.dense2 = nn.Linear(dense[0], dense[1])
        self.out = nn.Linear(dense[1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_norm(x)
        h = self.norm1(self.drop1(self.lstm1(h)[0]))
        h = self.norm2(self.drop2(self.lstm2(h)[0]))
        h = self.norm3(self.drop3(self.lstm3(h)[0][:, -1]))
        h = self.drop4(F.silu(self.dense1(h)))  # swish = SiLU
        h = F.silu(self.dense2(h))
        return self.out(h).squeeze(-1)
