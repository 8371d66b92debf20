"""Data-layer benchmark: load + validate + every feature set of a 1,000,000-bar
synthetic minute series, on one core, with peak memory.

    python benchmarks/data.py [--bars 1000000]

Each scenario runs in a fresh process pinned to one CPU (os.sched_setaffinity, and
one thread for numba/BLAS), so imports count once and peak memory is the process's
peak resident set (ru_maxrss), interpreter and libraries included. Scenarios:
- ``synthetic``: ``data.load("synthetic:gbm?bars=N&seed=7&freq=1min")`` (generate,
  validate) then ``data.features(bars, name)`` for all five sets;
- ``parquet`` and ``csv.gz``: the same bars written to a file first, then
  ``data.load(path)`` (read, parse timestamps, normalize, sort, validate) and the
  five feature sets.
The bars are synthetic (labelled so in the output); the features are the real code.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SINGLE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                 "MKL_NUM_THREADS": "1"}


def child(source: str) -> dict:
    """Time one scenario in this process (pinned to one core); print JSON."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    t0 = time.perf_counter()
    import warnings

    from mlbt.data import load
    from mlbt.data.features import FEATURE_SETS, features

    t_import = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        bars = load(source)
        t_load = time.perf_counter() - t
    per_set = {}
    columns = 0
    for name in FEATURE_SETS:
        t = time.perf_counter()
        frame = features(bars, name)
        per_set[name] = time.perf_counter() - t
        columns += frame.shape[1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {"source": source, "bars": len(bars), "import_s": t_import, "load_s": t_load, "features_s": per_set,
            "feature_columns": columns, "peak_rss_bytes": peak, "synthetic": bool(bars.attrs.get("synthetic"))}


def run_child(source: str) -> dict:
    env = dict(os.environ, **SINGLE_THREAD)
    out = subprocess.run([sys.executable, __file__, "--child", source], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    from mlbt.data import load

    spec = f"synthetic:gbm?bars={args.bars}&seed=7&freq=1min"
    with tempfile.TemporaryDirectory() as tmp:
        bars = load(spec)
        parquet, csv = Path(tmp) / "bars.parquet", Path(tmp) / "bars.csv.gz"
        bars.to_parquet(parquet)
        bars.to_csv(csv, date_format="%Y-%m-%dT%H:%M:%SZ")
        sizes = {"parquet": parquet.stat().st_size, "csv.gz": csv.stat().st_size}
        results = [run_child(spec), run_child(str(parquet)), run_child(str(csv))]
    print(f"{args.bars:,} synthetic 1-minute bars (SYNTHETIC data), one core per scenario, fresh process each")
    print(f"files: parquet {sizes['parquet'] / 2**20:.1f} MiB, csv.gz {sizes['csv.gz'] / 2**20:.1f} MiB")
    names = list(results[0]["features_s"])
    header = ["scenario", "import s", "load+validate s", *[f"{n} s" for n in names], "total s", "rows/s",
              "peak RSS MiB"]
    print(" | ".join(header))
    for label, r in zip(["synthetic", "parquet", "csv.gz"], results, strict=True):
        feats = sum(r["features_s"].values())
        total = r["load_s"] + feats
        cells = [label, f"{r['import_s']:.2f}", f"{r['load_s']:.2f}", *[f"{r['features_s'][n]:.2f}" for n in names],
                 f"{total:.2f}", f"{r['bars'] / total:,.0f}", f"{r['peak_rss_bytes'] / 2**20:,.0f}"]
        print(" | ".join(cells))
    print(f"feature columns over the five sets: {results[0]['feature_columns']}")
    print("target: load + validate + all features < 20 s, peak memory < 2 GB")


if __name__ == "__main__":
    main()
