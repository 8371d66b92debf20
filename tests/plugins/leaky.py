"""A deliberately leaky plugin for the audit test: it trades on the next bar's close."""

import numpy as np

from mlbt import Param, Signals, Strategy


class Leaky(Strategy):
    name = "leaky"
    description = "Peeks at close[t+1]: bt check must fail it."
    params = {"edge": Param(0.0, low=0.0, high=1.0)}

    def signals(self, ctx, p):
        close = ctx.bars.close
        future = close.shift(-1).to_numpy()[:, None]  # lookahead
        return Signals(target=np.where(future > close.to_numpy()[:, None] * (1 + p.edge), 1.0, -1.0))
