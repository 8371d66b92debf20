"""Engine benchmark: bt against its previous kernel, vectorbt and backtesting.py on
identical signals, in one run.

    python benchmarks/engine.py [--bars 100000] [--cols 200] [--baseline bc1fea2]

Workloads (seeded synthetic GBM OHLC, labelled synthetic: the embedded real sample has
only 20,106 bars):

- dense: 100,000 hourly bars x 200 columns of random +1/-1/0 targets (about one change
  every 33 bars per column), 2% stop-loss, 4% take-profit, 0.1% fee, both directions,
  next-open fills; metrics only, and with equity, stats and trades;
- one column of the same, end to end with ``.trades`` (against backtesting.py);
- sparse: the public workload of vectorbt PRO's "simulator showdown": 1,000,000
  one-minute bars x 8 columns, 694 entries and 694 exits per column at random bars
  (about 1,388 fills), long only, no stops, no fee; bt with its metrics.

The baseline is the engine of an earlier commit (``--baseline``, default the last one
before issue 14 changed the kernel: leverage, liquidation, funding, shared cash),
taken with ``git archive`` into a temporary folder and imported beside this checkout's
``mlbt`` (as ``engine`` for commits before the ``mlbt`` namespace, else as
``mlbt_baseline``), so both run in this process, interleaved, on the same inputs;
the one-column stage runs each in fresh processes instead (see ``process_race``).
Every figure is the best of ``--repeat`` runs after a warm-up (numba compiled); the
first call in a fresh process is timed with an empty and with a warm numba cache.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from mlbt import Signals, backtest

ROOT = Path(__file__).resolve().parents[1]
SL, TP, FEE = 0.02, 0.04, 0.001
BASELINE = "bc1fea2"  # the last commit before issue 14 (margin, carry, shared cash) changed the kernel


def synthetic_bars(n: int, seed: int = 7, freq: str = "h") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 10_000 * np.exp(np.cumsum(rng.normal(0, 0.006, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0005, n))
    wick = np.abs(rng.normal(0, 0.003, (2, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    index = pd.date_range("2010-01-01", periods=n, freq=freq, tz="UTC", name="synthetic")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=index)


def random_targets(index: pd.Index, n_cols: int, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.choice([-1.0, 0.0, 1.0, np.nan], p=[0.01, 0.01, 0.01, 0.97], size=(len(index), n_cols))
    return pd.DataFrame(values, index=index)


def showdown_targets(index: pd.Index, n_cols: int = 8, trades: int = 694, seed: int = 3) -> pd.DataFrame:
    """``trades`` entries (+1) and as many exits (0) per column at random distinct bars,
    alternating: the sparse long-only workload of vectorbt PRO's simulator showdown."""
    rng = np.random.default_rng(seed)
    values = np.full((len(index), n_cols), np.nan)
    for j in range(n_cols):
        bars = np.sort(rng.choice(len(index), 2 * trades, replace=False))
        values[bars, j] = np.tile([1.0, 0.0], trades)
    return pd.DataFrame(values, index=index)


def best_of(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: compilation and caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def race(a: Callable[[], object], b: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best times of ``a`` and ``b`` run alternately (so both see the same machine)."""
    a(), b()
    ta, tb = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        a()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        b()
        tb.append(time.perf_counter() - t)
    return min(ta), min(tb)


def one_column_call(package: ModuleType, n_bars: int) -> Callable[[], object]:
    """The one-column stage: ``n_bars`` bars end to end with ``.trades``."""
    one = synthetic_bars(n_bars)
    signals = package.Signals(random_targets(one.index, 1)[0], sl=SL, tp=TP)
    return lambda: package.backtest(one, signals, fee=FEE).trades


def process_race(n_bars: int, repeat: int, baseline: str, rounds: int = 3) -> tuple[float, float]:
    """Best times of the one-column stage, now and at ``baseline``, each in fresh processes
    run alternately (``rounds`` each, best of ``repeat`` calls in each). In one process
    the two engines share a heap and caches, and so measured the call was 1.45x slower
    in whichever engine was called second from the start (0.75x with the order swapped),
    while each alone took the same time within 5%."""
    best: dict[str, float] = {"old": float("inf"), "now": float("inf")}
    for _ in range(rounds):
        for who in ("old", "now"):
            out = subprocess.run([sys.executable, __file__, "--solo", who, "--baseline", baseline,
                                  "--bt-py-bars", str(n_bars), "--one-repeat", str(repeat)],
                                 check=True, capture_output=True, text=True).stdout
            best[who] = min(best[who], float(out.split()[-1]))
    return best["old"], best["now"]


def load_baseline(rev: str) -> ModuleType | None:
    """The engine of commit ``rev`` (None, with a note, where git cannot give it): its
    ``engine`` package as it was (commits before the ``mlbt`` namespace), or, for later
    commits, its ``engine/``, ``data/`` and ``models/`` folders assembled as the package
    ``mlbt_baseline`` with every ``mlbt`` import renamed to it, so that it cannot pick
    up this checkout's modules."""
    folder = Path(tempfile.mkdtemp(prefix="bt-baseline-"))
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "engine", "data", "models"],
                                 capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"note: no baseline: git archive {rev} failed ({exc}); the old-vs-new rows are left out")
        return None
    sys.path.insert(0, str(folder))
    if "mlbt" not in (folder / "engine" / "__init__.py").read_text():
        return importlib.import_module("engine")
    package = folder / "mlbt_baseline"
    (folder / "engine").rename(package)
    for sub in ("data", "models"):
        (folder / sub).rename(package / sub)
    for source in package.rglob("*.py"):
        text = source.read_text()
        source.write_text(re.sub(r"\bmlbt\b(?=[ .])", "mlbt_baseline", text))
    return importlib.import_module("mlbt_baseline")


def vectorbt_signals(bars: pd.DataFrame, target: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    tf = target.ffill().fillna(0.0)
    prev = tf.shift(1).fillna(0.0)
    shift = lambda m: m.shift(1, fill_value=False)  # noqa: E731 - next-open fills
    return shift((tf == 1) & (prev != 1)), shift((tf == -1) & (prev != -1)), shift(tf == 0)


def run_vectorbt(bars: pd.DataFrame, long_entry: pd.DataFrame, short_entry: pd.DataFrame, flat: pd.DataFrame,
                 stops: bool = True, fee: float = FEE, freq: str = "1h") -> object:
    import vectorbt as vbt  # the peer: loaded only here

    kw = dict(sl_stop=SL, tp_stop=TP, stop_entry_price="fillprice", stop_exit_price="stopmarket") if stops else {}
    return vbt.Portfolio.from_signals(
        bars.close, entries=long_entry, exits=flat, short_entries=short_entry, short_exits=flat,
        price=bars.open, open=bars.open, high=bars.high, low=bars.low, fees=fee, upon_opposite_entry="reverse",
        init_cash=100_000.0, freq=freq, **kw)


def vectorbt_end_to_end(bars: pd.DataFrame, long_entry: pd.DataFrame, short_entry: pd.DataFrame,
                        flat: pd.DataFrame) -> object:
    pf = run_vectorbt(bars, long_entry, short_entry, flat)
    pf.value()
    return pf.stats(agg_func=None, silence_warnings=True)


def run_backtesting_py(bars: pd.DataFrame, target: pd.Series, repeat: int = 1) -> tuple[float, int]:
    """Seconds for Backtest.run() (the best of ``repeat`` runs) and the number of
    trades it made."""
    from backtesting import Backtest, Strategy  # the peer: loaded only here

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
from {package} import Signals, backtest
idx = pd.date_range("2024-01-01", periods=500, freq="h", tz="UTC")
c = np.linspace(100, 120, 500)
bars = pd.DataFrame({{"open": c, "high": c * 1.01, "low": c * 0.99, "close": c}}, index=idx)
backtest(bars, Signals(np.sign(np.sin(np.arange(500) / 9.0)), sl=0.02, tp=0.04), fee=0.001)
print(time.perf_counter() - t)
"""


def first_call_seconds(cache_dir: str, package: str = "mlbt", path: str = "") -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    if path:
        env["PYTHONPATH"] = path
    out = subprocess.run([sys.executable, "-c", FIRST_CALL.format(package=package)], env=env, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def first_calls(baseline: ModuleType | None) -> None:
    rows = [("bt", "mlbt", "")]
    if baseline is not None:
        rows.append(("previous kernel", baseline.__name__, str(Path(baseline.__file__).parents[1])))
    for name, package, path in rows:
        with tempfile.TemporaryDirectory() as cache:
            cold = first_call_seconds(cache, package, path)
            warm = first_call_seconds(cache, package, path)
        print(f"first call in a fresh process (import + compile + run), {name}: cold cache {cold:.2f} s, "
              f"warm cache {warm:.2f} s")


def old_vs_new(baseline: ModuleType, stages: list[tuple[str, int, Callable | float, Callable | float]],
               baseline_name: str) -> None:
    """Each stage run by both kernels (the previous one, of commit ``baseline_name``),
    alternately; the ratio is new / old time. A stage given as two numbers was timed
    elsewhere (seconds, new then old)."""
    print(f"\n{'stage (bt now vs the previous kernel, ' + baseline_name + ')':<58}{'now ms':>10}{'previous ms':>13}"
          f"{'now / previous':>16}")
    for name, repeat, new, old in stages:
        t_old, t_new = race(old, new, repeat) if callable(new) else (old, new)
        print(f"{name:<58}{t_new * 1e3:>10.3f}{t_old * 1e3:>13.3f}{t_new / t_old:>15.3f}x")


def main() -> None:  # noqa: C901 - a script: each workload and its table, read top down
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=100_000)
    ap.add_argument("--cols", type=int, default=200)
    ap.add_argument("--bt-py-bars", type=int, default=100_000)
    ap.add_argument("--sparse-bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--one-repeat", type=int, default=20)
    ap.add_argument("--baseline", default=BASELINE, help="commit whose engine/ is the previous kernel ('' for none)")
    ap.add_argument("--kernel-only", action="store_true", help="only bt against the previous kernel (no peers)")
    ap.add_argument("--solo", choices=("now", "old"), help=argparse.SUPPRESS)  # process_race's child
    args = ap.parse_args()
    if args.solo:
        package = load_baseline(args.baseline) if args.solo == "old" else sys.modules["mlbt"]
        print(f"{best_of(one_column_call(package, args.bt_py_bars), args.one_repeat):.9f}")
        return

    print(f"load average {os.getloadavg()[0]:.2f}; numba threads {__import__('numba').get_num_threads()}")
    baseline = load_baseline(args.baseline) if args.baseline else None
    first_calls(baseline)

    bars = synthetic_bars(args.bars)
    target = random_targets(bars.index, args.cols)
    signals = Signals(target, sl=SL, tp=TP)
    cells = args.bars * args.cols
    one = synthetic_bars(args.bt_py_bars)
    one_target = random_targets(one.index, 1)[0]
    one_signals = Signals(one_target, sl=SL, tp=TP)
    sparse = synthetic_bars(args.sparse_bars, freq="min")
    sparse_target = showdown_targets(sparse.index)
    sparse_signals = Signals(sparse_target)
    sparse_cells = sparse_target.size

    if baseline is not None:
        old_signals = baseline.Signals(target, sl=SL, tp=TP)
        old_sparse = baseline.Signals(sparse_target)
        before = baseline.backtest(bars, old_signals, fee=FEE).stats  # (the metrics the previous kernel has)
        same = backtest(bars, signals, fee=FEE).stats[before.columns].equals(before)
        print(f"previous kernel's metrics on the dense workload: {'identical' if same else 'DIFFERENT'}")
        old_vs_new(baseline, [
            (f"dense {args.bars:,} x {args.cols}: metrics only (record=False)", args.repeat,
             lambda: backtest(bars, signals, fee=FEE, record=False),
             lambda: baseline.backtest(bars, old_signals, fee=FEE, record=False)),
            (f"dense {args.bars:,} x {args.cols}: + equity, stats, trades", args.repeat,
             lambda: backtest(bars, signals, fee=FEE).trades,
             lambda: baseline.backtest(bars, old_signals, fee=FEE).trades),
            (f"one column {args.bt_py_bars:,} bars, + trades, own processes", 0,
             *reversed(process_race(args.bt_py_bars, 10 * args.one_repeat, args.baseline))),
            (f"sparse {args.sparse_bars:,} x 8, metrics", args.repeat,
             lambda: backtest(sparse, sparse_signals, record=False).stats,
             lambda: baseline.backtest(sparse, old_sparse, record=False).stats),
        ], args.baseline)
    if args.kernel_only:
        return

    bt_sim = best_of(lambda: backtest(bars, signals, fee=FEE, record=False), args.repeat)
    bt_full = best_of(lambda: backtest(bars, signals, fee=FEE).trades, args.repeat)
    sig = vectorbt_signals(bars, target)
    vbt_sim = best_of(lambda: run_vectorbt(bars, *sig), args.repeat)
    vbt_full = best_of(lambda: vectorbt_end_to_end(bars, *sig), 1)
    check = backtest(bars, signals, fee=FEE)
    pf = run_vectorbt(bars, *sig)
    err = np.max(np.abs(check.equity.to_numpy() / pf.value().to_numpy() - 1))
    print(f"\ndense: synthetic GBM, {args.bars:,} bars x {args.cols} columns = {cells:,} bar-columns; bt vs "
          f"vectorbt equity: max relative difference {err:.1e}, trades {len(check.trades):,} vs "
          f"{len(pf.trades.records):,}")
    print(f"{'stage':<46}{'bt s':>9}{'vectorbt s':>12}{'bt Mcell/s':>12}{'vbt Mcell/s':>13}{'ratio':>8}")
    for name, b, v in (("simulation (bt: metrics only, record=False)", bt_sim, vbt_sim),
                       ("simulation + equity + stats + trades", bt_full, vbt_full)):
        print(f"{name:<46}{b:>9.3f}{v:>12.3f}{cells / b / 1e6:>12.1f}{cells / v / 1e6:>13.1f}{v / b:>7.1f}x")

    bt_sparse = best_of(lambda: backtest(sparse, sparse_signals, record=False).stats, args.repeat)
    ssig = vectorbt_signals(sparse, sparse_target)
    vbt_sparse = best_of(lambda: run_vectorbt(sparse, *ssig, stops=False, fee=0.0, freq="1min"), args.repeat)
    n_trades = backtest(sparse, sparse_signals, record=False).stats["trades"].mean()
    print(f"\nsparse (vectorbt PRO's simulator showdown): {args.sparse_bars:,} one-minute bars x 8 columns, "
          f"{n_trades:,.0f} trades per column, long only")
    print(f"{'bt, end to end with its metrics':<46}{bt_sparse * 1e3:>9.2f} ms{sparse_cells / bt_sparse / 1e6:>10.0f} "
          "M bar-col/s   (target < 20 ms, >= 400 M bar-col/s)")
    print(f"{'vectorbt from_signals (no metrics)':<46}{vbt_sparse * 1e3:>9.2f} ms"
          f"{sparse_cells / vbt_sparse / 1e6:>10.0f} M bar-col/s   ratio {vbt_sparse / bt_sparse:.1f}x")

    bt_one = best_of(lambda: backtest(one, one_signals, fee=FEE).trades, args.one_repeat)
    bpy, bpy_trades = run_backtesting_py(one, one_target, min(args.one_repeat, 10))
    one_trades = len(backtest(one, one_signals, fee=FEE).trades)
    print(f"\nbacktesting.py, {args.bt_py_bars:,} bars x 1 column (end to end; trades: bt {one_trades:,}, "
          f"backtesting.py {bpy_trades:,}):")
    print(f"{'bt':<16}{bt_one * 1e3:>9.3f} ms{args.bt_py_bars / bt_one / 1e6:>10.2f} Mbar/s")
    print(f"{'backtesting.py':<16}{bpy * 1e3:>9.1f} ms{args.bt_py_bars / bpy / 1e6:>10.4f} Mbar/s")
    print(f"ratio: bt is {bpy / bt_one:,.0f}x faster")


if __name__ == "__main__":
    main()
