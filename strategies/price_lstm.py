"""Next-price regressor (docs/reference-systems.md, system 2): trade a forecast move behind RSI
and volume filters, with a stop-loss, a take-profit and a maximum holding time.

Features: the ``price`` set, 5 inputs: close, volume, SMA(20), EMA(20), RSI(14) (levels),
standard-scaled on each fold's training rows only; ``volume_mean_20`` (not an input)
feeds the volume filter. Window ``lookback`` = 60 bars.

Model: LSTM 128 -> LSTM 128 -> linear (``mlbt.models.PriceRegressor``; the fast profile uses
32 units), MSE, Adam lr 0.001, batches of 64, up to 50 epochs (the seed's), with early
stopping (patience 5) and the best epoch's weights kept (ours). Walk-forward: expanding
windows, the first fold after 6,000 training samples, a retraining every 3,600 bars
(5 months of hours; the seed trained once): 4 folds on the hourly sample, about a
minute on 2 idle CPU cores. Label: the next bar's log return,
log(close[t+1] / close[t]), standard-scaled per fold; the predicted price is
close[t] x exp(prediction). The seed regressed the price level and reported 99%
direction accuracy and 0.999 correlation by comparing levels, which any model that
repeats the last close achieves; learning the change and measuring direction on the
predicted change against the current close is the honest version (a deliberate choice).

Signal at bar t (filled at t+1's open): long when predicted > close x (1 +
buy_threshold) and RSI < rsi_long_max (70) and volume > volume_min x its 20-bar mean;
short when predicted < close x (1 - sell_threshold) and RSI > rsi_short_min (30) and
the volume confirms. The seed's thresholds "1.5 and 0.66" have no unit. We read them as
basis points of the close: buy_threshold = 0.00015, sell_threshold = 0.000066 (fractions,
sweepable). That is the scale of a one-bar forecast: on the hourly sample the fast
model's predicted moves span about -6 to +9 bp (1st to 99th percentile), so read as
percent (0.015, 0.0066) they would never trigger.

Exits: stop-loss ``sl`` = 0.5% (the seed's), take-profit ``tp`` (default 1%, twice the
stop; the seed gave no value) of the entry price, and ``max_hold`` bars (default 24,
one day; ours). Every bar with a signal is an entry signal (``Signals.reentry``): while
flat it opens a trade at the next open, also right after a stop or ``max_hold`` exit if
the signal persists; an opposite signal reverses the trade; bars without a signal keep
it (``exit_on_neutral=1`` closes it on those instead).

ML metrics (out of sample): direction accuracy and correlation of the predicted change
(predicted - close) with the actual one (next close - close), MAE and MSE of the
predicted price, and the share of bars whose forecast crosses each threshold. Timing
accuracy (the seed named it without a definition; ours): of the bars where the rule
signals at the current params, the share whose next close moved the signal's way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlbt import Param, Signals, Strategy
from mlbt.strategy import Conditions, Context, Grid

if TYPE_CHECKING:  # mlbt.models loads torch; walk_forward() imports it when it runs
    from mlbt.models import WalkForward


class PriceLSTM(Strategy):
    name = "price_lstm"
    description = "LSTM next-bar price forecast with RSI/volume filters, stop-loss, take-profit and max hold."
    data = "btcusd_1h"
    fee = 0.001
    features = "price"
    network = "price"
    training = {"lr_patience": 1}  # reduce the LR after one flat epoch (ours)
    params = {
        "lookback": Param(60, low=5, high=500, model=True, doc="bars per input window (seed: 60)"),
        "retrain_every": Param(3600, low=24, high=100_000, model=True, doc="bars between retrainings"),
        "min_train": Param(6000, low=100, high=1_000_000, model=True, doc="training samples before the first fold"),
        "epochs": Param(50, low=1, high=500, model=True, doc="max epochs per fold (seed: 50; early stopping)"),
        "patience": Param(5, low=1, high=100, model=True, doc="early-stopping patience, epochs (ours)"),
        "batch_size": Param(64, low=8, high=65536, model=True, doc="training batch size (seed: 64)"),
        "buy_threshold": Param(0.00015, low=0.0, high=1.0, doc="long when predicted > close x (1 + this)"),
        "sell_threshold": Param(0.000066, low=0.0, high=1.0, doc="short when predicted < close x (1 - this)"),
        "rsi_long_max": Param(70.0, low=0.0, high=100.0, doc="long only below this RSI(14)"),
        "rsi_short_min": Param(30.0, low=0.0, high=100.0, doc="short only above this RSI(14)"),
        "volume_min": Param(1.0, low=0.0, high=100.0, doc="volume must exceed this x its 20-bar mean"),
        "sl": Param(0.005, low=0.0, high=1.0, doc="stop-loss, fraction of the entry price (0 = none)"),
        "tp": Param(0.01, low=0.0, high=10.0, doc="take-profit, fraction of the entry price (0 = none)"),
        "max_hold": Param(24, low=1, high=100_000, doc="close after this many bars in a trade"),
        "exit_on_neutral": Param(False, doc="close on a bar with no signal (else hold until an exit)"),
        "allow_short": Param(True, doc="take short signals (else flat)"),
    }

    def walk_forward(self) -> WalkForward:
        from mlbt.models import WalkForward

        return WalkForward(lookback=self.lookback, horizon=1, min_train=self.min_train,
                           retrain_every=self.retrain_every, scaler="standard", target_scalers=("standard",))

    def labels(self, ctx: Context) -> np.ndarray:
        close = ctx.bars["close"].to_numpy()
        return np.r_[np.log(close[1:] / close[:-1]), np.nan]  # uses bar t+1: horizon 1

    def predicted_price(self, ctx: Context) -> np.ndarray:
        return ctx.col("close") * np.exp(ctx.col("prediction"))

    def conditions(self, ctx: Context, p: Grid) -> Conditions:
        col = ctx.col
        close, pred, rsi = col("close"), self.predicted_price(ctx), col("rsi_14")
        volume_ok = ("volume > volume_min x mean", col("volume") > p.volume_min * col("volume_mean_20"))
        return {"long": [("forecast > close x (1 + buy_threshold)", pred > close * (1 + p.buy_threshold)),
                         ("RSI < rsi_long_max", rsi < p.rsi_long_max), volume_ok],
                "short": [("forecast < close x (1 - sell_threshold)", pred < close * (1 - p.sell_threshold)),
                          ("RSI > rsi_short_min", rsi > p.rsi_short_min), volume_ok,
                          ("allow_short", np.asarray(p.allow_short, dtype=bool))]}

    def signals(self, ctx: Context, p: Grid) -> Signals:
        long, short = self.entries(self.conditions(ctx, p))
        target = np.where(long, 1.0, np.where(short, -1.0, np.where(p.exit_on_neutral, 0.0, np.nan)))
        target[np.isnan(self.predicted_price(ctx)[:, 0])] = np.nan  # no model yet: stay flat
        return Signals(target=target, sl=np.where(p.sl > 0, p.sl, np.nan), tp=np.where(p.tp > 0, p.tp, np.nan),
                       max_hold=p.max_hold.astype("float64"), reentry=True)

    def ml_metrics(self, ctx: Context) -> dict:
        from mlbt.models.metrics import change_correlation, direction_accuracy, mae, mse
        from mlbt.models.skill import regression_skill

        close = ctx.bars["close"].to_numpy()
        pred, nxt = self.predicted_price(ctx)[:, 0], np.r_[close[1:], np.nan]
        known = np.isfinite(pred) & np.isfinite(nxt)
        move = (pred / close - 1)[known]
        long, short = (m[:, 0] for m in np.broadcast_arrays(*self.entries(self.conditions(ctx, self.grid()))))
        called = (long | short) & known
        right = np.where(long, nxt > close, nxt < close)[called]
        return {"predicted_bars": int(known.sum()), "signal_bars": int(called.sum()),
                "timing_accuracy": float(right.mean()) if called.any() else float("nan"),
                "buy_threshold_crossed": float(np.mean(move > self.buy_threshold)) if known.any() else 0.0,
                "sell_threshold_crossed": float(np.mean(move < -self.sell_threshold)) if known.any() else 0.0,
                "direction_accuracy": direction_accuracy(pred, close, nxt),
                "change_correlation": change_correlation(pred, close, nxt), "mae": mae(nxt, pred),
                "mse": mse(nxt, pred), "skill": regression_skill(pred, close, nxt)}
