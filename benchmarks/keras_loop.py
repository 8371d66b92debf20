"""Keras peer baseline: the seeds' own per-window ``model.predict`` loop, timed under TensorFlow.

    /path/bin/python benchmarks/keras_loop.py [--networks etf50 price crypto attention attention_ensemble sltp]
        [--profiles full fast] [--bars 5000] [--loop-windows 200] [--repeat 3] [--budget 4] [--threads 1]
        [--clock wall|cpu] [--window sltp=60]

What it measures. The seed trading systems that bt's networks come from were, by all signs
(recurrent dropout, swish, ReduceLROnPlateau, a keep-probability), Keras/TensorFlow
systems, and they predicted one window at a time: ``model.predict(window[np.newaxis])``
inside a loop over bars. ``benchmarks/inference.py`` times bt's batched torch inference
against a torch per-window loop, which leaves out Keras' own per-call overhead (data
adapter, tf.function dispatch, output conversion). This script times that loop as the
seeds ran it: for every network and profile it builds a Keras mirror of bt's torch
network with the same layer sizes (models/networks/*.py, models/profiles.py), then calls
``model.predict(windows[i][np.newaxis], verbose=0)`` once per window and keeps the output
as numpy. Small networks are dominated by ``predict``'s fixed cost: every call builds a
tf.data pipeline and iterator for its one-window batch (the predict function itself is
traced once), which takes tens of milliseconds on a CPU whatever the network's size.

The mirrors (Keras 3, TensorFlow backend, CPU: every LSTM runs Keras' generic loop):

- etf50: LSTM(15) -> dropout 0.05 -> LSTM(15) -> dropout -> dense(15, leaky-ReLU 0.01)
  -> dense(1, tanh). Same in both profiles.
- price: LSTM(128) -> LSTM(128) -> dense(1); fast: 32 units.
- crypto: batch-norm -> [LSTM -> dropout -> batch-norm] x 3 (256, 128, 64; fast 32, 16, 8;
  the last one returns its last step) -> dense(64, swish) -> dropout -> dense(32, swish)
  -> dense(1); fast dense 16, 8. The LSTMs carry the seed's recurrent dropout 0.1
  (inactive at inference; on a CPU Keras runs the same generic loop with or without it).
- attention: LSTM(64) -> LSTM(32) -> additive attention over time (a small custom layer,
  as Keras had none that pools a sequence) -> dense(32, ReLU) -> dense(16, ReLU)
  -> dense(1, sigmoid); fast LSTM 32, 16 and dense 16, 8.
- attention_ensemble: three separate attention models (the sizes of
  ``models.networks.attention.ENSEMBLE_MEMBERS`` and the fast profile's members), called
  in turn per window, the probability their mean and the confidence 1 - their standard
  deviation (numpy). That is how a Keras system with "3 models with different
  hyperparameters", trained one by one, predicts; one window costs three ``predict``
  calls (``calls_per_window`` in the output).
- sltp: LSTM(80) (fast 32), last step -> three heads: dense(3, softmax) for buy / sell /
  no trade, and stop-loss and take-profit dense(1) clipped to [-10, 10].

Parameter counts are Keras' ``count_params()``; they differ slightly from torch's (a Keras
LSTM has one bias vector, torch two; Keras counts batch-norm's moving mean and variance).
Weights are seeded and untrained: LSTM cost does not depend on them.

Input: a seeded standard-normal float32 (bars x features) matrix (numpy
``default_rng(7)``; features as ``data.MODEL_COLUMNS``: etf50 7, price 5, crypto 24,
attention and the ensemble 19, sltp 13), windowed with
``np.lib.stride_tricks.sliding_window_view`` into (n, time, features) views; window =
the seed's lookback, etf50 5 and the others 60 (``--window NET=LEN`` overrides).

Timing: 5 warm-up calls, then 5 timed calls estimate the time per window; n = the most
windows that fit about ``--budget / --repeat`` seconds per pass, at least 20 and at most
``--loop-windows``; the best of ``--repeat`` passes over n windows counts. ``--clock
cpu`` times by this process's CPU time (``time.process_time``) instead of the wall clock
(``time.perf_counter``): on a shared machine, with ``--threads 1``, that leaves out the
time spent waiting for a core. ``--threads`` sets TensorFlow's intra- and inter-op
thread pools (0: TensorFlow's default, all cores).

Output: one JSON object on stdout, {"tensorflow", "keras", "threads", "clock", "rows":
[{"network", "profile", "features", "window", "params", "calls_per_window", "n",
"seconds", "rate" (windows/s), "method": "model.predict"}, ...]}; progress goes to stderr.

This is a peer baseline: TensorFlow is not a bt dependency, so the script runs under a
separate interpreter and imports neither torch nor any bt module. Make one with

    python -m venv /path && /path/bin/pip install tensorflow-cpu

and run this file with ``/path/bin/python``. ``benchmarks/inference.py --keras-python
/path/bin/python`` runs it in a subprocess with the same networks, profiles, windows,
budget, threads and clock, and reads its JSON to put the Keras loop next to bt's batched
and per-window torch figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers, ops  # noqa: E402

#: network -> (input features: data.MODEL_COLUMNS of its feature set, the seed's lookback)
NETWORKS: dict[str, tuple[int, int]] = {
    "etf50": (7, 5),
    "price": (5, 60),
    "crypto": (24, 60),
    "attention": (19, 60),
    "attention_ensemble": (19, 60),
    "sltp": (13, 60),  # the seed's sequences had variable length; 60 is bt's pick
}
PROFILES = ("full", "fast")
WARMUP, PROBE, MIN_WINDOWS = 5, 5, 20

#: network -> profile -> sizes, as models/networks/*.py defaults (full) and models/profiles.py (fast)
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "etf50": {"full": {"hidden": 15, "head": 15}, "fast": {"hidden": 15, "head": 15}},
    "price": {"full": {"hidden": 128}, "fast": {"hidden": 32}},
    "crypto": {
        "full": {"lstm": (256, 128, 64), "dense": (64, 32)},
        "fast": {"lstm": (32, 16, 8), "dense": (16, 8)},
    },
    "attention": {
        "full": {"lstm": (64, 32), "dense": (32, 16)},
        "fast": {"lstm": (32, 16), "dense": (16, 8)},
    },
    "attention_ensemble": {
        "full": {
            "members": (
                {"lstm": (64, 32), "dropout": 0.2, "dense": (32, 16)},
                {"lstm": (96, 48), "dropout": 0.3, "dense": (48, 24)},
                {"lstm": (32, 16), "dropout": 0.1, "dense": (16, 8)},
            )
        },
        "fast": {
            "members": (
                {"lstm": (32, 16), "dropout": 0.2, "dense": (16, 8)},
                {"lstm": (48, 24), "dropout": 0.3, "dense": (24, 12)},
                {"lstm": (16, 8), "dropout": 0.1, "dense": (8, 4)},
            )
        },
    },
    "sltp": {"full": {"hidden": 80}, "fast": {"hidden": 32}},
}


def say(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


class AdditiveAttention(layers.Layer):
    """Pools (batch, time, dim) to (batch, dim): softmax over time of v . tanh(W h_t + b)."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        dim = int(input_shape[-1])
        self.w = self.add_weight(shape=(dim, dim), initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(dim,), initializer="zeros", name="b")
        self.v = self.add_weight(shape=(dim, 1), initializer="glorot_uniform", name="v")

    def call(self, h: Any) -> Any:
        scores = ops.matmul(ops.tanh(ops.matmul(h, self.w) + self.b), self.v)  # (batch, time, 1)
        weights = ops.softmax(scores, axis=1)
        return ops.sum(weights * h, axis=1)


class Clip(layers.Layer):
    """Clamps its input to [-limit, limit] (the SL/TP heads)."""

    def __init__(self, limit: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = float(limit)

    def call(self, x: Any) -> Any:
        return ops.clip(x, -self.limit, self.limit)


def etf50(n_features: int, length: int, hidden: int, head: int) -> keras.Model:
    return keras.Sequential([
        keras.Input((length, n_features)),
        layers.LSTM(hidden, return_sequences=True),
        layers.Dropout(0.05),
        layers.LSTM(hidden),
        layers.Dropout(0.05),
        layers.Dense(head),
        layers.LeakyReLU(negative_slope=0.01),
        layers.Dense(1, activation="tanh"),
    ], name="etf50")


def price(n_features: int, length: int, hidden: int) -> keras.Model:
    return keras.Sequential([
        keras.Input((length, n_features)),
        layers.LSTM(hidden, return_sequences=True),
        layers.LSTM(hidden),
        layers.Dense(1),
    ], name="price")


def crypto(n_features: int, length: int, lstm: Sequence[int], dense: Sequence[int]) -> keras.Model:
    stack: list[layers.Layer] = [keras.Input((length, n_features)), layers.BatchNormalization()]
    for i, (units, rate) in enumerate(zip(lstm, (0.3, 0.3, 0.2), strict=True)):
        last = i == len(lstm) - 1
        stack += [
            layers.LSTM(units, return_sequences=not last, recurrent_dropout=0.1),
            layers.Dropout(rate),
            layers.BatchNormalization(),
        ]
    stack += [
        layers.Dense(dense[0], activation="swish"),
        layers.Dropout(0.2),
        layers.Dense(dense[1], activation="swish"),
        layers.Dense(1),
    ]
    return keras.Sequential(stack, name="crypto")


def attention(
    n_features: int,
    length: int,
    lstm: Sequence[int],
    dense: Sequence[int],
    dropout: float = 0.2,
    name: str = "attention",
) -> keras.Model:
    return keras.Sequential([
        keras.Input((length, n_features)),
        layers.LSTM(lstm[0], return_sequences=True),
        layers.Dropout(dropout),
        layers.LSTM(lstm[1], return_sequences=True),
        layers.Dropout(dropout),
        AdditiveAttention(),
        layers.Dense(dense[0], activation="relu"),
        layers.Dropout(dropout),
        layers.Dense(dense[1], activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ], name=name)


def sltp(n_features: int, length: int, hidden: int, clamp: float = 10.0) -> keras.Model:
    x = keras.Input((length, n_features))
    h = layers.LSTM(hidden)(x)
    action = layers.Dense(3, activation="softmax", name="action")(h)
    stop_loss = Clip(clamp, name="stop_loss")(layers.Dense(1)(h))
    take_profit = Clip(clamp, name="take_profit")(layers.Dense(1)(h))
    return keras.Model(x, [action, stop_loss, take_profit], name="sltp")


BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "etf50": etf50, "price": price, "crypto": crypto, "attention": attention, "sltp": sltp,
}


def build(network: str, profile: str, n_features: int, length: int) -> list[keras.Model]:
    """The Keras models one window goes through: one, or the ensemble's members."""
    sizes = SIZES[network][profile]
    if network == "attention_ensemble":
        return [
            attention(n_features, length, name=f"member{i}", **member) for i, member in enumerate(sizes["members"])
        ]
    return [BUILDERS[network](n_features, length, **sizes)]


def predictor(models: list[keras.Model]) -> Callable[[np.ndarray], Any]:
    """One window's prediction the seeds' way: ``predict`` on a batch of one, numpy out."""
    if len(models) == 1:
        model = models[0]
        return lambda w: model.predict(w[np.newaxis], verbose=0)

    def ensemble(w: np.ndarray) -> tuple[float, float]:
        probs = np.array([m.predict(w[np.newaxis], verbose=0)[0, 0] for m in models])
        return float(probs.mean()), float(1.0 - probs.std())

    return ensemble


def sliding_windows(matrix: np.ndarray, length: int) -> np.ndarray:
    """(bars, features) -> (bars - length + 1, length, features) view."""
    return np.moveaxis(np.lib.stride_tricks.sliding_window_view(matrix, length, axis=0), -1, 1)


def feature_matrix(bars: int, n_features: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((bars, n_features), dtype=np.float32)


def time_pass(predict: Callable[[np.ndarray], Any], windows: np.ndarray, n: int, now: Callable[[], float]) -> float:
    """Seconds of one pass over the first n windows; the outputs are kept, as the seeds kept them."""
    outs: list[Any] = []
    t = now()
    for i in range(n):
        outs.append(predict(windows[i]))
    return now() - t


def bench_loop(
    predict: Callable[[np.ndarray], Any], windows: np.ndarray, args: argparse.Namespace
) -> dict[str, Any]:
    """Best-of-``repeat`` seconds of the loop over n windows; n fits the budget."""
    now = time.process_time if args.clock == "cpu" else time.perf_counter
    for i in range(WARMUP):
        predict(windows[i % len(windows)])
    probe = min(PROBE, len(windows))
    per_window = time_pass(predict, windows, probe, now) / probe
    fit = int(args.budget / args.repeat / per_window) if per_window > 0 else args.loop_windows
    n = min(args.loop_windows, len(windows), max(MIN_WINDOWS, fit))
    best = min(time_pass(predict, windows, n, now) for _ in range(args.repeat))
    return {"n": n, "seconds": best, "rate": n / best}


def bench_one(network: str, profile: str, args: argparse.Namespace) -> dict[str, Any]:
    n_features, length = NETWORKS[network]
    length = args.window.get(network, length)
    windows = sliding_windows(feature_matrix(args.bars, n_features), length)
    keras.utils.set_random_seed(0)
    models = build(network, profile, n_features, length)
    say(f"  {network}/{profile}: keras per-window model.predict loop ...")
    timing = bench_loop(predictor(models), windows, args)
    say(f"  {network}/{profile}: {timing['rate']:,.1f} windows/s over {timing['n']} windows")
    row = {
        "network": network,
        "profile": profile,
        "features": n_features,
        "window": length,
        "params": sum(m.count_params() for m in models),
        "calls_per_window": len(models),
        **timing,
        "method": "model.predict",
    }
    keras.backend.clear_session()
    return row


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--networks", nargs="+", choices=tuple(NETWORKS), default=list(NETWORKS))
    p.add_argument("--profiles", nargs="+", choices=PROFILES, default=list(PROFILES))
    p.add_argument("--bars", type=int, default=5000, help="bars of the feature matrix (default 5000)")
    p.add_argument("--loop-windows", type=int, default=200, help="most windows of the loop (default 200)")
    p.add_argument("--repeat", type=int, default=3, help="timed passes; the best counts (default 3)")
    p.add_argument("--budget", type=float, default=4.0, help="seconds one measurement may take, about (default 4)")
    p.add_argument("--threads", type=int, default=1, help="TensorFlow intra/inter-op threads (default 1; 0: TF's)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall (default), or cpu: this process's CPU time (meaningful with --threads 1)")
    p.add_argument("--window", nargs="+", default=[], metavar="NET=LEN", help="override lookbacks, e.g. sltp=30")
    args = p.parse_args(argv)
    windows = {}
    for item in args.window:
        name, _, value = item.partition("=")
        if name not in NETWORKS or not value.isdigit() or int(value) < 1:
            p.error(f"--window wants NET=LEN with NET in {tuple(NETWORKS)}, got {item!r}")
        windows[name] = int(value)
    args.window = windows
    if args.bars < max(args.window.get(n, NETWORKS[n][1]) for n in args.networks):
        p.error("--bars is shorter than a window")
    if min(args.loop_windows, args.repeat) < 1 or args.budget <= 0 or args.threads < 0:
        p.error("--loop-windows and --repeat must be >= 1, --budget > 0, --threads >= 0")
    return args


def set_threads(threads: int) -> None:
    """TensorFlow's thread pools; must run before TensorFlow executes anything."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    say(f"tensorflow {tf.__version__}, keras {keras.__version__}, threads {args.threads or 'default'}, "
        f"clock {args.clock}")
    rows = [bench_one(network, profile, args) for network in args.networks for profile in args.profiles]
    print(json.dumps({
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "threads": args.threads,
        "clock": args.clock,
        "rows": rows,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
