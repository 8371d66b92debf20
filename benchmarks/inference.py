"""Model benchmark: batched inference vs the seeds' per-window loop, and training speed.

    python benchmarks/inference.py [--bars 100000] [--loop-windows 2000] [--train-windows 20000]
        [--batch-size 1024 4096] [--device auto|cpu|cuda] [--networks price crypto]
        [--profiles full fast] [--threads N] [--loop-threads N] [--budget 4] [--clock wall|cpu] [--json]
        [--keras-python /path/to/python-with-tensorflow]

For every network (etf50, price, crypto, attention, attention_ensemble, sltp) in every
profile (full: the seed's sizes; fast: the CPU profile), on every device asked for:

- batched: windows per second of ``models.predict`` over a ``sliding_windows`` view of a
  feature matrix of ``--bars`` bars x the feature count of the network's feature set
  (``data.MODEL_COLUMNS``: etf50 7, price 5, crypto 24, attention and the ensemble 19,
  sltp 13). Window = the seed's lookback: etf50 5, the others 60 (sltp's seed packed
  variable-length sequences; we pick 60, its hourly bars' lookback like the others;
  ``--window sltp=30`` changes it). Every ``--batch-size`` is tried (CPU default 1024 and
  4096: oneDNN's LSTM is compute-bound on a CPU at 1024 already, and 8192 only spills
  caches; CUDA default below); each is warmed up with one batch, then timed as the best
  of ``--repeat`` runs; the best batch size is reported. The feature values are seeded
  standard-normal float32 (what a fitted scaler gives); LSTM cost does not depend on them.
- loop: windows per second the way the seed systems predicted, one ``model(x[None])``
  call per window in eval mode under ``torch.no_grad()`` with the output turned into a
  numpy array (Keras' ``model.predict(x[np.newaxis])`` in a loop, minus Keras' own
  per-call overhead); on CUDA each window is copied to the GPU and each output back, as
  that loop does, in float32 (no autocast). Up to
  ``--loop-windows`` windows, after 10 warm-up calls, best of ``--repeat`` passes.
- keras (with ``--keras-python PATH``): the same loop as the seeds ran it, Keras'
  ``model.predict(window[np.newaxis])`` per window on a Keras mirror of the network
  (``benchmarks/keras_loop.py``, run by PATH, an interpreter with TensorFlow; TensorFlow
  is not a bt dependency). It runs first, in a subprocess, on the same windows, threads
  (``--loop-threads``), clock and budget, at most 200 windows.
- ratio: batched / loop, and batched / keras. The issue's target: batched CPU
  inference >= 50x the per-window loop; both baselines are reported against it.
- training: seconds of one epoch of ``models.fit`` (the system's TrainConfig: its
  optimizer, loss, batch size 64 and 20% validation split, which is evaluated inside the
  epoch; epochs=1, no early stopping or LR schedule) on up to ``--train-windows``
  windows with random targets of the right kind, after a warm-up fit on 500 windows.

Time limit: every timing is capped at about ``--budget`` seconds (the repeats share
it). Where a network is too slow to cover all of the windows in that time (the big
full-profile nets on a CPU), fewer windows are timed (whole batches, at least one), with
fewer repeats when even one batch is slow: the table's ``n`` columns say how many, and
the training column ``s/epoch@N`` extrapolates the measured rate to ``--train-windows``
(marked ``~``). Rates are per window either way.

CUDA (``--device auto`` when ``torch.cuda.is_available()``, or ``--device cuda``): the same
measurements with ``device="cuda"`` (``predict``'s bfloat16 autocast; cuDNN runs its LSTMs
in float16), ``torch.cuda.synchronize()`` around every timing, batch sizes 8192, 32768
and 65536 unless ``--batch-size`` is given. The feature matrix is moved to the GPU once
and the windows are a view there (no per-batch host-to-device copy: what
``models.predict`` recommends); a second row, ``cuda/host``, times ``predict`` over the
CPU view instead (each batch gathered on the host and copied). The issue's GPU target:
>= 1,000,000 windows/s for "price" in the full profile on an H100. Without a GPU the
script says that CUDA was not available and prints no GPU rows.

The machine is named in the output (CPU model from /proc/cpuinfo, GPU name from torch),
with torch's version, the thread count (``torch.set_num_threads``) and the load average
at the start and the end. Other processes on the machine skew CPU timings, the loop's
most: with 2 threads and a busy machine every tiny parallel region waits for a
descheduled thread. ``--clock cpu`` times CPU rows by this process's CPU time instead of
the wall clock; with ``--threads 1`` that leaves out the time spent waiting for a core,
which gives usable figures from a shared machine (say so when quoting them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlbt.data import MODEL_COLUMNS
from mlbt.models import SYSTEM_TRAINING, ModelConfig, build_model, fit, predict, sliding_windows

ROOT = Path(__file__).resolve().parents[1]

#: network -> (feature set feeding it, the seed's lookback)
NETWORKS: dict[str, tuple[str, int]] = {
    "etf50": ("etf50", 5),
    "price": ("price", 60),
    "crypto": ("crypto", 60),
    "attention": ("attention", 60),
    "attention_ensemble": ("attention", 60),
    "sltp": ("sltp", 60),  # the seed's sequences had variable length; 60 is our pick
}
PROFILES = ("full", "fast")
DEFAULT_BATCH = {"cpu": (1024, 4096), "cuda": (8192, 32768, 65536)}
LOOP_WARMUP = 10
TRAIN_PROBE = 500
CPU_TARGET, GPU_TARGET = 50.0, 1_000_000.0
CPU_CLOCK = [False]  # --clock cpu: time CPU rows by process CPU time (set once in main)


def say(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def core_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def feature_matrix(bars: int, n_features: int, seed: int = 7) -> torch.Tensor:
    """Seeded standard-normal float32 (bars, features): scaled features, as a scaler leaves them."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal((bars, n_features), dtype=np.float32))


def random_targets(network: str, n: int, seed: int = 3) -> Any:
    """Targets of the kind the network's loss wants (values do not matter for speed)."""
    g = torch.Generator().manual_seed(seed)
    loss = SYSTEM_TRAINING[network].loss
    if loss == "bce":
        return torch.randint(0, 2, (n,), generator=g).float()
    if loss == "sltp":
        return torch.randint(0, 3, (n,), generator=g), torch.randn(n, generator=g), torch.randn(n, generator=g)
    return torch.randn(n, generator=g)


def head(y: Any, n: int) -> Any:
    return tuple(v[:n] for v in y) if isinstance(y, tuple) else y[:n]


def to_numpy(out: Any) -> Any:
    if isinstance(out, tuple):
        return tuple(to_numpy(v) for v in out)
    return out.cpu().numpy()


def clock(device: torch.device) -> Any:
    """Wall-clock time, or with ``--clock cpu`` this process's CPU time (CPU rows only)."""
    return time.process_time if CPU_CLOCK[0] and device.type == "cpu" else time.perf_counter


def timed(fn, device: torch.device) -> float:
    now = clock(device)
    sync(device)
    t = now()
    fn()
    sync(device)
    return now() - t


def bench_batched(
    model: torch.nn.Module, windows: torch.Tensor, batch_size: int, device: torch.device, repeat: int, budget: float
) -> dict[str, Any]:
    """Best-of-``repeat`` windows/s of ``predict`` at one batch size; fewer windows if slow."""
    total = len(windows)
    warm = min(batch_size, total)
    run = lambda n: predict(model, windows[:n], batch_size=batch_size, device=device)  # noqa: E731
    dt = timed(lambda: run(warm), device)
    if device.type == "cuda":  # the first call pays cuDNN setup: estimate from a second one
        dt = timed(lambda: run(warm), device)
    per_window = dt / warm
    n, runs = total, repeat
    if per_window * total * repeat > budget:  # too slow for every window: whole batches, at least one
        n = min(total, max(warm, int(budget / repeat / per_window) // batch_size * batch_size))
        runs = max(1, min(repeat, int(budget / (per_window * n))))
    best = min(timed(lambda: run(n), device) for _ in range(runs))
    return {"batch_size": batch_size, "n": n, "runs": runs, "seconds": best, "rate": n / best}


def bench_loop(
    model: torch.nn.Module,
    windows: torch.Tensor,
    device: torch.device,
    n_max: int,
    repeat: int,
    budget: float,
    threads: int,
) -> dict[str, Any]:
    """Windows/s of the per-window loop; ``windows`` are on the host, as the seeds' arrays were."""
    model.to(device).eval()
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _bench_loop(model, windows, device, n_max, repeat, budget)
    finally:
        torch.set_num_threads(saved)


def _bench_loop(
    model: torch.nn.Module, windows: torch.Tensor, device: torch.device, n_max: int, repeat: int, budget: float
) -> dict[str, Any]:

    def run(n: int) -> None:
        outs = []
        with torch.no_grad():
            for i in range(n):
                outs.append(to_numpy(model(windows[i][None].to(device))))

    run(LOOP_WARMUP)
    dt = timed(lambda: run(LOOP_WARMUP), device)
    n = min(n_max, len(windows), max(50, int(LOOP_WARMUP / dt * budget / repeat)))
    best = min(timed(lambda: run(n), device) for _ in range(repeat))
    return {"n": n, "seconds": best, "rate": n / best}


def bench_training(
    network: str,
    profile: str,
    windows: torch.Tensor,
    targets: Any,
    device: torch.device,
    n_max: int,
    budget: float,
) -> dict[str, Any]:
    """Seconds of one fit epoch (training + the 20% validation pass) after a warm-up fit."""
    config = ModelConfig(network, n_features=windows.shape[-1], profile=profile)
    train = replace(config.training(), epochs=1, patience=None, lr_patience=None)

    def epoch_seconds(n: int) -> float:
        x, y = windows[:n], head(targets, n)
        if clock(device) is time.process_time:  # the whole fit call: model build and input check too
            return timed(lambda: fit(config, x, y, train=train, device=device, quiet=True), device)
        return fit(config, x, y, train=train, device=device, quiet=True).history[0]["seconds"]

    probe = min(n_max, TRAIN_PROBE, len(windows))
    rate = probe / epoch_seconds(probe)
    n = min(n_max, len(windows), max(probe, int(rate * budget)))
    seconds = epoch_seconds(n)
    return {
        "n": n,
        "batch_size": train.batch_size,
        "val_fraction": train.val_fraction,
        "seconds": seconds,
        "rate": n / seconds,
        "seconds_at_target": n_max / (n / seconds),
        "extrapolated": n < n_max,
    }


def bench_one(network: str, profile: str, device: torch.device, args: argparse.Namespace) -> list[dict[str, Any]]:
    feature_set, length = NETWORKS[network]
    length = args.window.get(network, length)
    n_features = len(MODEL_COLUMNS[feature_set])
    host = feature_matrix(args.bars, n_features)
    host_windows = sliding_windows(host, length)
    config = ModelConfig(network, n_features=n_features, profile=profile)
    torch.manual_seed(0)
    model = build_model(config)
    params = sum(p.numel() for p in model.parameters())
    base = {
        "network": network,
        "profile": profile,
        "features": n_features,
        "window": length,
        "params": params,
        "windows_total": len(host_windows),
    }
    batch_sizes = args.batch_size or DEFAULT_BATCH[device.type]
    rows = []
    variants = [(str(device.type), host_windows)]
    if device.type == "cuda":
        variants = [("cuda", sliding_windows(host.to(device), length)), ("cuda/host", host_windows)]
    for label, windows in variants:
        say(f"  {network}/{profile} on {label}: batched inference ...")
        trials = [bench_batched(model, windows, bs, device, args.repeat, args.budget) for bs in batch_sizes]
        best = max(trials, key=lambda t: t["rate"])
        row = {**base, "device": label, "batched": best, "batched_trials": trials, "loop": None, "ratio": None,
               "train": None}
        if label != "cuda/host":
            say(f"  {network}/{profile} on {label}: per-window loop ...")
            row["loop"] = bench_loop(
                model, host_windows, device, args.loop_windows, args.repeat, args.budget, args.loop_threads
            )
            row["ratio"] = best["rate"] / row["loop"]["rate"]
            if args.train_windows > 0:
                say(f"  {network}/{profile} on {label}: training ...")
                targets = random_targets(network, len(windows))
                if device.type == "cuda":
                    targets = tuple(v.to(device) for v in targets) if isinstance(targets, tuple) else targets.to(device)
                row["train"] = bench_training(
                    network, profile, windows, targets, device, args.train_windows, args.budget
                )
        rows.append(row)
    return rows


def keras_loop(args: argparse.Namespace) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Any], str | None]:
    """Run benchmarks/keras_loop.py under ``--keras-python``: ({(network, profile): its row},
    its meta, an error line or None)."""
    cmd = [args.keras_python, str(ROOT / "benchmarks" / "keras_loop.py"), "--networks", *args.networks,
           "--profiles", *args.profiles, "--loop-windows", str(min(args.loop_windows, 200)),
           "--repeat", str(args.repeat), "--budget", str(args.budget), "--threads", str(args.loop_threads),
           "--clock", args.clock]
    if args.window:
        cmd += ["--window", *(f"{k}={v}" for k, v in args.window.items())]
    say("Keras per-window loop (benchmarks/keras_loop.py) ...")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {}, {}, f"Keras loop not measured: {exc}"
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {}, {}, f"Keras loop not measured: {args.keras_python} exited {proc.returncode}: {tail}"
    try:
        out = json.loads(proc.stdout)
        rows = {(r["network"], r["profile"]): r for r in out.pop("rows")}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return {}, {}, f"Keras loop not measured: unreadable output from {args.keras_python} ({exc})"
    return rows, out, None


def keras_cells(r: dict[str, Any]) -> tuple[str, str, str]:
    kr = r.get("keras")
    return (f"{kr['rate']:.1f}", f"{kr['n']:,}", f"{r['keras_ratio']:,.0f}x") if kr else ("-", "-", "-")


def fmt_rate(r: float) -> str:
    return f"{r:,.0f}"


def table(rows: list[dict[str, Any]], train_windows: int) -> str:
    keras = any(r.get("keras") for r in rows)
    header = (
        "network", "profile", "device", "feat", "win", "params", "batched win/s", "bs", "n",
        "loop win/s", "n", "batched/loop", *(("keras win/s", "n", "batched/keras") if keras else ()),
        "train s/epoch", "n", f"s/epoch@{train_windows:,}",
    )
    lines = []
    for r in rows:
        b, lp, tr = r["batched"], r["loop"], r["train"]
        lines.append((
            r["network"], r["profile"], r["device"], str(r["features"]), str(r["window"]), f"{r['params']:,}",
            fmt_rate(b["rate"]), str(b["batch_size"]), f"{b['n']:,}",
            fmt_rate(lp["rate"]) if lp else "-", f"{lp['n']:,}" if lp else "-",
            f"{r['ratio']:,.0f}x" if lp else "-",
            *(keras_cells(r) if keras else ()),
            f"{tr['seconds']:.2f}" if tr else "-", f"{tr['n']:,}" if tr else "-",
            (("~" if tr["extrapolated"] else "") + f"{tr['seconds_at_target']:.1f}") if tr else "-",
        ))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)] if lines else []
    left = {0, 1, 2}

    def render(cells: Any) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in pairs)
    out = [render(header), render(["-" * w for w in widths])]
    out += [render(line) for line in lines]
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bars", type=int, default=100_000, help="bars of the feature matrix (default 100000)")
    p.add_argument("--loop-windows", type=int, default=2000, help="most windows of the per-window loop (2000)")
    p.add_argument("--train-windows", type=int, default=20_000, help="most windows of a training epoch (20000)")
    p.add_argument("--batch-size", type=int, nargs="+", help="predict batch sizes to try (cpu: 1024 4096; "
                   "cuda: 8192 32768 65536)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: the CPU, and CUDA too when available (default)")
    p.add_argument("--networks", nargs="+", choices=tuple(NETWORKS), default=list(NETWORKS))
    p.add_argument("--profiles", nargs="+", choices=PROFILES, default=list(PROFILES))
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: all cores)")
    p.add_argument("--loop-threads", type=int, default=0, help="threads of the per-window loop (default: --threads)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per measurement; the best counts (3)")
    p.add_argument("--budget", type=float, default=4.0,
                   help="seconds one measurement may take, about (4); slower ones time fewer windows")
    p.add_argument("--window", nargs="+", default=[], metavar="NET=LEN", help="override lookbacks, e.g. sltp=30")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall (default), or cpu: CPU rows timed by this process's CPU time (for a busy machine;\n"
                   "meaningful with --threads 1, where it excludes time spent waiting for a core)")
    p.add_argument("--keras-python", metavar="PATH", help="an interpreter with TensorFlow: also time the seeds'\n"
                   "Keras model.predict loop (benchmarks/keras_loop.py) on the CPU rows")
    p.add_argument("--json", action="store_true", help="print JSON on stdout instead of the table")
    args = p.parse_args(argv)
    windows = {}
    for item in args.window:
        name, _, value = item.partition("=")
        if name not in NETWORKS or not value.isdigit() or int(value) < 1:
            p.error(f"--window wants NET=LEN with NET in {tuple(NETWORKS)}, got {item!r}")
        windows[name] = int(value)
    args.window = windows
    if args.bars < max(args.window.get(n, NETWORKS[n][1]) for n in args.networks) + 1:
        p.error("--bars is shorter than a window")
    if min(args.loop_windows, args.repeat) < 1 or args.train_windows < 0 or args.budget <= 0:
        p.error("--loop-windows and --repeat must be >= 1, --train-windows >= 0, --budget > 0")
    if args.batch_size and min(args.batch_size) < 1:
        p.error("--batch-size must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - a script's option handling and table, read top down
    args = parse_args(argv)
    threads = args.threads or core_count()
    args.loop_threads = args.loop_threads or threads
    CPU_CLOCK[0] = args.clock == "cpu"
    torch.set_num_threads(threads)
    cuda = torch.cuda.is_available()
    devices = []
    if args.device in ("auto", "cpu"):
        devices.append(torch.device("cpu"))
    notes = []
    if args.device in ("auto", "cuda"):
        if cuda:
            devices.append(torch.device("cuda"))
        elif args.device == "cuda":
            say("CUDA was asked for (--device cuda) but torch.cuda.is_available() is False.")
            return 2
        else:
            notes.append("CUDA not available (torch.cuda.is_available() is False): GPU rows skipped; "
                         f"the {GPU_TARGET:,.0f} windows/s target for price/full was not checked.")
    meta = {
        "cpu": cpu_name(),
        "cores": core_count(),
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": threads,
        "loop_threads": args.loop_threads,
        "clock": args.clock,
        "bars": args.bars,
        "repeat": args.repeat,
        "budget_s": args.budget,
        "load_average_start": load_average(),
    }
    say(f"bt model benchmark: {meta['cpu']} ({meta['cores']} cores), GPU {meta['gpu'] or 'none'}, "
        f"torch {meta['torch']}, {threads} threads, load average {meta['load_average_start']}")
    busy = hasattr(os, "getloadavg") and os.getloadavg()[0] > 0.5
    if busy:
        notes.append(f"warning: the machine was busy at the start (load average {meta['load_average_start']} on "
                     f"{meta['cores']} cores): CPU timings are low, the per-window loop's most of all when its "
                     "threads wait for descheduled ones (try --loop-threads 1, or a quiet machine).")
    for note in notes:
        say(note)
    started = time.perf_counter()
    keras, keras_meta = {}, {}
    if args.keras_python and any(d.type == "cpu" for d in devices):
        keras, keras_meta, error = keras_loop(args)
        if error:
            notes.append(error)
        meta["keras"] = keras_meta
    rows: list[dict[str, Any]] = []
    for device in devices:
        for network in args.networks:
            for profile in args.profiles:
                rows += bench_one(network, profile, device, args)
    for r in rows:
        kr = keras.get((r["network"], r["profile"])) if r["device"] == "cpu" else None
        r["keras"], r["keras_ratio"] = kr, (r["batched"]["rate"] / kr["rate"] if kr else None)
    meta["seconds"] = time.perf_counter() - started
    meta["load_average_end"] = load_average()

    for r in rows:
        b, lp, tr = r["batched"], r["loop"], r["train"]
        name = f"{r['network']}/{r['profile']} on {r['device']}"
        if b["n"] < r["windows_total"]:
            notes.append(f"{name}: batched timing covers {b['n']:,} of {r['windows_total']:,} windows (budget).")
        if lp and lp["n"] < min(args.loop_windows, r["windows_total"]):
            notes.append(f"{name}: loop timing covers {lp['n']:,} of {args.loop_windows:,} windows (budget).")
        if tr and tr["extrapolated"]:
            notes.append(f"{name}: training timed on {tr['n']:,} windows, s/epoch extrapolated to "
                         f"{args.train_windows:,}.")
    verdicts = []
    cpu_rows = [r for r in rows if r["device"] == "cpu" and r["loop"]]
    if cpu_rows:
        met = [r for r in cpu_rows if r["ratio"] >= CPU_TARGET]
        verdicts.append(f"CPU target batched >= {CPU_TARGET:.0f}x loop: met by {len(met)} of {len(cpu_rows)} "
                        f"(min {min(r['ratio'] for r in cpu_rows):,.0f}x, "
                        f"max {max(r['ratio'] for r in cpu_rows):,.0f}x); not met: "
                        + (", ".join(f"{r['network']}/{r['profile']} {r['ratio']:.1f}x"
                                     for r in cpu_rows if r["ratio"] < CPU_TARGET) or "none"))
    keras_rows = [r for r in cpu_rows if r.get("keras")]
    if keras_rows:
        met = [r for r in keras_rows if r["keras_ratio"] >= CPU_TARGET]
        verdicts.append(f"CPU target batched >= {CPU_TARGET:.0f}x the seeds' Keras predict loop: met by {len(met)} of "
                        f"{len(keras_rows)} (min {min(r['keras_ratio'] for r in keras_rows):,.0f}x); not met: "
                        + (", ".join(f"{r['network']}/{r['profile']} {r['keras_ratio']:.1f}x"
                                     for r in keras_rows if r["keras_ratio"] < CPU_TARGET) or "none"))
    for r in rows:
        if r["device"] == "cuda" and r["network"] == "price" and r["profile"] == "full":
            rate = r["batched"]["rate"]
            verdicts.append(f"GPU target price/full >= {GPU_TARGET:,.0f} windows/s on an H100: {rate:,.0f} on "
                            f"{meta['gpu']} -> {'met' if rate >= GPU_TARGET else 'NOT met'}")

    if args.json:
        print(json.dumps({"meta": meta, "rows": rows, "notes": notes, "verdicts": verdicts}, indent=1))
        return 0
    print(f"CPU: {meta['cpu']} ({meta['cores']} cores)   GPU: {meta['gpu'] or 'none (CUDA not available)'}")
    if keras_meta:
        print(f"Keras loop: TensorFlow {keras_meta['tensorflow']}, Keras {keras_meta['keras']}, "
              f"{keras_meta['threads']} threads, model.predict per window ({args.keras_python})")
    print(f"torch {meta['torch']}, Python {meta['python']}, {threads} threads (loop: {args.loop_threads}); "
          f"{args.bars:,} bars; {args.clock} clock; best of "
          f"{args.repeat}; budget ~{args.budget:g} s per timing; load average {meta['load_average_start']} "
          f"(start) {meta['load_average_end']} (end); {meta['seconds']:.0f} s in all")
    print()
    print(table(rows, args.train_windows))
    print()
    for line in verdicts + notes:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
