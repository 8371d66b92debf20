"""Cross-sectional coin ranker on the next-price regressor (docs/reference-systems.md,
system 2): each coin's LSTM forecasts its next daily log return, and the portfolio
holds the coins with the best forecasts.

Universe: the embedded Bitstamp daily sample ``coins_1d`` (BTC, ETH, LTC), one
portfolio with shared cash (``bt run strategies/coin_ranker.py --symbols all``).

Features: the ``price`` set, 5 inputs: close, volume, SMA(20), EMA(20), RSI(14),
standard-scaled on each fold's training rows only. Window ``lookback`` = 30 days.

Model: one LSTM 128 -> LSTM 128 -> linear per coin (``mlbt.models.PriceRegressor``; the
fast profile uses 32 units), MSE, Adam, walk-forward on the coin's own bars: expanding
windows, the first fold after 500 training samples, a retraining every 250 days. With
``pooled`` one such network learns from every coin's windows (each coin's inputs and
labels scaled on its own training rows) and predicts every coin in one batch.
Label: the next bar's log return, log(close[t+1] / close[t]), standard-scaled per
fold. A coin listed later (ETH from November 2017) has fewer folds; one whose history
gives no fold stays flat and the run says so.

Weights at bar t (filled at t+1's open): rank the coins with a forecast by predicted
return; each of the ``top_k`` best whose forecast exceeds ``min_edge`` gets 1 / top_k
of the portfolio's equity, the others 0 (so with fewer qualifying coins the rest stays
in cash); with ``short_bottom`` the ``top_k`` worst whose forecast is below -min_edge
are shorted as well, and every weight is halved (gross exposure at most 1). A coin
without a bar (not listed yet) keeps its weight (NaN). The weights are the plugin's
own: the run's allocation does not apply to them.

ML metrics (out of sample, per coin): direction accuracy and correlation of the
predicted change with the actual one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlbt import Param, Strategy
from mlbt.strategy import Context, CrossContext, Grid

if TYPE_CHECKING:  # mlbt.models loads torch; walk_forward() imports it when it runs
    from mlbt.models import WalkForward


class CoinRanker(Strategy):
    name = "coin_ranker"
    description = "Rank the coins by their LSTM's next-day return forecast; hold the top k with equal weights."
    data = "coins_1d"
    fee = 0.001
    size_type = "target_weight"  # weights() returns target weights of the portfolio's equity
    features = "price"
    network = "price"
    training = {"lr_patience": 1}
    params = {
        "lookback": Param(30, low=5, high=500, model=True, doc="days per input window"),
        "retrain_every": Param(250, low=20, high=100_000, model=True, doc="days between retrainings"),
        "min_train": Param(500, low=100, high=1_000_000, model=True, doc="training samples before the first fold"),
        "epochs": Param(20, low=1, high=500, model=True, doc="max epochs per fold (early stopping)"),
        "patience": Param(3, low=1, high=100, model=True, doc="early-stopping patience, epochs"),
        "batch_size": Param(64, low=8, high=65536, model=True, doc="training batch size (seed: 64)"),
        "pooled": Param(False, model=True, doc="one model trained on every coin's windows (else one per coin)"),
        "top_k": Param(1, low=1, high=1000, doc="coins held: the best forecasts"),
        "min_edge": Param(0.0, low=0.0, high=1.0, doc="hold only a forecast log return above this"),
        "short_bottom": Param(False, doc="also short the top_k worst forecasts (weights halved)"),
    }

    def walk_forward(self) -> WalkForward:
        from mlbt.models import WalkForward

        return WalkForward(lookback=self.lookback, horizon=1, min_train=self.min_train,
                           retrain_every=self.retrain_every, scaler="standard", target_scalers=("standard",))

    def labels(self, ctx: Context) -> np.ndarray:
        close = ctx.bars["close"].to_numpy()
        return np.r_[np.log(close[1:] / close[:-1]), np.nan]  # uses bar t+1: horizon 1

    def weights(self, ctx: CrossContext, p: Grid) -> np.ndarray:
        forecast = ctx.col("prediction")  # (bars, coins): predicted next log return, NaN without a model
        known = np.isfinite(forecast)
        best_first = np.argsort(np.where(known, -forecast, np.inf), axis=1, kind="stable")
        rank = np.empty_like(best_first)
        np.put_along_axis(rank, best_first, np.arange(forecast.shape[1])[None, :], axis=1)
        worst_rank = known.sum(axis=1, keepdims=True) - 1 - rank  # 0 = the worst known forecast
        f, r, wr = forecast[:, :, None], rank[:, :, None], worst_rank[:, :, None]  # against (1, 1, combos)
        k, edge, short = p.top_k[None], p.min_edge[None], np.asarray(p.short_bottom, dtype=bool)[None]
        long = known[:, :, None] & (r < k) & (f > edge)
        shorted = known[:, :, None] & short & (wr < k) & (f < -edge) & ~long
        scale = np.where(short, 0.5, 1.0) / k
        w = np.where(long, scale, np.where(shorted, -scale, 0.0))
        return np.where(np.isfinite(ctx.col("close"))[:, :, None], w, np.nan)  # no bar: keep

    def ml_metrics(self, ctx: Context) -> dict:
        from mlbt.models.metrics import change_correlation, direction_accuracy
        from mlbt.models.skill import regression_skill

        close = ctx.bars["close"].to_numpy()
        pred, nxt = close * np.exp(ctx.col("prediction")[:, 0]), np.r_[close[1:], np.nan]
        return {"predicted_bars": int((np.isfinite(pred) & np.isfinite(nxt)).sum()),
                "direction_accuracy": direction_accuracy(pred, close, nxt),
                "change_correlation": change_correlation(pred, close, nxt),
                "skill": regression_skill(pred, close, nxt)}
