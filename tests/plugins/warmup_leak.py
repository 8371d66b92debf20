"""A planted warm-up leak for the audit tests: the SMA crossover, but its slow average's
NaN warm-up is back-filled (20 bars) from the first bar that has one, so it trades 20
bars sooner. Those 20 decisions use closes from after their bar, and no other does:
evenly spread cuts (one per ~100 bars on the 20,106-bar sample) step over them."""

import numpy as np

from mlbt import Param, Signals, Strategy

FILLED = 20  # bars of the slow average's warm-up taken from later bars


class WarmupLeak(Strategy):
    name = "warmup_leak"
    description = "Back-fills the slow SMA's warm-up from later bars: bt check must fail it."
    data = "btcusd_1h"
    params = {
        "fast": Param(20, low=2, high=500, doc="fast SMA length, bars"),
        "slow": Param(50, low=3, high=2000, doc="slow SMA length, bars"),
    }

    def signals(self, ctx, p):
        close = ctx.bars.close
        fast = np.column_stack([close.rolling(int(n)).mean().to_numpy() for n in p.fast[0]])
        # LEAK: bars slow-1-FILLED .. slow-2 get the average of bars 0..slow-1
        slow = np.column_stack([close.rolling(int(n)).mean().bfill(limit=FILLED).to_numpy() for n in p.slow[0]])
        target = np.where(fast > slow, 1.0, -1.0)
        target[np.isnan(slow)] = np.nan
        return Signals(target=target)
