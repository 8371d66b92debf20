"""Portfolio benchmark: shared cash across assets, bt against vectorbt, in one run.

    python benchmarks/portfolio.py [--bars 20000] [--assets 10] [--combos 1000] [--vbt-combos 50]

Work (seeded synthetic GBM OHLC per asset, labelled synthetic): ``--bars`` daily bars
of ``--assets`` assets, ``--combos`` parameter combinations, each a group of one
column per asset sharing one cash account (``--combos`` x ``--assets`` columns), 0.1%
fee, fills at the next open, metrics only (``record=False``, as a sweep runs):

- signals: per column, long entries and exits at random bars (about one decision
  every 20 bars), each entry committing 1/assets of group equity; vectorbt runs it as
  ``from_orders(size_type="targetpercent")`` with bt's mapping size / (1 + fee) on the
  bars where the target changes, 0 on exits (``from_signals`` has no sizing by group
  equity);
- weights: target weights in [-1/assets, 1/assets] per asset, rebalanced every 20
  bars; vectorbt ``from_orders(size_type="targetpercent")`` with the same weights.

vectorbt runs with ``cash_sharing=True``, one group per combination,
``call_seq="auto"`` (sells first, as bt fills exits and reductions before entries),
``update_value=True``, on the first ``--vbt-combos`` combinations (its inputs are
full (bars, columns) arrays: at the full size they would take several GB); its figure
is scaled per bar-column. Each engine runs in a child process of its own, after a
warm-up that compiles it, so its peak memory (resident memory sampled every 2 ms,
above the process's before the run) is its own. bt is also run on vectorbt's subset,
and the largest relative difference of the groups' final equity is printed (the
orders within a bar may differ from bt's by vectorbt's sort, which moves fees).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

FEE = 0.001
STEP = 20  # bars between decisions, on average (signals) or exactly (weights)


def bars_of(n_bars: int, n_assets: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_bars, n_assets)), axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * (1 + rng.normal(0, 0.002, (n_bars, n_assets)))
    wick = np.abs(rng.normal(0, 0.01, (2, n_bars, n_assets)))
    high, low = np.maximum(open_, close) * (1 + wick[0]), np.minimum(open_, close) * (1 - wick[1])
    index = pd.date_range("1970-01-01", periods=n_bars, freq="D", tz="UTC", name="synthetic")
    assets = [f"A{k}" for k in range(n_assets)]
    return pd.concat({f: pd.DataFrame(a, index=index, columns=assets) for f, a in
                      (("open", open_), ("high", high), ("low", low), ("close", close))}, axis=1)


def targets_of(mode: str, n_bars: int, n_assets: int, n_combos: int, seed: int = 9) -> np.ndarray:
    """(T, N) targets in Fortran order (a column's bars together: the kernel's rows)."""
    rng = np.random.default_rng(seed)
    n = n_assets * n_combos
    target = np.full((n, n_bars), np.nan)
    if mode == "weights":
        cap = 1.0 / n_assets
        target[:, ::STEP] = rng.uniform(-cap, cap, (n, len(range(0, n_bars, STEP))))
    else:
        decide = rng.random((n, n_bars)) < 1.0 / STEP
        # alternate +1 and 0 at the decision bars: entries and exits, long only
        rank = np.cumsum(decide, axis=1)
        target[decide] = (rank[decide] % 2).astype(float)
    return target.T  # (T, N), F-ordered


def columns_of(n_assets: int, n_combos: int) -> pd.MultiIndex:
    return pd.MultiIndex.from_product([range(n_combos), [f"A{k}" for k in range(n_assets)]],
                                      names=["combo", "asset"])


def run_bt(bars: pd.DataFrame, target: np.ndarray, mode: str, n_assets: int,
           n_combos: int) -> tuple[np.ndarray, float]:
    """(final equity per group, seconds of the backtest() call: its checks included)."""
    from mlbt import Signals, backtest

    frame = pd.DataFrame(target, index=bars.index, columns=columns_of(n_assets, n_combos), copy=False)
    extra = dict(size_type="target_weight") if mode == "weights" else dict(size=1.0 / n_assets)
    start = time.perf_counter()
    result = backtest(bars, Signals(frame), cash_sharing=True, fee=FEE, cash=100_000.0, record=False, **extra)
    seconds = time.perf_counter() - start
    return result.stats["final_equity"].to_numpy(), seconds


def run_vbt(bars: pd.DataFrame, target: np.ndarray, mode: str, n_assets: int,
            n_combos: int) -> tuple[np.ndarray, float]:
    """(final value per group, seconds of from_orders and final_value; the inputs it
    needs, full (bars, columns) arrays, are built before the clock starts)."""
    import vectorbt as vbt

    n = n_assets * n_combos
    close = np.tile(bars["close"].to_numpy(), (1, n_combos))
    price = np.tile(bars["open"].to_numpy(), (1, n_combos))
    decided = target
    if mode == "signals":  # an order where the forward-filled target changes
        held = pd.DataFrame(target).ffill().fillna(0.0).to_numpy()
        changed = np.vstack([held[:1] != 0, held[1:] != held[:-1]])
        decided = np.where(changed, held * (1.0 / n_assets) / (1 + FEE), np.nan)
    size = np.full(decided.shape, np.nan)
    size[1:] = decided[:-1]  # decided at a close, filled at the next open
    start = time.perf_counter()
    pf = vbt.Portfolio.from_orders(close, size=size, size_type="targetpercent", price=price, fees=FEE,
                                   group_by=np.repeat(np.arange(n_combos), n_assets), cash_sharing=True,
                                   call_seq="auto", init_cash=100_000.0, update_value=True, freq="1D",
                                   max_orders=int(np.isfinite(size).sum()) + 1)
    final = pf.final_value().to_numpy()
    seconds = time.perf_counter() - start
    assert n == pf.wrapper.shape[1]
    return final, seconds


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(spec: str, args: argparse.Namespace) -> None:
    engine, mode = spec.split(":")
    combos = args.combos if engine == "bt" else args.vbt_combos
    bars = bars_of(args.bars, args.assets)
    run = run_bt if engine == "bt" else run_vbt
    warnings.filterwarnings("ignore")
    run(bars, targets_of(mode, args.bars, args.assets, 2), mode, args.assets, 2)  # compile, on inputs of this length
    target = targets_of(mode, args.bars, args.assets, combos)
    before = rss()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    final, seconds = run(bars, target, mode, args.assets, combos)
    done.set()
    sampler.join()
    out = {"seconds": seconds, "peak_mb": (max(peak[0], rss()) - before) / 2**20, "bar_cols": args.bars * len(target.T)}
    if engine == "vbt":  # bt on the same subset, for the agreement figure
        mine, _ = run_bt(bars, target, mode, args.assets, combos)
        out["max_rel_diff"] = float(np.max(np.abs(mine - final) / np.abs(final)))
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=20_000)
    ap.add_argument("--assets", type=int, default=10)
    ap.add_argument("--combos", type=int, default=1_000)
    ap.add_argument("--vbt-combos", type=int, default=50)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args)
        return
    import numba

    print(f"load average {os.getloadavg()[0]:.2f}; numba threads {numba.get_num_threads()}; "
          f"{args.bars:,} bars x {args.assets} assets x {args.combos:,} combinations "
          f"(vectorbt: {args.vbt_combos:,})")
    print(f"{'work':<9} {'engine':<9} {'columns':>8} {'seconds':>8} {'bar-cols/s':>12} {'peak MB':>9} "
          f"{'MB/Mbar-col':>12}")
    for mode in ("signals", "weights"):
        figures = {}
        for engine in ("bt", "vbt"):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", f"{engine}:{mode}",
                   "--bars", str(args.bars), "--assets", str(args.assets), "--combos", str(args.combos),
                   "--vbt-combos", str(args.vbt_combos)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            f = json.loads(done.stdout.strip().splitlines()[-1])
            figures[engine] = f
            rate = f["bar_cols"] / f["seconds"]
            print(f"{mode:<9} {engine:<9} {f['bar_cols'] // args.bars:>8,} {f['seconds']:>8.2f} {rate:>12.3g} "
                  f"{f['peak_mb']:>9.0f} {f['peak_mb'] / (f['bar_cols'] / 1e6):>12.2f}")
        bt, vbt = figures["bt"], figures["vbt"]
        speed = (bt["bar_cols"] / bt["seconds"]) / (vbt["bar_cols"] / vbt["seconds"])
        memory = (bt["peak_mb"] / bt["bar_cols"]) / (vbt["peak_mb"] / vbt["bar_cols"])
        print(f"{mode:<9} bt/vectorbt: {speed:.1f}x the bar-columns per second, {memory:.2f}x the memory per "
              f"bar-column; final equity on vectorbt's subset within {vbt['max_rel_diff']:.1e} (relative)")


if __name__ == "__main__":
    main()
