"""SL/TP multi-head network (docs/reference-systems.md, system 5)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from mlbt.models.networks.layers import lstm_layer

BUY, SELL, NO_TRADE = 0, 1, 2  # class indices of SLTPOutput.logits


class SLTPOutput(NamedTuple):
    """logits: (batch, 3) over (buy, sell, no trade); sl, tp: (batch,) in scaled units."""

    logits: torch.Tensor
    sl: torch.Tensor
    tp: torch.Tensor


class SLTPNet(nn.Module):
    """One LSTM(80) and three heads: action class, stop-loss, take-profit.

    | layer            | size                                         |
    |------------------|----------------------------------------------|
    | LSTM             | hidden 80, last step                         |
    | head: action     | 3 logits: buy / sell / no trade              |
    | head: stop-loss  | 1, clamped to [-clamp, clamp] (scaled units) |
    | head: take-profit| 1, clamped to [-clamp, clamp] (scaled units) |

    Input (batch, time, 13 percentage-change features), min-max scaled. The seed packed
    variable-length sequences; bt feeds fixed windows (every bar has a full lookback
    once warm), so no packing is needed. SL and TP come out in the target scaler's
    units; invert them with that scaler to get distances.
    """

    def __init__(self, n_features: int = 13, hidden: int = 80, clamp: float = 10.0) -> None:
        super().__init__()
        self.lstm = lstm_layer(n_features, hidden)
        self.action = nn.Linear(hidden, 3)
        self.stop_loss = nn.Linear(hidden, 1)
        self.take_profit = nn.Linear(hidden, 1)
        self.clamp = float(clamp)

    def forward(self, x: torch.Tensor) -> SLTPOutput:
        h = self.lstm(x)[0][:, -1]
        sl = self.stop_loss(h).squeeze(-1).clamp(-self.clamp, self.clamp)
        tp = self.take_profit(h).squeeze(-1).clamp(-self.clamp, self.clamp)
        return SLTPOutput(self.action(h), sl, tp)
