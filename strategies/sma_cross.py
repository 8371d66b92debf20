"""SMA crossover: the model-free baseline.

Long while the fast simple moving average of the close is above the slow one, short
(or flat, with ``allow_short=0``) while it is below. Both averages at bar t use
closes up to t only; the decision fills at bar t+1's open. Vectorized over a grid:
each (fast, slow) pair is one engine column, each distinct length computed once.
"""

import numpy as np

from mlbt import Param, Signals, Strategy
from mlbt.strategy import Context, Grid


class SmaCross(Strategy):
    name = "sma_cross"
    description = "Fast/slow SMA crossover on the close; no model."
    data = "btcusd_1h"
    fee = 0.001  # 0.1% per fill, a crypto exchange's taker fee: a baseline is judged after costs
    params = {
        "fast": Param(20, low=2, high=500, doc="fast SMA length, bars"),
        "slow": Param(50, low=3, high=2000, doc="slow SMA length, bars"),
        "allow_short": Param(True, doc="short below the slow SMA (else flat)"),
    }

    def signals(self, ctx: Context, p: Grid) -> Signals:
        close = ctx.bars.close
        if (p.fast >= p.slow).any():
            k = int(np.argmax((p.fast >= p.slow).ravel()))
            raise ValueError(f"param fast must be below slow, and a combination has fast={p.fast.ravel()[k]}, "
                             f"slow={p.slow.ravel()[k]}; in a sweep add --constraint \"fast < slow\"")
        lengths = np.unique(np.r_[p.fast[0], p.slow[0]])
        sma = np.column_stack([close.rolling(int(n)).mean().to_numpy() for n in lengths])
        fast = np.take(sma, np.searchsorted(lengths, p.fast[0]), axis=1)
        slow = np.take(sma, np.searchsorted(lengths, p.slow[0]), axis=1)
        below = np.where(p.allow_short, -1.0, 0.0)
        target = np.where(fast > slow, 1.0, below)
        target[np.isnan(slow)] = np.nan  # not enough history yet: keep flat
        return Signals(target=target)
