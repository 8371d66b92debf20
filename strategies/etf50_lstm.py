"""50ETF classifier (docs/reference-systems.md, system 1): always long or short an equity index.

Market: the S&P 500 with the VIX as its implied-volatility index (the sample
``spx_vix_1d``: 1,257 daily bars, 2014-2018), standing in for China's 50ETF and its IVX.

Features: the ``etf50`` set, 7 inputs per bar: log return, high-low range, close-open
return, volume ratio (volume / its 20-bar mean), volume change, implied volatility (the
bars' ``ivx``) and its log change; standard-scaled on each fold's training rows only.

Model: 2 stacked LSTM(15) with dropout 0.05 (the seed's keep-probability 0.95), a
leaky-ReLU dense layer and a tanh output: a score in (-1, 1) (``mlbt.models.ETF50Classifier``;
fast and full profiles are the same size). Adam, lr 0.005, MSE of the score against the
+1/-1 label (the seed named no loss; ``mlbt.models.SYSTEM_TRAINING["etf50"]``). Window
``lookback`` = 5 bars, as the seed.

Label: +1 when the next close is above the current close (close[t+1] > close[t]), else
-1: a day with an unchanged close counts as "sell" (no rise), so every bar with a next
bar has a label (horizon 1). The seed said "market state" without defining it; the
next day's direction is the plainest reading of a buy/sell state for a daily model.

Walk-forward: expanding training windows; the first model trains on ``min_train`` = 500
samples (about two years), then retrains every ``retrain_every`` = 250 bars (one
trading year), so the sample gives 3 out-of-sample folds (about 720 predicted days).
The seed trained once; retraining yearly keeps every prediction out of sample.

Signal at bar t (filled at t+1's open): always in the market, +1 (buy) when the score
>= ``threshold``, else -1 (sell), as the seed's binary state; ``allow_short=0`` turns
the sell state into flat. ``threshold`` (default 0, the sign of the score) shifts the
boundary to trade the model's bias; sweep it. Fee default 0.0005 per fill (5 basis
points, ours: the seed gave none).

ML metrics (out of sample, bars with a prediction and a label): accuracy, buy accuracy
and sell accuracy (recall of each true class, as the seed's "buy 43%, sell 73%"), the
confusion matrix counts (true x predicted), the share of buy calls, and direction
accuracy (sign of the call vs the sign of the next close's change, flat days left out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlbt import Param, Signals, Strategy
from mlbt.strategy import Context, Grid

if TYPE_CHECKING:  # mlbt.models loads torch; walk_forward() imports it when it runs
    from mlbt.models import WalkForward


class ETF50LSTM(Strategy):
    name = "etf50_lstm"
    description = "LSTM buy/sell state of an equity index from price, volume and implied volatility; always in."
    data = "spx_vix_1d"
    fee = 0.0005
    features = "etf50"
    network = "etf50"
    params = {
        "lookback": Param(5, low=2, high=250, model=True, doc="bars per input window (seed: 5)"),
        "min_train": Param(500, low=50, high=1_000_000, model=True, doc="training samples before the first fold"),
        "retrain_every": Param(250, low=5, high=100_000, model=True, doc="bars between retrainings"),
        "epochs": Param(50, low=1, high=1000, model=True, doc="max epochs per fold (early stopping may end sooner)"),
        "patience": Param(10, low=1, high=100, model=True, doc="early-stopping patience, epochs (ours)"),
        "batch_size": Param(64, low=8, high=65536, model=True, doc="training batch size (seed: not stated)"),
        "threshold": Param(0.0, low=-1.0, high=1.0, doc="buy when the tanh score >= this, else sell"),
        "allow_short": Param(True, doc="go short in the sell state (else flat)"),
    }

    def walk_forward(self) -> WalkForward:
        from mlbt.models import WalkForward

        return WalkForward(lookback=self.lookback, horizon=1, min_train=self.min_train,
                           retrain_every=self.retrain_every, scaler="standard", target_scalers=(None,))

    def labels(self, ctx: Context) -> np.ndarray:
        close = ctx.bars["close"].to_numpy()
        return np.r_[np.where(close[1:] > close[:-1], 1.0, -1.0), np.nan]  # uses bar t+1: horizon 1

    def signals(self, ctx: Context, p: Grid) -> Signals:
        score = ctx.col("prediction")
        target = np.where(score >= p.threshold, 1.0, np.where(p.allow_short, -1.0, 0.0))
        target[np.isnan(score[:, 0])] = np.nan  # no model yet: stay flat
        return Signals(target=target)

    def ml_metrics(self, ctx: Context) -> dict:
        from mlbt.models.metrics import accuracy, confusion_matrix, direction_accuracy, per_class_accuracy
        from mlbt.models.skill import classification_skill

        close = ctx.bars["close"].to_numpy()
        score, label = ctx.col("prediction")[:, 0], self.labels(ctx)
        known = np.isfinite(score) & np.isfinite(label)
        call = np.where(score >= self.threshold, 1.0, -1.0)
        t, c = label[known], call[known]
        per = per_class_accuracy(t, c, labels=[1.0, -1.0])
        cm = confusion_matrix(t, c, labels=[1.0, -1.0])  # rows/cols: buy, sell
        return {"predicted_bars": int(known.sum()), "accuracy": accuracy(t, c),
                "buy_accuracy": per[1.0], "sell_accuracy": per[-1.0],
                "true_buy_called_buy": int(cm[0, 0]), "true_buy_called_sell": int(cm[0, 1]),
                "true_sell_called_buy": int(cm[1, 0]), "true_sell_called_sell": int(cm[1, 1]),
                "buy_share": float(np.mean(c > 0)) if known.any() else float("nan"),
                "direction_accuracy": direction_accuracy(np.where(known, close + call, np.nan), close,
                                                         np.r_[close[1:], np.nan]),
                "skill": classification_skill(label, np.where(known, call, np.nan), score,
                                              previous=np.r_[np.nan, label[:-1]])}  # the previous bar's direction
