"""Instructions executed by backtest(), now against an earlier commit's engine, counted by
callgrind: a deterministic measure where timing on a shared machine cannot resolve 5%.

    python benchmarks/instructions.py [--baseline bc1fea2] [--stages one,dense,records,sparse]

Each stage is the workload of ``engine.py`` (one column of 100,000 bars end to end with
``.trades``; 100,000 bars x 8 columns with metrics only and with records; the sparse
showdown, 1,000,000 x 8) on one numba thread. Each version runs in its own process
under ``valgrind --tool=callgrind --instr-atstart=no``: it compiles (natively, into a
numba cache of its own, for the CPU valgrind reports, so that the code counted is the
code compiled), warms up, and instrumentation is switched on for 3 calls only.
Needs valgrind; prints instructions per call and the ratio now / before.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGES = ("one", "dense", "records", "sparse")
LABELS = {"one": "one column, 100,000 bars, end to end + .trades", "dense": "100,000 x 8: metrics only (record=False)",
          "records": "100,000 x 8: + equity, stats, trades", "sparse": "sparse 1,000,000 x 8, metrics"}
CALLS = 3


def child(package: str, stage: str, flag: str) -> None:
    """Build the stage's inputs, warm up, say READY, run CALLS calls once told to."""
    sys.path.insert(0, str(HERE))
    import importlib

    import numba

    import engine as eb  # the benchmark workloads

    bt = importlib.import_module(package)
    numba.set_num_threads(1)
    if stage == "one":
        call = eb.one_column_call(bt, 100_000)  # engine.py's one-column stage itself
    else:
        if stage == "sparse":
            bars = eb.synthetic_bars(1_000_000, freq="min")
            signals, kw = bt.Signals(eb.showdown_targets(bars.index)), {}
        else:
            bars = eb.synthetic_bars(100_000)
            signals, kw = bt.Signals(eb.random_targets(bars.index, 8), sl=eb.SL, tp=eb.TP), {"fee": eb.FEE}

        def call() -> object:
            result = bt.backtest(bars, signals, record=stage == "records", **kw)
            return result.trades if stage == "records" else result
    call()
    call()
    if flag == "-":  # the native warm-up run: compile into the cache and stop
        return
    print("READY", flush=True)
    while not os.path.exists(flag + ".go"):
        time.sleep(0.05)
    for _ in range(CALLS):
        call()
    Path(flag + ".done").touch()
    while not os.path.exists(flag + ".end"):
        time.sleep(0.05)


def valgrind_cpu() -> dict[str, str]:
    """NUMBA_CPU_NAME / NUMBA_CPU_FEATURES of the CPU valgrind emulates."""
    code = "import llvmlite.binding as l; print(l.get_host_cpu_name()); print(l.get_host_cpu_features().flatten())"
    out = subprocess.run(["valgrind", "-q", sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    return {"NUMBA_CPU_NAME": out[0], "NUMBA_CPU_FEATURES": out[1]}


def count(package: str, path: str, stage: str, env: dict[str, str], work: Path) -> int:
    """Instructions of CALLS calls of ``stage`` with ``package`` (importable from ``path``)."""
    env = {**os.environ, **env, "PYTHONPATH": path, "PYTHONHASHSEED": "0",
           "NUMBA_CACHE_DIR": str(work / f"numba-{package}")}
    me = [sys.executable, __file__, "--child", package, stage]
    subprocess.run([*me, "-"], env=env, check=True)
    flag, out = str(work / f"{package}-{stage}"), work / f"{package}-{stage}.out"
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                             *me, flag], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    pid = str(proc.pid)
    subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
    Path(flag + ".go").touch()
    while not os.path.exists(flag + ".done"):
        time.sleep(0.2)
    subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
    subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
    Path(flag + ".end").touch()
    proc.wait()
    totals = [int(line.split()[1]) for f in work.glob(f"{out.name}*") for line in f.read_text().splitlines()
              if line.startswith("totals:")]
    return max(totals)  # the dump taken after the calls (the one at exit counts nothing)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="bc1fea2", help="commit whose engine/ is the 'before'")
    ap.add_argument("--stages", default=",".join(STAGES))
    args = ap.parse_args()
    import engine as eb

    old = eb.load_baseline(args.baseline)
    if old is None:
        sys.exit(2)
    old_path = str(Path(old.__file__).parents[1])
    new_path = ""  # the installed mlbt
    env = valgrind_cpu()
    print(f"callgrind, {CALLS} calls per stage, one numba thread, code compiled for {env['NUMBA_CPU_NAME']}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'stage':<50}{'now M instr':>13}{args.baseline + ' M':>14}{'now / before':>14}")
    with tempfile.TemporaryDirectory(prefix="bt-instr-") as tmp:
        for stage in args.stages.split(","):
            now = count("mlbt", new_path, stage, env, Path(tmp))
            before = count("mlbt_baseline", old_path, stage, env, Path(tmp))
            print(f"{LABELS[stage]:<50}{now / CALLS / 1e6:>13.3f}{before / CALLS / 1e6:>14.3f}{now / before:>13.3f}x",
                  flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        sys.path.insert(0, str(HERE))
        main()
