"""Random-entry twins benchmark: the cost of ``bt run --twins N`` beside the run itself.

    python benchmarks/twins.py [--twins 1000] [--repeat 3]

Data: the embedded real BTC/USD hourly sample (20,106 bars). Strategies: ``sma_cross``
at its defaults (always in the market, about 470 trades) and at fast=200, slow=600
(about 30 trades), fee 0.1%, next-open fills. For each: the strategy's own backtest
(equity and trades recorded, as ``bt run`` does), then ``random_twins`` with N twins
(their layouts, one engine pass per chunk of 250 columns with equity recorded for the
band, the percentiles). Every figure is the best of ``--repeat`` runs after a warm-up
(numba compiled). Prints seconds, twin bar-columns per second and the ratio to the run.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from mlbt import load_strategy
from mlbt.data import load
from mlbt.settings import EngineSettings
from mlbt.sim import backtest
from mlbt.strategy import make_signals, prepare, random_twins, tradable_start

SMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "strategies", "sma_cross.py")


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--twins", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    bars = load("btcusd_1h", warn=False)
    engine = EngineSettings(fee=0.001)
    print(f"data: btcusd_1h (real), {len(bars):,} bars; {args.twins:,} twins; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'strategy':<28}{'trades':>8}{'run s':>9}{'twins s':>10}{'Mbar-col/s':>12}{'twins/run':>11}"
          f"{'percentile':>12}")
    for params in ({}, {"fast": 200, "slow": 600}):
        s = load_strategy(SMA, **params)
        signals = make_signals(s, prepare(s, bars).ctx)
        start = tradable_start(signals, [])
        result = backtest(bars, signals, **engine)
        random_twins(bars, result, signals, engine, 10, start=start)  # warm-up
        run_s, result = best(lambda s=signals: backtest(bars, s, **engine), args.repeat)
        twin_s, twins = best(lambda r=result, s=signals, b=start: random_twins(bars, r, s, engine, args.twins,
                                                                               start=b), args.repeat)
        name = "sma_cross " + (",".join(f"{k}={v}" for k, v in params.items()) or "defaults")
        rate = args.twins * len(bars) / twin_s / 1e6
        pct = twins.to_dict()["percentile_sharpe"]
        print(f"{name:<28}{twins.trades:>8,}{run_s:>9.3f}{twin_s:>10.2f}{rate:>12.1f}{twin_s / run_s:>10.1f}x"
              f"{pct:>11.1f}%")
        assert np.isfinite(twins.sharpe).all()
    print(f"target: {args.twins:,} twins on the {len(bars):,}-bar sample in under 2 s beside the run")


if __name__ == "__main__":
    main()
