"""Universe benchmark: whole ``bt run`` commands on universes, end to end from the CLI.

    python benchmarks/universe.py [--skip-flagship] [--assets 100] [--bars 20000]

1. The flagship over the three coins against one coin, each from a cold model cache
   (a fresh temporary ``--cache-dir``), on the embedded daily sample:
   ``bt run strategies/crypto_lstm.py --data coins_1d --symbols BTC,ETH,LTC --fee 0.001
   --set min_train=500 --set retrain_every=250`` against the same with ``--symbol BTC``
   (target: under 3x).
2. The model-free baseline on ``--assets`` seeded synthetic assets x ``--bars`` bars,
   one portfolio with shared cash: ``bt run strategies/sma_cross.py --data
   synthetic:gbm?bars=...&assets=...&seed=1``, with its tearsheet and without
   (target: under 10 s).

Each command runs as a user types it, in a child process (the wall clock includes
Python's start, imports, data, training, the engine and the report), once; the
machine's load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ["strategies/crypto_lstm.py", "--data", "coins_1d", "--fee", "0.001", "--set", "min_train=500",
            "--set", "retrain_every=250"]


def timed(*args: str) -> float:
    """Seconds of wall clock of ``bt ARGS`` (quiet), run from the repository root."""
    started = time.perf_counter()
    done = subprocess.run(["bt", *args, "--quiet"], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bt {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-flagship", action="store_true", help="Only the synthetic baseline.")
    ap.add_argument("--assets", type=int, default=100)
    ap.add_argument("--bars", type=int, default=20_000)
    args = ap.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_flagship:
            one = timed("run", *FLAGSHIP, "--symbol", "BTC", "--cache-dir", f"{tmp}/one", "--no-report")
            three = timed("run", *FLAGSHIP, "--symbols", "BTC,ETH,LTC", "--cache-dir", f"{tmp}/three", "--no-report")
            warm = timed("run", *FLAGSHIP, "--symbols", "BTC,ETH,LTC", "--cache-dir", f"{tmp}/three", "--no-report")
            print(f"flagship, cold cache: one coin (BTC) {one:.1f} s, three coins {three:.1f} s: "
                  f"{three / one:.2f}x (target < 3x); three coins from the cache {warm:.1f} s")
        spec = f"synthetic:gbm?bars={args.bars}&assets={args.assets}&seed=1"
        bare = timed("run", "strategies/sma_cross.py", "--data", spec, "--no-report")
        full = timed("run", "strategies/sma_cross.py", "--data", spec, "--report", f"{tmp}/u.html")
        size = Path(f"{tmp}/u.html").stat().st_size / 1e6
        print(f"sma_cross on {args.assets} synthetic assets x {args.bars:,} bars, shared cash: {bare:.1f} s without "
              f"a report, {full:.1f} s with its tearsheet ({size:.1f} MB) (target < 10 s)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
