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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlbt.io import plain
from mlbt.sim import STAT_NAMES, Signals, backtest
from mlbt.strategy import Context, PluginError, Strategy, load_strategy, prepare
from mlbt.sweep.grid import ENGINE_PARAMS
from mlbt.sweep.store import sort_table

SIGNAL_FIELDS = ("size", "sl", "tp", "trail", "max_hold")


@dataclass(frozen=True)
class EngineSettings:
    """The fixed ``backtest()`` keywords of a sweep; a swept engine param replaces its
    own value per column. ``trail=True`` makes ``sl`` trailing (as in ``bt run``).
    ``reentry`` is not among them: how a plugin's targets read is the plugin's own
    ``Signals.reentry`` (its file's hash is in the manifest), False when unset."""

    fee: float = 0.0
    fixed_fee: float = 0.0
    slippage: float = 0.0
    cash: float = 100_000.0
    fill: str = "next_open"
    size: float = 1.0
    sl: float | None = None
    tp: float | None = None
    trail: bool = False
    max_hold: int | None = None
    stop_tie: str = "sl"
    periods_per_year: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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

    def chunk_frame(self, chunk: Chunk) -> pd.DataFrame:
        """The chunk's combinations, indexed by combination id."""
        return self.combos.iloc[chunk.ids]


# -- one chunk ----------------------------------------------------------------------


def _split_names(strategy: Strategy, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(signal params, engine params) among the swept ``names`` (model params excluded)."""
    names = list(names)
    signal = [n for n in names if n in strategy.params and not strategy.params[n].model]
    engine = [n for n in names if n not in strategy.params and n in ENGINE_PARAMS]
    return signal, engine


def chunk_inputs(strategy: Strategy, ctx: Context, combos: pd.DataFrame,
                 engine: EngineSettings) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
    """Run the signal rule for ``combos`` (one engine column each, in row order) and
    return (target (T, N) C-contiguous float64, Signals fields, backtest keywords)
    with swept engine params as per-column arrays. ValueError when the rule fails or
    sets a field that is also swept."""
    signal_names, engine_names = _split_names(strategy, combos.columns)
    n = len(combos)
    frame = combos[signal_names].reset_index(drop=True)
    if not signal_names:
        frame = pd.DataFrame(index=pd.RangeIndex(n))
    grid = strategy.grid(frame)
    try:
        signals = strategy.signals(ctx, grid)
    except ValueError as e:
        first, last = plain(combos.index[0]), plain(combos.index[-1])
        raise ValueError(f"{strategy.name}.signals failed on combinations {first}..{last}: {e} "
                         "(exclude such combinations with --constraint)") from e
    if not isinstance(signals, Signals):
        raise TypeError(f"{strategy.name}.signals must return Signals, got {type(signals).__name__}")
    T = len(ctx.bars)
    target = np.asarray(signals.target, dtype="float64")
    if target.ndim == 1:
        target = target[:, None]
    if target.ndim != 2 or target.shape[0] != T or target.shape[1] not in (1, n):
        raise ValueError(f"{strategy.name}.signals returned a target of shape {target.shape} for {T} bars "
                         f"and {n} combinations")
    if target.shape[1] != n:
        target = np.repeat(target, n, axis=1)
    target = np.ascontiguousarray(target)
    fields = {}
    for name in SIGNAL_FIELDS:
        value = getattr(signals, name)
        if value is None:
            continue
        if name in engine_names:
            raise ValueError(f"{name} is set by {strategy.name}'s signals, so it cannot be swept as an engine "
                             "setting; sweep the plugin's own params instead")
        fields[name] = value  # (1, N) grid params stay 2-D: one value per column, never mistaken for bars
    kwargs = dict(fee=engine.fee, fixed_fee=engine.fixed_fee, slippage=engine.slippage, cash=engine.cash,
                  fill=engine.fill, size=engine.size, sl=engine.sl, tp=engine.tp, trail=engine.trail,
                  max_hold=engine.max_hold, stop_tie=engine.stop_tie, periods_per_year=engine.periods_per_year)
    if signals.reentry is not None:  # how the plugin's targets read: its choice, never an engine setting
        kwargs["reentry"] = bool(signals.reentry)
    for name in engine_names:
        kwargs[name] = combos[name].to_numpy(dtype="float64")[None, :]  # (1, N): per column
    if "trail" in engine_names and engine.trail:
        raise ValueError("--trail (a trailing sl) and a swept trail distance cannot be combined")
    return target, fields, kwargs


def _rows(value: Any, end: int, T: int) -> Any:
    """``value`` restricted to bars [0, end) when it is per bar (T rows)."""
    if isinstance(value, pd.DataFrame | pd.Series) and len(value) == T:
        return value.iloc[:end]
    if isinstance(value, np.ndarray) and value.ndim in (1, 2) and value.shape[0] == T:
        return value[:end]
    return value


def evaluate_chunk(strategy: Strategy, ctx: Context, combos: pd.DataFrame, engine: EngineSettings,
                   folds: Sequence[int] | None = None) -> pd.DataFrame:
    """Metrics of ``combos`` (indexed by combination id): one row per combination with
    columns ``combo``, the swept params and every metric; with ``folds`` (in-sample
    ends) one row per combination and fold, on bars [0, end) of each fold, with a
    ``fold`` column (1, 2, ...)."""
    return simulate_chunk(ctx, combos, chunk_inputs(strategy, ctx, combos, engine), folds)


def simulate_chunk(ctx: Context, combos: pd.DataFrame, inputs: tuple[np.ndarray, dict, dict],
                   folds: Sequence[int] | None = None) -> pd.DataFrame:
    """The simulation half of ``evaluate_chunk``, on ``inputs`` from ``chunk_inputs``."""
    target, fields, kwargs = inputs
    bars, T, n = ctx.bars, len(ctx.bars), len(combos)
    head = pd.DataFrame({"combo": combos.index.to_numpy(dtype="int64")})
    head = pd.concat([head, combos.reset_index(drop=True)], axis=1)
    if not folds:
        result = backtest(bars, Signals(target, **fields), **kwargs, record=False)
        stats = pd.DataFrame(np.reshape(result.stats.to_numpy(), (n, len(STAT_NAMES))), columns=list(STAT_NAMES))
        return pd.concat([head, stats], axis=1)
    frames = []
    for k, end in enumerate(folds, start=1):
        sub_fields = {name: _rows(v, end, T) for name, v in fields.items()}
        sub_kwargs = {name: _rows(v, end, T) for name, v in kwargs.items()}
        result = backtest(bars.iloc[:end], Signals(target[:end], **sub_fields), **sub_kwargs, record=False)
        stats = pd.DataFrame(np.reshape(result.stats.to_numpy(), (n, len(STAT_NAMES))), columns=list(STAT_NAMES))
        frames.append(pd.concat([head.assign(fold=k), stats], axis=1))
    return sort_table(pd.concat(frames, ignore_index=True))


def bytes_per_column(strategy: Strategy, ctx: Context, combos: pd.DataFrame, engine: EngineSettings) -> int:
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
                 options: dict[str, Any]) -> Context:
    """Features and walk-forward predictions of one model group."""
    return prepare(plugin.load(**model_values), bars, **options).ctx


def chunk_task(plugin: PluginRef, model_values: dict[str, Any], ctx: Context, combos: pd.DataFrame,
               engine: EngineSettings, folds: Sequence[int] | None) -> pd.DataFrame:
    """``evaluate_chunk`` for a strategy loaded in this process."""
    return evaluate_chunk(plugin.load(**model_values), ctx, combos, engine, folds)


def probe_task(plugin: PluginRef, model_values: dict[str, Any], ctx: Context, combos: pd.DataFrame,
               engine: EngineSettings) -> int:
    """``bytes_per_column`` for a strategy loaded in this process."""
    return bytes_per_column(plugin.load(**model_values), ctx, combos, engine)


