"""Training under load: the README's main job (crypto_lstm's walk-forward on the
embedded BTC/USD hourly sample, cold: no cache) on a quiet machine, then beside one
CPU-bound process, in a fresh interpreter each time.

    python benchmarks/training_load.py [--end 2018-12-31] [--policy bt|all]

Each run is ``mlbt.strategy.prepare(strategy, bars, use_cache=False)`` in a child
process: wall-clock seconds and the child's CPU seconds (user + system, every
thread). The competing process is one Python busy loop (one core's worth of work),
started before the run and killed after it. Printed: both runs, and loaded / quiet as
ratios of wall and CPU time. The targets (issue 16): beside one competing CPU-bound
process, at most about 2.5x the quiet wall time and 1.3x the quiet CPU time.

``--policy bt`` (default): bt's thread choice (``mlbt.models.threads``: a thread per
core no other program uses when a fold starts). ``--policy all``: every core, torch's
default before bt chose (``MLBT_TRAIN_THREADS`` = the core count), to show what the
choice fixes; with ``--end`` a shorter sample keeps that slow run short.

The load average before and after is printed: other work on the machine makes the
quiet run a loaded one. Run it with nothing else running.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import sys, time
from mlbt.data import load
from mlbt.strategy import load_strategy, prepare
bars = load("btcusd_1h", end=sys.argv[1] or None)
strategy = load_strategy(sys.argv[2])
t0 = time.perf_counter()
prepared = prepare(strategy, bars, device="cpu", use_cache=False)
print(len(prepared.folds), len(bars), time.perf_counter() - t0)
"""
BUSY = "while True:\n    pass\n"


def run_once(end: str, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, the child's line) of one cold walk-forward."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, end, str(ROOT / "strategies" / "crypto_lstm.py")],
                         capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout.strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--end", default="", help="last timestamp of the sample (default: all of it)")
    p.add_argument("--policy", choices=["bt", "all"], default="bt", help="thread choice (see the docstring)")
    args = p.parse_args()
    env = dict(os.environ)
    cores = len(os.sched_getaffinity(0))
    if args.policy == "all":
        env["MLBT_TRAIN_THREADS"] = str(cores)
    else:
        env.pop("MLBT_TRAIN_THREADS", None)
    print(f"{cores} cores; policy {args.policy}; load average {os.getloadavg()[0]:.2f}")
    quiet = run_once(args.end, env)
    print(f"quiet:       wall {quiet[0]:7.1f} s   cpu {quiet[1]:7.1f} s   (folds, bars, prepare s: {quiet[2]})")
    busy = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        time.sleep(1.0)  # the competitor holds its core before training starts
        loaded = run_once(args.end, env)
    finally:
        busy.kill()
        busy.wait()
    print(f"beside one:  wall {loaded[0]:7.1f} s   cpu {loaded[1]:7.1f} s   (folds, bars, prepare s: {loaded[2]})")
    print(f"loaded / quiet: wall {loaded[0] / quiet[0]:.2f}x (target <= 2.5x), cpu {loaded[1] / quiet[1]:.2f}x "
          f"(target <= 1.3x); load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
