"""50ETF classifier (docs/reference-systems.md, system 1)."""

from __future__ import annotations

import torch
from torch import nn

from mlbt.models.networks.layers import lstm_layer


class ETF50Classifier(nn.Module):
    """2 stacked LSTM(15) with dropout 0.05 -> dense (leaky-ReLU) -> dense -> tanh.

    | layer            | size                     |
    |------------------|--------------------------|
    | LSTM + dropout   | 15 units, dropout 0.05   |
    | LSTM + dropout   | 15 units, dropout 0.05   |
    | dense, leaky-ReLU| ``head`` (15) units      |
    | dense, tanh      | 1 -> market state score  |

    Input (batch, time, 7 features), window 5 in the seed. Output (batch,) in (-1, 1):
    the sign is the binary market state (+1 buy, -1 sell; see ``state``). The seed's
    "keep-probability 0.95" dropout wrapped each cell's output, so dropout follows both
    layers. Its loss was not documented; the system defaults train the score with MSE
    against +1/-1 targets (models.config.SYSTEM_TRAINING).
    """

    def __init__(
        self, n_features: int = 7, hidden: int = 15, head: int = 15, dropout: float = 0.05, slope: float = 0.01
    ) -> None:
        super().__init__()
        self.lstm1 = lstm_layer(n_features, hidden)
        self.drop1 = nn.Dropout(dropout)
        self.lstm2 = lstm_layer(hidden, hidden)
        self.drop2 = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden, head)
        self.leaky_relu = nn.LeakyReLU(slope)
        self.out = nn.Linear(head, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop1(self.lstm1(x)[0])
        h = self.drop2(self.lstm2(h)[0][:, -1])
        h = self.leaky_relu(self.dense(h))
        return torch.tanh(self.out(h)).squeeze(-1)

    @staticmethod
    def state(score: torch.Tensor) -> torch.Tensor:
        """Binary market state from the score: +1 buy where score >= 0, else -1 sell."""
        return torch.where(score >= 0, 1, -1).to(torch.int8)
