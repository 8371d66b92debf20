"""SL/TP multi-head LSTM (docs/reference-systems.md, system 5): buy / sell / no trade, and each
trade's own stop-loss and take-profit.

Features: the ``sltp`` set, 13 one-bar percentage changes (open, high, low, close,
volume, SMA 10, EMA 10, RSI 14, MACD, MACD signal, Bollinger upper and lower, ATR 14),
min-max scaled on each fold's training rows only, as the seed. (pct MACD is heavy-tailed
near zero crossings; the seed min-max scaled it anyway, and so do we.) Window
``lookback`` = 60 bars; the seed's variable-length packed sequences become fixed windows.

Model: one LSTM (hidden 80; 32 in the fast profile) and three heads: class logits (buy,
sell, no trade) and SL and TP regressions clamped to [-10, 10] in scaled units
(``mlbt.models.SLTPNet``). Loss: class-weighted ("balanced") cross-entropy + smooth-L1 on SL
and TP, Adam lr 0.001; batches of 64, up to 20 epochs with early stopping (patience 3;
the seed stated neither). Walk-forward (ours): expanding windows, the first fold after
6,000 samples, a retraining every 3,500 bars: 4 folds on the hourly sample.

Labels: the seed learned from a log of its past trades; we have none, so each bar is
labelled from the data by a triple-barrier rule. With c = close[t] and a = ATR(14)[t],
the long trade has target c + tp_atr x a and stop c - sl_atr x a; the short trade the
mirror. Over bars t+1 .. t+horizon (highs and lows): buy if the long target is touched
before the long stop (a bar touching both counts as the stop, as the engine's
pessimistic stop_tie), sell for the mirror, the earlier one if both, no trade
otherwise. Defaults sl_atr 1, tp_atr 2, horizon 24 bars give roughly a third of each
class on hourly BTC. SL and TP targets are the barrier distances as fractions of the
close, sl_atr x a / c and tp_atr x a / c (min-max scaled per fold, predictions inverted
back). The inputs are percentage changes with no volatility level in them, so the heads
mostly learn the training period's typical distance (compare ``sl_mae`` with the spread
of sl_atr x ATR / close). The walk-forward embargo equals ``horizon``.

Signal at bar t (filled at t+1's open): the argmax class, if its softmax probability
>= min_prob (else no trade): buy +1, sell -1. The entry carries its predicted SL and TP,
clipped to [stop_min, stop_max] (NaN where no prediction), as per-bar Signals(sl, tp),
so each trade gets its own stops; ``max_hold`` (default = 24, the label's vertical
barrier) closes it. The label and the trade are one bar apart: the label measures
from close[t] over bars t+1 .. t+horizon, while the trade enters at open[t+1], puts
its stops around that fill, and checks them from bar t+2 (a touch during bar t+1 counts
in the label but cannot stop the trade). Every buy or sell call is an entry signal (``Signals.reentry``):
while flat it opens a trade at the next open, also right after a stop or ``max_hold``
exit; an opposite call reverses the trade; no-trade bars keep it (``exit_on_neutral=1``
closes it there).

ML metrics (out of sample): class accuracy and per-class accuracy (recall of each true
class), the 3 x 3 confusion matrix counts, and MAE of the SL and TP fractions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlbt import Param, Signals, Strategy
from mlbt.strategy import Conditions, Context, Grid

if TYPE_CHECKING:  # mlbt.models loads torch; walk_forward() imports it when it runs
    from mlbt.models import WalkForward

CLASSES = ("buy", "sell", "no_trade")  # mlbt.models.BUY, SELL, NO_TRADE = 0, 1, 2


class SLTPLSTM(Strategy):
    name = "sltp_lstm"
    description = "LSTM with class, stop-loss and take-profit heads; each trade carries its predicted stops."
    data = "btcusd_1h"
    fee = 0.001
    features = "sltp"
    network = "sltp"
    training = {"lr_patience": 1}  # reduce the LR after one flat epoch (ours)
    params = {
        "lookback": Param(60, low=5, high=500, model=True, doc="bars per input window"),
        "horizon": Param(24, low=1, high=10_000, model=True, doc="label: bars the barriers stay open"),
        "sl_atr": Param(1.0, low=0.01, high=100.0, model=True, doc="label: stop barrier, multiple of ATR(14)"),
        "tp_atr": Param(2.0, low=0.01, high=100.0, model=True, doc="label: target barrier, multiple of ATR(14)"),
        "retrain_every": Param(3500, low=24, high=100_000, model=True, doc="bars between retrainings"),
        "min_train": Param(6000, low=100, high=1_000_000, model=True, doc="training samples before the first fold"),
        "epochs": Param(20, low=1, high=500, model=True, doc="max epochs per fold (early stopping may end sooner)"),
        "patience": Param(3, low=1, high=100, model=True, doc="early-stopping patience, epochs (ours)"),
        "batch_size": Param(64, low=8, high=65536, model=True, doc="training batch size (seed: not stated)"),
        "min_prob": Param(0.0, low=0.0, high=1.0, doc="trade only when the argmax class probability >= this"),
        "stop_min": Param(0.001, low=1e-6, high=1.0, doc="predicted SL/TP clipped below at this fraction"),
        "stop_max": Param(0.5, low=1e-6, high=10.0, doc="predicted SL/TP clipped above at this fraction"),
        "max_hold": Param(24, low=1, high=100_000, doc="close after this many bars in a trade"),
        "exit_on_neutral": Param(False, doc="close on a no-trade bar (else hold until an exit)"),
        "allow_short": Param(True, doc="take sell signals (else flat)"),
    }

    def walk_forward(self) -> WalkForward:
        from mlbt.models import WalkForward

        return WalkForward(lookback=self.lookback, horizon=self.horizon, min_train=self.min_train,
                           retrain_every=self.retrain_every, scaler="minmax",
                           target_scalers=(None, "minmax", "minmax"))

    def labels(self, ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(class, sl, tp) per bar by the triple-barrier rule; uses bars t+1 .. t+horizon."""
        high, low = ctx.bars["high"].to_numpy(), ctx.bars["low"].to_numpy()
        close, atr, n = ctx.col("close")[:, 0], ctx.col("atr_14")[:, 0], len(ctx.bars)
        up_tp, up_sl, dn_tp, dn_sl = (np.full(n, np.inf) for _ in range(4))  # first bar each level is touched
        for k in range(self.horizon, 0, -1):  # backwards: the earliest touch is written last
            hi, lo = np.r_[high[k:], np.full(k, np.nan)], np.r_[low[k:], np.full(k, np.nan)]
            for first, touched in ((up_tp, hi >= close + self.tp_atr * atr), (up_sl, lo <= close - self.sl_atr * atr),
                                   (dn_tp, lo <= close - self.tp_atr * atr), (dn_sl, hi >= close + self.sl_atr * atr)):
                first[touched] = k
        buy, sell = np.where(up_tp < up_sl, up_tp, np.inf), np.where(dn_tp < dn_sl, dn_tp, np.inf)
        cls = np.where(buy < sell, 0.0, np.where(sell < buy, 1.0, 2.0))
        sl, tp = self.sl_atr * atr / close, self.tp_atr * atr / close
        unknown = ~np.isfinite(sl) | (np.arange(n) >= n - self.horizon)
        for part in (cls, sl, tp):
            part[unknown] = np.nan
        return cls, sl, tp

    def probabilities(self, ctx: Context) -> np.ndarray:
        logits = ctx.predictions[[f"logits_{k}" for k in range(3)]].to_numpy(dtype="float64")
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)  # (T, 3); NaN rows before the first fold

    def conditions(self, ctx: Context, p: Grid) -> Conditions:
        prob = self.probabilities(ctx)
        top = prob.max(axis=1)[:, None]
        cls = np.where(np.isnan(top), -1, np.argmax(np.nan_to_num(prob, nan=-1.0), axis=1)[:, None])  # -1: no model
        sure = ("probability >= min_prob", top >= p.min_prob)
        return {"long": [("class = buy", cls == 0), sure],
                "short": [("class = sell", cls == 1), sure, ("allow_short", np.asarray(p.allow_short, dtype=bool))]}

    def signals(self, ctx: Context, p: Grid) -> Signals:
        buy, sell = self.entries(self.conditions(ctx, p))
        target = np.where(buy, 1.0, np.where(sell, -1.0, np.where(p.exit_on_neutral, 0.0, np.nan)))
        target[np.isnan(self.probabilities(ctx).max(axis=1))] = np.nan  # no model yet: stay flat
        sl = np.clip(ctx.col("sl"), p.stop_min, p.stop_max)
        tp = np.clip(ctx.col("tp"), p.stop_min, p.stop_max)
        return Signals(target=target, sl=sl, tp=tp, max_hold=p.max_hold.astype("float64"), reentry=True)

    def ml_metrics(self, ctx: Context) -> dict:
        from mlbt.models.metrics import accuracy, confusion_matrix, mae, per_class_accuracy
        from mlbt.models.skill import classification_skill

        cls, sl, tp = self.labels(ctx)
        prob = self.probabilities(ctx)
        known = np.isfinite(cls) & np.isfinite(prob).all(axis=1)
        t, c = cls[known], np.argmax(prob[known], axis=1).astype("float64")
        per = per_class_accuracy(t, c, labels=[0.0, 1.0, 2.0])
        cm = confusion_matrix(t, c, labels=[0.0, 1.0, 2.0])
        out = {"predicted_bars": int(known.sum()), "accuracy": accuracy(t, c)}
        out |= {f"{name}_accuracy": per[float(k)] for k, name in enumerate(CLASSES)}
        out |= {f"true_{a}_called_{b}": int(cm[i, j]) for i, a in enumerate(CLASSES) for j, b in enumerate(CLASSES)}
        pred_sl, pred_tp = ctx.col("sl")[known, 0], ctx.col("tp")[known, 0]
        call = np.full(len(cls), np.nan)
        call[known] = c
        skill = classification_skill(cls, call, previous=np.r_[np.full(self.horizon, np.nan), cls[:-self.horizon]])
        return out | {"sl_mae": mae(sl[known], pred_sl), "tp_mae": mae(tp[known], pred_tp), "skill": skill}
