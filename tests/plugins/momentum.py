"""A model-param plugin for the sweep tests: ``window`` is model-level (one prepare per
value), ``edge`` signal-level. Tests copy its text to a temporary file."""

import numpy as np

from mlbt import Param, Signals, Strategy


class Momentum(Strategy):
    name = "momentum"
    params = {
        "window": Param(20, low=2, high=500, model=True, doc="model-level: momentum window"),
        "edge": Param(0.0, low=0.0, high=1.0, doc="min momentum to trade"),
    }

    def signals(self, ctx, p):
        close = ctx.bars["close"]
        mom = (close / close.shift(self.window) - 1.0).to_numpy()[:, None]
        target = np.where(mom > p.edge, 1.0, np.where(mom < -p.edge, -1.0, 0.0))
        target[np.isnan(mom[:, 0])] = np.nan
        return Signals(target=target, sl=0.05)
