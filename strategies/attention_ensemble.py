"""Attention ensemble (docs/reference-systems.md, system 4): a direction probability from three
attention LSTMs, traded only when the members agree, sized Kelly-style.

Features: the ``attention`` set (the seed's 15 feature groups as 19 inputs: returns, log
returns, high-low %, close-open %, SMA/EMA 5/10/20, volatility(20), ATR(14), volume
ratio, volume-price trend, RSI(14), MACD, signal and diff, Bollinger position),
standard-scaled on each fold's training rows only. Window ``lookback`` = 60 bars.

Model: 3 members (``mlbt.models.AttentionEnsemble``), each LSTM -> dropout -> LSTM -> dropout
-> additive attention over time -> dense (ReLU) + dropout -> dense (ReLU) -> sigmoid;
the first member has the seed's sizes (64/32, dense 32/16, dropout 0.2), the other two
vary width and dropout (the seed did not name them; the fast profile halves them).
Binary cross-entropy on every member, Adam lr 0.001.

Label: 1 when close[t + horizon] > close[t], else 0 (a flat close counts as down), with
``horizon`` = 5 bars (the seed's prediction_horizon). The walk-forward embargo equals
the horizon, so no training label reaches past the first bar a fold predicts.
Walk-forward (ours; the seed trained once): the first fold after ``min_train`` = 5,000
samples, a retraining every 5,100 bars (3 folds on the hourly sample), expanding
windows (``train_window`` > 0 trains on the last that many samples instead); batches of
64, up to 20 epochs with early stopping (patience 3).

Signal at bar t (filled at t+1's open): probability p = mean of the members,
confidence = 1 - their standard deviation (``AttentionEnsemble.combine``). Trade only
when confidence > min_confidence (0.65): long when p > 0.5 + margin, short when
p < 0.5 - margin (margin 0 by default, ours), else flat. Size on entry, a fraction of
equity: edge x confidence x kelly_fraction with edge = |p - 0.5| x 2, capped at 1
(kelly_fraction = 1 is the seed's rule) and rounded to 0.0001 (whole basis points of
equity, ours; a size that rounds to 0 means no trade). The target is set every bar,
so a trade lasts while p stays on its side and both filters hold: a bar whose
confidence falls to 0.65 or whose size rounds to 0 closes it (the seed gave no exit
besides the signal).

ML metrics (out of sample, bars with a prediction and a label): directional accuracy
(p > 0.5 vs the label), ROC AUC of p, log loss, the confusion matrix counts, mean
confidence, and the share of predicted bars that trade at the current settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlbt import Param, Signals, Strategy
from mlbt.strategy import Conditions, Context, Grid

if TYPE_CHECKING:  # mlbt.models loads torch; walk_forward() imports it when it runs
    from mlbt.models import WalkForward


class AttentionEnsembleLSTM(Strategy):
    name = "attention_ensemble"
    description = "Ensemble of 3 attention LSTMs: direction probability, agreement filter, Kelly-style sizing."
    data = "btcusd_1h"
    fee = 0.001
    features = "attention"
    network = "attention_ensemble"
    training = {"lr_patience": 1}  # reduce the LR after one flat epoch (ours)
    params = {
        "lookback": Param(60, low=5, high=500, model=True, doc="bars per input window (seed: 60)"),
        "horizon": Param(5, low=1, high=500, model=True, doc="label: direction of the close this many bars ahead"),
        "retrain_every": Param(5100, low=24, high=100_000, model=True, doc="bars between retrainings"),
        "min_train": Param(5000, low=100, high=1_000_000, model=True, doc="training samples before the first fold"),
        "train_window": Param(0, low=0, high=1_000_000, model=True,
                              doc="train on the last this many samples, at least min_train (0 = all)"),
        "epochs": Param(20, low=1, high=500, model=True, doc="max epochs per fold (early stopping may end sooner)"),
        "patience": Param(3, low=1, high=100, model=True, doc="early-stopping patience, epochs (ours)"),
        "batch_size": Param(64, low=8, high=65536, model=True, doc="training batch size (seed: not stated)"),
        "min_confidence": Param(0.65, low=0.0, high=1.0, doc="trade only when 1 - std of the members exceeds this"),
        "margin": Param(0.0, low=0.0, high=0.5, doc="long above 0.5 + margin, short below 0.5 - margin"),
        "kelly_fraction": Param(1.0, low=0.0, high=10.0, doc="size = this x edge x confidence, capped at 1"),
        "allow_short": Param(True, doc="take short signals (else flat)"),
    }

    def walk_forward(self) -> WalkForward:
        from mlbt.models import WalkForward

        window = max(self.train_window, self.min_train) if self.train_window else None  # None: expanding
        return WalkForward(lookback=self.lookback, horizon=self.horizon, min_train=self.min_train,
                           retrain_every=self.retrain_every, train_window=window, scaler="standard",
                           target_scalers=(None,))

    def labels(self, ctx: Context) -> np.ndarray:
        close, h = ctx.bars["close"].to_numpy(), self.horizon
        y = np.full(len(close), np.nan)
        y[:-h] = (close[h:] > close[:-h]).astype("float64")  # uses bars up to t + horizon
        return y

    def probability(self, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        """(p, confidence) per bar as (T, 1) arrays, NaN before the first fold."""
        import torch

        from mlbt.models import AttentionEnsemble

        members = ctx.predictions.filter(regex=r"^prediction_\d+$").to_numpy(dtype="float64")
        p, conf = AttentionEnsemble.combine(torch.tensor(members))
        return p.numpy()[:, None], conf.numpy()[:, None]

    def kelly_size(self, prob: np.ndarray, conf: np.ndarray, p: Grid) -> np.ndarray:
        """Fraction of equity: edge x confidence x kelly_fraction, edge = |p - 0.5| x 2, capped at 1."""
        return np.round(np.minimum(np.abs(prob - 0.5) * 2 * conf * p.kelly_fraction, 1.0), 4)  # steps of 1 bp

    def conditions(self, ctx: Context, p: Grid) -> Conditions:
        prob, conf = self.probability(ctx)
        sure = [("confidence > min_confidence", conf > p.min_confidence),
                ("Kelly size >= 1 bp", self.kelly_size(prob, conf, p) > 0)]
        return {"long": [("p > 0.5 + margin", prob > 0.5 + p.margin), *sure],
                "short": [("p < 0.5 - margin", prob < 0.5 - p.margin), *sure,
                          ("allow_short", np.asarray(p.allow_short, dtype=bool))]}

    def signals(self, ctx: Context, p: Grid) -> Signals:
        prob, conf = self.probability(ctx)
        long, short = self.entries(self.conditions(ctx, p))
        target = np.where(long, 1.0, np.where(short, -1.0, 0.0))
        target[np.isnan(prob[:, 0])] = np.nan  # no model yet: stay flat
        size = self.kelly_size(prob, conf, p)
        size = np.where(size > 0, size, 1.0)  # placeholder where no entry can happen (the engine wants (0, 1])
        return Signals(target=target, size=size)

    def details(self, ctx: Context) -> dict[str, np.ndarray]:
        """The ensemble's probability of an up move and its confidence (1 - std)."""
        prob, conf = self.probability(ctx)
        return {"probability": prob[:, 0], "confidence": conf[:, 0]}

    def ml_metrics(self, ctx: Context) -> dict:
        from mlbt.models.metrics import accuracy, confusion_matrix, log_loss, roc_auc
        from mlbt.models.skill import classification_skill

        prob, conf = (a[:, 0] for a in self.probability(ctx))
        label = self.labels(ctx)
        known = np.isfinite(prob) & np.isfinite(label)
        y, q = label[known], prob[known]
        cm = confusion_matrix(y, (q > 0.5).astype("float64"), labels=[0.0, 1.0])
        edge = np.abs(q - 0.5) * 2
        traded = ((conf[known] > self.min_confidence) & (np.round(edge * conf[known] * self.kelly_fraction, 4) > 0)
                  & (np.abs(q - 0.5) > self.margin) & ((q > 0.5) | self.allow_short))
        return {"predicted_bars": int(known.sum()), "directional_accuracy": accuracy(y, q > 0.5),
                "roc_auc": roc_auc(y, q), "log_loss": log_loss(y, q),
                "true_down_called_down": int(cm[0, 0]), "true_down_called_up": int(cm[0, 1]),
                "true_up_called_down": int(cm[1, 0]), "true_up_called_up": int(cm[1, 1]),
                "mean_confidence": float(conf[known].mean()) if known.any() else float("nan"),
                "traded_share": float(traded.mean()) if known.any() else float("nan"),
                "skill": classification_skill(label, np.where(prob > 0.5, 1.0, 0.0), prob,  # NaN prob: skipped
                                              previous=np.r_[np.full(self.horizon, np.nan), label[:-self.horizon]])}
