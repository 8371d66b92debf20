"""Engine benchmark: bt against vectorbt and backtesting.py on identical signals.

    python benchmarks/engine.py [--bars 100000] [--cols 200] [--bt-py-bars 100000]

Data: a seeded synthetic GBM hourly OHLC series (labelled synthetic: the embedded
real sample has only 20,106 bars). Signals: random +1/-1/0 targets (about one change
every 33 bars per column) with a 2% stop-loss, 4% take-profit, 0.1% fee, both
directions, next-open fills. Prints bar-columns per second and ratios; every
timing is the best of --repeat runs after one warm-up run (numba compiled); the
one-column comparison with backtesting.py is the best of --one-repeat runs for
both tools, and bt's timed call includes reading ``.trades`` (the DataFrame).
Also times the first call in fresh processes: cold (empty numba cache) and warm.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlbt import Signals, backtest  # noqa: E402

SL, TP, FEE = 0.02, 0.04, 0.001


def synthetic_bars(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 10_000 * np.exp(np.cumsum(rng.normal(0, 0.006, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0005, n))
    wick = np.abs(rng.normal(0, 0.003, (2, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    index = pd.date_range("2010-01-01", periods=n, freq="h", tz="UTC", name="synthetic")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=index)


def random_targets(index: pd.Index, n_cols: int, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.choice([-1.0, 0.0, 1.0, np.nan], p=[0.01, 0.01, 0.01, 0.97], size=(len(index), n_cols))
    return pd.DataFrame(values, index=index)


def best_of(fn, repeat: int) -> float:
    fn()  # warm-up: compilation and caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def vectorbt_signals(bars, target):
    tf = target.ffill().fillna(0.0)
    prev = tf.shift(1).fillna(0.0)
    shift = lambda m: m.shift(1, fill_value=False)  # noqa: E731 - next-open fills
    return shift((tf == 1) & (prev != 1)), shift((tf == -1) & (prev != -1)), shift(tf == 0)


def run_vectorbt(bars, long_entry, short_entry, flat):
    import vectorbt as vbt

    return vbt.Portfolio.from_signals(
        bars.close, entries=long_entry, exits=flat, short_entries=short_entry, short_exits=flat,
        price=bars.open, open=bars.open, high=bars.high, low=bars.low, fees=FEE, sl_stop=SL, tp_stop=TP,
        stop_entry_price="fillprice", stop_exit_price="stopmarket", upon_opposite_entry="reverse",
        init_cash=100_000.0, freq="1h",
    )


def vectorbt_end_to_end(bars, long_entry, short_entry, flat):
    pf = run_vectorbt(bars, long_entry, short_entry, flat)
    pf.value()
    return pf.stats(agg_func=None, silence_warnings=True)


def run_backtesting_py(bars: pd.DataFrame, target: pd.Series, repeat: int = 1) -> tuple[float, int]:
    """Seconds for Backtest.run() (the best of ``repeat`` runs) and the number of
    trades it made."""
    from backtesting import Backtest, Strategy

    frame = bars.rename(columns=str.capitalize).tz_localize(None)
    tf = target.ffill().fillna(0.0).to_numpy()
    prev = np.r_[0.0, tf[:-1]]

    class Targets(Strategy):
        def init(self):
            pass

        def next(self):
            i = len(self.data) - 1
            want, before = tf[i], prev[i]
            price = self.data.Close[-1]
            if want == 0 and self.position:
                self.position.close()
            elif want == 1 and before != 1:
                self.position.close()
                self.buy(sl=price * (1 - SL), tp=price * (1 + TP))
            elif want == -1 and before != -1:
                self.position.close()
                self.sell(sl=price * (1 + SL), tp=price * (1 - TP))

    bt = Backtest(frame, Targets, cash=1e12, commission=FEE, finalize_trades=True)
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        stats = bt.run()
        best = min(best, time.perf_counter() - t)
    return best, int(stats["# Trades"])


FIRST_CALL = """
import time; t = time.perf_counter()
import numpy as np, pandas as pd
from mlbt import Signals, backtest
idx = pd.date_range("2024-01-01", periods=500, freq="h", tz="UTC")
c = np.linspace(100, 120, 500)
bars = pd.DataFrame({"open": c, "high": c * 1.01, "low": c * 0.99, "close": c}, index=idx)
backtest(bars, Signals(np.sign(np.sin(np.arange(500) / 9.0)), sl=0.02, tp=0.04), fee=0.001)
print(time.perf_counter() - t)
"""


def first_call_seconds(cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=100_000)
    ap.add_argument("--cols", type=int, default=200)
    ap.add_argument("--bt-py-bars", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--one-repeat", type=int, default=10)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        cold = first_call_seconds(cache)
        warm = first_call_seconds(cache)
    print(f"first call in a fresh process (import + compile + run): cold cache {cold:.2f} s, warm cache {warm:.2f} s")

    bars = synthetic_bars(args.bars)
    target = random_targets(bars.index, args.cols)
    signals = Signals(target, sl=SL, tp=TP)
    cells = args.bars * args.cols
    print(f"data: synthetic GBM, {args.bars:,} bars x {args.cols} columns = {cells:,} bar-columns; "
          f"numba threads: {__import__('numba').get_num_threads()}")

    bt_sim = best_of(lambda: backtest(bars, signals, fee=FEE, record=False), args.repeat)
    bt_full = best_of(lambda: backtest(bars, signals, fee=FEE).trades, args.repeat)
    sig = vectorbt_signals(bars, target)
    vbt_sim = best_of(lambda: run_vectorbt(bars, *sig), args.repeat)
    vbt_full = best_of(lambda: vectorbt_end_to_end(bars, *sig), 1)

    check = backtest(bars, signals, fee=FEE)
    pf = run_vectorbt(bars, *sig)
    err = np.max(np.abs(check.equity.to_numpy() / pf.value().to_numpy() - 1))
    print(f"bt vs vectorbt equity: max relative difference {err:.1e}, trades {len(check.trades):,} vs "
          f"{len(pf.trades.records):,}")

    rows = [
        ("simulation (bt: metrics only, record=False)", bt_sim, vbt_sim),
        ("simulation + equity + stats + trades", bt_full, vbt_full),
    ]
    print(f"\n{'stage':<46}{'bt s':>9}{'vectorbt s':>12}{'bt Mcell/s':>12}{'vbt Mcell/s':>13}{'ratio':>8}")
    for name, b, v in rows:
        print(f"{name:<46}{b:>9.3f}{v:>12.3f}{cells / b / 1e6:>12.1f}{cells / v / 1e6:>13.1f}{v / b:>7.1f}x")

    one = synthetic_bars(args.bt_py_bars)
    one_target = random_targets(one.index, 1)[0]
    one_signals = Signals(one_target, sl=SL, tp=TP)
    bt_one = best_of(lambda: backtest(one, one_signals, fee=FEE).trades, args.one_repeat)
    bpy, bpy_trades = run_backtesting_py(one, one_target, args.one_repeat)
    one_trades = len(backtest(one, one_signals, fee=FEE).trades)
    print(f"\nbacktesting.py, {args.bt_py_bars:,} bars x 1 column (end to end, best of {args.one_repeat}; "
          f"trades: bt {one_trades:,}, backtesting.py {bpy_trades:,}):")
    print(f"{'bt':<16}{bt_one * 1e3:>9.3f} ms{args.bt_py_bars / bt_one / 1e6:>10.2f} Mbar/s")
    print(f"{'backtesting.py':<16}{bpy * 1e3:>9.1f} ms{args.bt_py_bars / bpy / 1e6:>10.4f} Mbar/s")
    print(f"ratio: bt is {bpy / bt_one:,.0f}x faster")


if __name__ == "__main__":
    main()
