"""Sweep benchmark: one SMA-crossover grid through ``bt sweep`` and through vectorbt.

    python benchmarks/sweep.py [--combos 10000] [--vbt-combos 1000] [--memory-budget 1024]

Data: the embedded real BTC/USD hourly sample (20,106 bars). Grid: sma_cross with
fast = 5..104 (step 1) x slow = 110..605 (step 5), 10,000 signal-level combinations
(every one fast < slow), long/short, 0.1% fee, next-open fills; ``--combos N`` below
10,000 takes a seeded random subset of it. vectorbt gets the same combinations
through its broadcasting: ``vbt.MA.run`` over the fast and the slow windows (one
column per combination), targets turned into entry/exit signals as in
``benchmarks/engine.py`` (shifted one bar, ``price=open``), one
``Portfolio.from_signals`` over all columns, then ``total_return``, ``sharpe_ratio``
and ``max_drawdown``. vectorbt keeps several bars x columns arrays, so it runs on a
seeded random subset (``--vbt-combos``) small enough for the machine's memory; bt
runs that same subset and the full grid, and the two tools' total returns are
compared column by column on the subset.

Every measurement runs in a fresh process: import, a warm-up run on a tiny grid
(numba compilation and caches), then the timed run; peak memory is that process's
``ru_maxrss`` (interpreter and libraries included). bt's timed run is the whole
``run_sweep`` (signals in chunks sized by ``--memory-budget``, metrics-only
simulation, the Deflated Sharpe Ratio of the best column from the table and the
probability of backtest overfitting from its per-block return sums), timed with and
without the PBO (``pbo_blocks=0``), interleaved, the best of three each.
Prints a table with combinations/s, bar-columns/s and peak memory, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

SMA = str(ROOT / "strategies" / "sma_cross.py")
FEE = 0.001
GRID = ["fast=5:104:1", "slow=110:605:5"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def combos(n: int):
    """The benchmark grid, or a seeded random subset of n combinations of it."""
    from mlbt import load_strategy
    from mlbt.sweep import build_grid

    params = load_strategy(SMA).params
    full = build_grid(GRID, params)
    return full if n >= len(full) else build_grid(GRID, params, random=n, seed=0)


def child_bt(n: int, budget: float, out: str) -> dict:
    from mlbt import load_strategy
    from mlbt.data import load
    from mlbt.sweep import EngineSettings, build_grid, run_sweep, table_overfitting

    bars = load("btcusd_1h", warn=False)
    grid = combos(n)
    base = peak_mb()
    tiny = build_grid(["fast=5,6", "slow=30"], load_strategy(SMA).params)
    run_sweep(SMA, tiny, bars.iloc[:1000], engine=EngineSettings(fee=FEE))  # warm-up: compile, caches
    run_sweep(SMA, tiny, bars.iloc[:1000], engine=EngineSettings(fee=FEE), pbo_blocks=0)
    seconds: dict[int, list[float]] = {16: [], 0: []}
    for _ in range(3):  # with and without the PBO's block sums and CSCV, interleaved; the best of each
        for blocks in (16, 0):
            t = time.perf_counter()
            run = run_sweep(SMA, grid, bars, engine=EngineSettings(fee=FEE), memory_budget_mb=budget,
                            pbo_blocks=blocks)
            seconds[blocks].append(time.perf_counter() - t)
            if blocks:
                result = run
    t = time.perf_counter()
    table_overfitting(result.table, 16, len(bars))
    cscv = time.perf_counter() - t
    np.save(out, result.table[["fast", "slow", "total_return", "sharpe", "max_drawdown"]].to_numpy())
    return {"seconds": min(seconds[16]), "seconds_no_pbo": min(seconds[0]), "cscv_seconds": cscv,
            "pbo": result.pbo.pbo, "combos": len(grid), "bars": len(bars), "chunks": result.chunks,
            "chunk_size": result.chunk_size, "dsr": result.dsr.dsr, "peak_mb": peak_mb(), "import_mb": base}


def _vbt_run(vbt, bars, fast, slow):
    close, open_ = bars["close"], bars["open"]
    f = vbt.MA.run(close, window=list(fast), short_name="fast").ma.to_numpy()
    s = vbt.MA.run(close, window=list(slow), short_name="slow").ma.to_numpy()
    target = np.where(f > s, 1.0, -1.0)
    target[np.isnan(s)] = 0.0  # warm-up: flat (bt's NaN keeps the initial flat position)
    prev = np.vstack([np.zeros((1, target.shape[1])), target[:-1]])
    shift = lambda m: np.vstack([np.zeros((1, m.shape[1]), dtype=bool), m[:-1]])  # noqa: E731 - next-open fills
    long_entry, short_entry, flat = shift((target == 1) & (prev != 1)), shift((target == -1) & (prev != -1)), \
        shift(target == 0)
    pf = vbt.Portfolio.from_signals(
        close, entries=long_entry, exits=flat, short_entries=short_entry, short_exits=flat, price=open_,
        fees=FEE, upon_opposite_entry="reverse", init_cash=100_000.0, freq="1h")
    return pf.total_return().to_numpy(), pf.sharpe_ratio().to_numpy(), pf.max_drawdown().to_numpy()


def child_vbt(n: int, out: str) -> dict:
    import vectorbt as vbt

    from mlbt.data import load

    bars = load("btcusd_1h", warn=False)
    grid = combos(n)
    base = peak_mb()
    _vbt_run(vbt, bars.iloc[:1000], [5, 6], [30, 30])  # warm-up: compile, caches
    t = time.perf_counter()
    total, sharpe, mdd = _vbt_run(vbt, bars, grid.combos["fast"].to_numpy(), grid.combos["slow"].to_numpy())
    seconds = time.perf_counter() - t
    np.save(out, np.column_stack([grid.combos["fast"], grid.combos["slow"], total, sharpe, mdd]))
    return {"seconds": seconds, "combos": len(grid), "bars": len(bars), "peak_mb": peak_mb(), "import_mb": base}


def spawn(tool: str, n: int, budget: float, out: str) -> dict:
    cmd = [sys.executable, __file__, "--child", tool, "--combos", str(n), "--memory-budget", str(budget),
           "--out", out]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    if proc.returncode != 0:
        raise SystemExit(f"{tool} child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--combos", type=int, default=10_000, help="bt's full run (10,000 = the whole grid)")
    ap.add_argument("--vbt-combos", type=int, default=1_000, help="the subset both tools run")
    ap.add_argument("--memory-budget", type=float, default=1024.0, help="bt's --memory-budget, MB")
    ap.add_argument("--child", choices=["bt", "vbt"], help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.child:
        fn = child_bt if args.child == "bt" else child_vbt
        result = fn(args.combos, args.memory_budget, args.out) if args.child == "bt" else fn(args.combos, args.out)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, tool, n in [("bt", "bt", args.combos), ("bt (subset)", "bt", args.vbt_combos),
                              ("vectorbt (subset)", "vbt", args.vbt_combos)]:
            runs[name] = spawn(tool, n, args.memory_budget, str(Path(tmp) / f"{tool}-{n}.npy"))
            runs[name]["values"] = np.load(Path(tmp) / f"{tool}-{n}.npy")
    a, b = runs["bt (subset)"]["values"], runs["vectorbt (subset)"]["values"]
    assert (a[:, :2] == b[:, :2]).all()
    rel = np.abs(a[:, 2] / b[:, 2] - 1)
    sharpe_diff = np.nanmax(np.abs(a[:, 3] - b[:, 3]))
    ok = int((rel < 1e-9).sum())
    bt_full = runs["bt"]
    print(f"data: btcusd_1h (real), {bt_full['bars']:,} bars; grid {' x '.join(GRID)} "
          f"(sma_cross, long/short, fee {FEE}); numba threads: {os.cpu_count()} cores")
    print(f"bt vs vectorbt on the {len(a):,}-combination subset: total return equal within 1e-9 relative in "
          f"{ok:,}/{len(a):,} columns (max relative difference {rel.max():.1e}); max |sharpe difference| "
          f"{sharpe_diff:.1e}")
    print(f"bt: {bt_full['chunks']} chunks of {bt_full['chunk_size']:,} columns (--memory-budget "
          f"{args.memory_budget:g} MB); DSR of the best: {bt_full['dsr']:.3f}")
    for name in ("bt", "bt (subset)"):
        r = runs[name]
        added = r["seconds"] / r["seconds_no_pbo"] - 1
        print(f"probability of backtest overfitting, {name} ({r['combos']:,} combinations): PBO {r['pbo']:.3f}; "
              f"sweep {r['seconds']:.2f} s with it, {r['seconds_no_pbo']:.2f} s with --pbo-blocks 0: "
              f"{added:+.1%} (target < 10%: {'met' if added < 0.10 else 'NOT met'}), of which CSCV "
              f"{r['cscv_seconds']:.3f} s")
    print()
    head = f"{'run':<20}{'combos':>8}{'seconds':>10}{'combos/s':>11}{'Mbar-col/s':>12}{'peak MB':>9}{'import MB':>11}"
    print(head)
    for name, r in runs.items():
        rate = r["combos"] / r["seconds"]
        print(f"{name:<20}{r['combos']:>8,}{r['seconds']:>10.2f}{rate:>11,.0f}{rate * r['bars'] / 1e6:>12.1f}"
              f"{r['peak_mb']:>9,.0f}{r['import_mb']:>11,.0f}")
    sub, vbt_, full = runs["bt (subset)"], runs["vectorbt (subset)"], runs["bt"]
    same = (sub["combos"] / sub["seconds"]) / (vbt_["combos"] / vbt_["seconds"])
    big = (full["combos"] / full["seconds"]) / (vbt_["combos"] / vbt_["seconds"])
    print(f"\nratios: bt/vectorbt combos/s on the same {sub['combos']:,} combinations: {same:.1f}x; "
          f"bt's full {full['combos']:,} vs vectorbt's subset: {big:.1f}x; peak memory on the subset: bt "
          f"{sub['peak_mb']:,.0f} MB vs vectorbt {vbt_['peak_mb']:,.0f} MB "
          f"({vbt_['peak_mb'] / sub['peak_mb']:.1f}x)")
    print(f"targets: {full['combos']:,} combinations on {full['bars']:,} bars in {full['seconds']:.1f} s "
          f"(< 30 s: {'met' if full['seconds'] < 30 else 'NOT met'}), peak {full['peak_mb']:,.0f} MB "
          f"(< 2048 MB: {'met' if full['peak_mb'] < 2048 else 'NOT met'}); >= 10x vectorbt's combos/s: "
          f"{'met' if same >= 10 else 'NOT met'} ({same:.1f}x)")


if __name__ == "__main__":
    main()
