"""Next-price regressor (docs/reference-systems.md, system 2)."""

from __future__ import annotations

import torch
from torch import nn

from mlbt.models.networks.layers import lstm_layer


class PriceRegressor(nn.Module):
    """LSTM(128) -> LSTM(128) -> linear: the next bar's price (in the target's scaled units).

    | layer  | size                                    |
    |--------|-----------------------------------------|
    | LSTM   | 128 units (dropout after: 0 by default) |
    | LSTM   | 128 units (dropout after: 0 by default) |
    | dense  | 1, linear                               |

    Input (batch, 60, 5 features: close, volume, SMA20, EMA20, RSI14). Output (batch,).
    The seed lists no dropout; ``dropout`` is a parameter, 0 by default.
    """

    def __init__(self, n_features: int = 5, hidden: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.lstm1 = lstm_layer(n_features, hidden)
        self.drop1 = nn.Dropout(dropout)
        self.lstm2 = lstm_layer(hidden, hidden)
        self.drop2 = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop1(self.lstm1(x)[0])
        h = self.drop2(self.lstm2(h)[0][:, -1])
        return self.out(h).squeeze(-1)
