"""A planted cross-sectional leak for the audit tests: the coin ranker's rule, but
ranking the coins by the next bar's return (known only after the bar). Tests copy
its text to a temporary file."""

import numpy as np

from mlbt import Param, Strategy


class CrossLeak(Strategy):
    name = "cross_leak"
    data = "coins_1d"
    size_type = "target_weight"
    params = {"top_k": Param(1, low=1, high=10, doc="coins held")}

    def weights(self, ctx, p):
        close = ctx.col("close")
        future = np.vstack([close[1:] / close[:-1] - 1.0, np.full((1, close.shape[1]), np.nan)])  # LEAK: bar t+1
        known = np.isfinite(future)
        rank = np.argsort(np.argsort(np.where(known, -future, np.inf), axis=1), axis=1)
        w = np.where(known[:, :, None] & (rank[:, :, None] < p.top_k[None]), 1.0 / p.top_k[None], 0.0)
        return np.where(np.isfinite(close)[:, :, None], w, np.nan)
