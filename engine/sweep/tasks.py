"""The work of a sweep, as functions any process can run: a chunk of combinations ->
the plugin's signal rule -> one metrics-only engine pass -> a table of rows. The Dask
executor ships these functions and their arguments to workers; the local executor
calls them in this process. A column's metrics depend only on its own inputs, so
the rows are the same for any chunk size and any executor, bit for bit.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import tracemalloc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlbt.data.universe import assets
from mlbt.io import plain
from mlbt.settings import PER_PASS, SWEEPABLE, EngineSettings
from mlbt.sim import STAT_NAMES, Signals, backtest
from mlbt.strategy import (
    Context,
    PluginError,
    Strategy,
    UniverseContext,
    load_strategy,
    make_signals,
    prepare_context,
    universe_signals,
)
from mlbt.sweep.store import sort_table

#: Return blocks a sweep accumulates per combination by default, for the probability
#: of backtest overfitting (``mlbt.sweep.pbo``; 16 gives C(16, 8) = 12,870 splits).
RETURN_BLOCKS = 16


def block_columns(n_blocks: int) -> list[str]:
    """The table columns holding a combination's per-block return sums: ``r_b00`` ...
    (the sum of its bar returns in each block), then ``r2_b00`` ... (of their squares)."""
    return [f"r_b{b:02d}" for b in range(n_blocks)] + [f"r2_b{b:02d}" for b in range(n_blocks)]


@dataclass(frozen=True)
class PluginRef:
    """A plugin file by path, with its source text and hash, and the fixed param
    overrides (``--set``): what a task needs to load the strategy in any process, even
    one on another machine (the source is written to a temporary file there when the
    path does not hold the same file)."""

    path: str
    source: str
    sha256: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_path(cls, path: str | Path, params: dict[str, Any] | None = None) -> PluginRef:
        p = Path(path)
        if not p.is_file():
            raise PluginError(f"{p}: no such plugin file")
        data = p.read_bytes()
        return cls(str(p), data.decode("utf-8", errors="replace"), hashlib.sha256(data).hexdigest(),
                   tuple(sorted((params or {}).items())))

    def load(self, **overrides: Any) -> Strategy:
        """The strategy with the fixed params and ``overrides`` (model-param values)."""
        path = Path(self.path)
        if not (path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == self.sha256):
            path = Path(tempfile.gettempdir()) / f"bt_plugin_{self.sha256[:16]}.py"
            if not path.is_file():
                path.write_text(self.source)
        return load_strategy(path, **{**dict(self.params), **overrides})


@dataclass(frozen=True)
class Chunk:
    """One unit of work: combination ids ``ids`` (all in model group ``group``)."""

    id: int
    group: int
    ids: np.ndarray = field(compare=False)


@dataclass
class SweepJob:
    """Everything the executors need: the plugin, the bars, the combinations, one
    dict of model-param values per group, the engine settings, the in-sample ends of
    the walk-forward folds (None without ``--walk-forward``) and ``prepare`` options."""

    plugin: PluginRef
    bars: pd.DataFrame
    combos: pd.DataFrame
    groups: list[dict[str, Any]]
    group_ids: list[np.ndarray]
    engine: EngineSettings
    folds: list[int] | None = None
    prepare: dict[str, Any] = field(default_factory=dict)
    blocks: int = 0  # return blocks per combination (``block_columns``; 0: none)

    def chunk_frame(self, chunk: Chunk) -> pd.DataFrame:
        """The chunk's combinations, indexed by combination id."""
        return self.combos.iloc[chunk.ids]


# -- one chunk ----------------------------------------------------------------------


def _split_names(strategy: Strategy, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(signal params, engine params) among the swept ``names`` (model params excluded)."""
    names = list(names)
    signal = [n for n in names if n in strategy.params and not strategy.params[n].model]
    engine = [n for n in names if n not in strategy.params and n in SWEEPABLE]
    return signal, engine


def chunk_inputs(strategy: Strategy, ctx: Context | UniverseContext, combos: pd.DataFrame,
                 engine: EngineSettings) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
    """Run the signal rule for ``combos`` (one engine column each, in row order) and
    return (target (T, N) float64, the Signals fields it set, backtest keywords) with
    swept engine settings as per-column arrays (those of ``PER_PASS`` as object arrays
    of their values, which ``simulate_columns`` runs a pass each). ValueError when the
    rule fails or sets a field that is also swept."""
    signal_names, engine_names = _split_names(strategy, combos.columns)
    frame = combos[signal_names].reset_index(drop=True) if signal_names else pd.DataFrame(index=range(len(combos)))
    universe = isinstance(ctx, UniverseContext)
    if universe and "cash_sharing" in engine_names:
        raise ValueError("cash_sharing cannot be swept over a universe: each combination's assets share one "
                         "account; drop --grid cash_sharing=...")
    kwargs = engine.to_dict()
    width = len(assets(ctx.bars)) if universe else 1  # engine columns per combination
    for name in engine_names:
        if name in PER_PASS:
            kwargs[name] = np.repeat(combos[name].to_numpy(dtype=object), width)  # (N,): a pass per value
        else:
            kwargs[name] = np.repeat(combos[name].to_numpy(dtype="float64"), width)[None, :]  # (1, N): per column
    try:
        if isinstance(ctx, UniverseContext):
            # combinations numbered 0..N-1: each one's assets are one group, whatever its params; the
            # allocation scales a target weight, else the entry's size, so it reads each column's size_type
            signals = universe_signals(strategy, ctx.bars, ctx.prepared, strategy.grid(frame), ctx.allocation,
                                       {**engine.to_dict(), "size_type": kwargs["size_type"]},
                                       labels=pd.RangeIndex(len(frame), name="combo"))
        else:
            signals = make_signals(strategy, ctx, strategy.grid(frame))
    except PluginError:
        raise
    except ValueError as e:
        first, last = plain(combos.index[0]), plain(combos.index[-1])
        raise ValueError(f"{strategy.name}.signals failed on combinations {first}..{last}: {e} "
                         "(exclude such combinations with --constraint)") from e
    fields = {name: value for name, value in signals.settings().items() if value is not None}
    both = sorted(set(fields) & set(engine_names))
    if both:
        raise ValueError(f"{both[0]} is set by {strategy.name}'s signals, so it cannot be swept as an engine "
                         "setting; sweep the plugin's own params instead")
    if signals.reentry is not None:  # how the plugin's targets read: its choice, never an engine setting
        fields["reentry"] = bool(signals.reentry)
    if "trail" in engine_names and engine.trail is True:
        raise ValueError("--trail (a trailing sl) and a swept trail distance cannot be combined")
    if universe:  # (combination, asset) columns; each combination's assets share one account
        kwargs["cash_sharing"] = True
        return signals.target, fields, kwargs
    return signals.target.to_numpy(), fields, kwargs


def _rows(value: Any, end: int, T: int) -> Any:
    """``value`` restricted to bars [0, end) when it is per bar (T rows)."""
    if isinstance(value, pd.DataFrame | pd.Series) and len(value) == T:
        return value.iloc[:end]
    if isinstance(value, np.ndarray) and value.ndim in (1, 2) and value.shape[0] == T:
        return value[:end]
    return value


def evaluate_chunk(strategy: Strategy, ctx: Context | UniverseContext, combos: pd.DataFrame, engine: EngineSettings,
                   folds: Sequence[int] | None = None, blocks: int = 0) -> pd.DataFrame:
    """Metrics of ``combos`` (indexed by combination id): one row per combination with
    columns ``combo``, the swept params and every metric, then, with ``blocks``, its
    per-block return sums (``block_columns``); with ``folds`` (in-sample ends) one row
    per combination and fold, on bars [0, end) of each fold, with a ``fold`` column
    (1, 2, ...) and no blocks."""
    return simulate_chunk(ctx, combos, chunk_inputs(strategy, ctx, combos, engine), folds, blocks)


def simulate_chunk(ctx: Context | UniverseContext, combos: pd.DataFrame, inputs: tuple[np.ndarray, dict, dict],
                   folds: Sequence[int] | None = None, blocks: int = 0) -> pd.DataFrame:
    """The simulation half of ``evaluate_chunk``, on ``inputs`` from ``chunk_inputs``."""
    target, fields, kwargs = inputs
    bars, T = ctx.bars, len(ctx.bars)
    head = pd.DataFrame({"combo": combos.index.to_numpy(dtype="int64")})
    head = pd.concat([head, combos.reset_index(drop=True)], axis=1)
    if not folds:
        values = simulate_columns(bars, target, fields, kwargs, blocks)
        return pd.concat([head, pd.DataFrame(values, columns=list(STAT_NAMES) + block_columns(blocks))], axis=1)
    frames = []
    for k, end in enumerate(folds, start=1):
        sub_fields = {name: _rows(v, end, T) for name, v in fields.items()}
        sub_kwargs = {name: v if name in PER_PASS else _rows(v, end, T) for name, v in kwargs.items()}
        stats = pd.DataFrame(simulate_columns(bars.iloc[:end], target.iloc[:end] if isinstance(target, pd.DataFrame)
                                              else target[:end], sub_fields, sub_kwargs),
                             columns=list(STAT_NAMES))
        frames.append(pd.concat([head.assign(fold=k), stats], axis=1))
    return sort_table(pd.concat(frames, ignore_index=True))


def simulate_columns(bars: pd.DataFrame, target: np.ndarray, fields: dict[str, Any],
                     kwargs: dict[str, Any], blocks: int = 0) -> np.ndarray:
    """The metrics (N, len(STAT_NAMES)) of the N columns of ``target``, metrics only,
    followed by their ``blocks`` per-block return sums and sums of squares (``2 blocks``
    more columns): one engine pass, or one per combination of the ``PER_PASS``
    settings' values when they are swept (object arrays in ``kwargs``), each pass on
    its own columns. Over a universe a row is a combination's portfolio."""
    n = target.shape[1]
    width = len(assets(bars)) if isinstance(target, pd.DataFrame) else 1  # a universe: a group per combination
    split = [name for name in PER_PASS if isinstance(kwargs.get(name), np.ndarray)]
    if any(len(kwargs[name]) != n for name in split):
        raise RuntimeError("bt bug: a swept engine switch has not one value per column")
    if not split:
        return _rows_of(backtest(bars, Signals(target, **fields), **kwargs, record=False, blocks=blocks))
    keys = pd.MultiIndex.from_arrays([kwargs[name] for name in split])
    codes, uniques = pd.factorize(keys)
    out = np.empty((n // width, len(STAT_NAMES) + 2 * blocks))
    T = target.shape[0]
    for code, values in enumerate(uniques):
        cols = np.flatnonzero(codes == code)  # whole combinations: their columns share the switches
        sub_kwargs = {name: _columns(v, cols, n, T) for name, v in kwargs.items() if name not in split}
        sub_kwargs.update(dict(zip(split, values, strict=True)))
        sub_fields = {name: _columns(v, cols, n, T) for name, v in fields.items()}
        sub_target = target.iloc[:, cols] if isinstance(target, pd.DataFrame) else target[:, cols]
        result = backtest(bars, Signals(sub_target, **sub_fields), **sub_kwargs, record=False, blocks=blocks)
        out[cols[::width] // width] = _rows_of(result)
    return out


def _rows_of(result: Any) -> np.ndarray:
    """A metrics-only Result's rows (a column, or a universe's group) as one array: the
    metrics, then the per-block return sums and sums of squares when it has them."""
    stats = np.reshape(result.stats.to_numpy(), (-1, len(STAT_NAMES)))
    blocks = result.return_blocks
    return stats if blocks is None else np.hstack([stats, blocks.sum1, blocks.sum2])


def _columns(value: Any, cols: np.ndarray, n: int, T: int) -> Any:
    """``value`` (a Signals field or backtest keyword for ``n`` columns of ``T`` bars)
    restricted to columns ``cols`` where it has one value per column: a (T|1, n) frame
    or array, or an (n,) array or Series (as ``backtest`` reads them: not when n is
    also the number of bars)."""
    if n == 1:
        return value
    if isinstance(value, pd.DataFrame) and value.shape[1] == n:
        return value.iloc[:, cols]
    if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == n:
        return value[:, cols]
    if isinstance(value, np.ndarray | pd.Series) and getattr(value, "ndim", 1) == 1 and len(value) == n != T:
        return value.iloc[cols] if isinstance(value, pd.Series) else value[cols]
    return value


def bytes_per_column(strategy: Strategy, ctx: Context | UniverseContext, combos: pd.DataFrame,
                     engine: EngineSettings) -> int:
    """Peak bytes one column costs: the signal rule on ``combos`` (a few rows) under
    tracemalloc, divided by their number, plus one float64 target column and the
    column's metrics for the engine."""
    T = len(ctx.bars)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        target, fields, kwargs = chunk_inputs(strategy, ctx, combos, engine)
        peak = tracemalloc.get_traced_memory()[1] - base
        del target, fields, kwargs
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return int(math.ceil(peak / max(len(combos), 1))) + 8 * T + 64 * len(STAT_NAMES)


# -- tasks (module-level functions: the Dask executor ships them to workers) ----------


def prepare_task(plugin: PluginRef, model_values: dict[str, Any], bars: pd.DataFrame,
                 options: dict[str, Any]) -> Context | UniverseContext:
    """Features and walk-forward predictions of one model group (of each asset, over a
    universe)."""
    return prepare_context(plugin.load(**model_values), bars, **options)


def chunk_task(plugin: PluginRef, model_values: dict[str, Any], ctx: Context | UniverseContext, combos: pd.DataFrame,
               engine: EngineSettings, folds: Sequence[int] | None, blocks: int = 0) -> pd.DataFrame:
    """``evaluate_chunk`` for a strategy loaded in this process."""
    return evaluate_chunk(plugin.load(**model_values), ctx, combos, engine, folds, blocks)


def probe_task(plugin: PluginRef, model_values: dict[str, Any], ctx: Context | UniverseContext, combos: pd.DataFrame,
               engine: EngineSettings) -> int:
    """``bytes_per_column`` for a strategy loaded in this process."""
    return bytes_per_column(plugin.load(**model_values), ctx, combos, engine)


