"""SMA crossover: the model-free baseline.

Long while the fast simple moving average of the close is above the slow one, short
(or flat, with ``allow_short=0``) while it is below. Both averages at bar t use
closes up to t only; the decision fills at bar t+1's open.
"""

import numpy as np

from engine import Signals
from engine.strategy import Param, Strategy


class SmaCross(Strategy):
    name = "sma_cross"
    description = "Fast/slow SMA crossover on the close; no model."
    data = "btcusd_1h"
    params = {
        "fast": Param(20, low=2, high=500, doc="fast SMA length, bars"),
        "slow": Param(50, low=3, high=2000, doc="slow SMA length, bars"),
        "allow_short": Param(1, low=0, high=1, doc="1: short below, 0: flat below"),
    }

    def signals(self, bars):
        if self.fast >= self.slow:
            raise ValueError(f"param fast = {self.fast} must be below slow = {self.slow}")
        fast = bars.close.rolling(self.fast).mean()
        slow = bars.close.rolling(self.slow).mean()
        below = -1.0 if self.allow_short else 0.0
        target = np.where(fast > slow, 1.0, below)
        target[slow.isna().to_numpy()] = np.nan  # not enough history yet: keep flat
        return Signals(target=bars.close.rename(self.name) * 0 + target)
