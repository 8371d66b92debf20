"""Run a sweep: combinations -> chunks of engine columns -> metrics table.

How a sweep runs:

1. The combinations (``SweepGrid``) are split by their *model* params: each distinct
   model-param combination is a *group* with its own ``prepare`` (features and one
   walk-forward prediction set, cached on disk). A plugin without swept model params
   has one group and one prediction set for every combination.
2. Within a group, combinations are taken in id order in *chunks*; a chunk is one
   call of the plugin's vectorized signal rule (one engine column per combination)
   and one ``backtest(..., record=False)`` pass, which computes every metric inside
   the numba simulation (threads across columns) and keeps no bars x columns
   equity. Swept engine settings (fee, slippage, sl, tp, trail, max_hold, size,
   fixed_fee) become per-column arrays.
3. The chunk size comes from a memory budget: the bytes one column costs are
   measured by running the signal rule on a few columns under ``tracemalloc`` (plus
   one float64 target column for the engine); chunk = budget // bytes per column,
   capped where larger chunks stop paying off (``chunk_size_for``).
4. Each chunk's rows (combination id, swept params, metrics) go to the executor's
   caller, which stores them as one Parquet part (see ``mlbt.sweep.store``).

A column's metrics depend only on its own inputs, so the table is the same for any
chunk size and any executor, bit for bit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlbt.data import fingerprint
from mlbt.data.universe import assets
from mlbt.io import plain
from mlbt.settings import BY_NAME, PER_PASS, SETTINGS, EngineSettings
from mlbt.sim import LOWER_IS_BETTER, STAT_NAMES, Signals, backtest, block_bounds, periods_per_year
from mlbt.strategy import ALLOCATIONS, Context, Strategy, prepare_context
from mlbt.sweep.dsr import DeflatedSharpe, deflated_sharpe
from mlbt.sweep.executors import LocalExecutor
from mlbt.sweep.grid import SweepGrid
from mlbt.sweep.pbo import Overfitting, probability_of_overfitting
from mlbt.sweep.store import FORMAT, SweepStore, sort_table
from mlbt.sweep.tasks import RETURN_BLOCKS, Chunk, PluginRef, SweepJob, block_columns, chunk_inputs

log = logging.getLogger(__name__)

PROBE_COLUMNS = 8
CACHE_FRIENDLY_BYTES = 48 * 2**20
MIN_CHUNK = 32
#: Settings that may change by bar (read at a fill or an entry): a walk-forward run stitches them per fold.
PER_BAR = tuple(s.name for s in SETTINGS if s.when)


@dataclass
class SweepResult:
    """A finished sweep. ``table``: one row per combination (per combination and fold
    with walk-forward), sorted by ``combo``; ``best``: the row chosen by ``metric``;
    ``dsr``: its Deflated Sharpe Ratio; ``pbo``: the probability of backtest
    overfitting of the whole grid (None with walk-forward or fewer than two
    combinations); ``walk_forward``: the out-of-sample report."""

    table: pd.DataFrame
    metric: str
    chunk_size: int
    chunks: int
    computed: int
    skipped: int
    elapsed: float
    out: Path | None = None
    computed_combos: int = 0
    prepare_seconds: float | None = None
    best: dict[str, Any] | None = None
    dsr: DeflatedSharpe | None = None
    pbo: Overfitting | None = None
    walk_forward: dict[str, Any] | None = None
    min_trades: int = 0

    def top(self, n: int = 20) -> pd.DataFrame:
        """The ``n`` best rows by ``metric`` (NaN last, ties by combination id) among those
        with at least ``min_trades`` trades."""
        return rank(self.table, self.metric, self.min_trades).head(n)

    def __repr__(self) -> str:
        return (f"SweepResult({len(self.table):,} rows, {self.chunks} chunks of {self.chunk_size}, "
                f"metric={self.metric!r}, {self.elapsed:.2f} s)")


def rank(table: pd.DataFrame, metric: str, min_trades: int = 0) -> pd.DataFrame:
    """``table`` ordered best first by ``metric`` (descending, ascending for the
    metrics where lower is better), NaN last, ties by combination id; only the rows
    with at least ``min_trades`` trades (open ones included)."""
    if metric not in table.columns:
        raise ValueError(f"--metric {metric!r}: not a metric; metrics: {', '.join(STAT_NAMES)}")
    ascending = metric in LOWER_IS_BETTER
    if min_trades > 0:
        table = table[table["trades"] >= min_trades]
    return table.sort_values([metric, "combo"], ascending=[ascending, True], na_position="last", kind="stable")


# -- planning -----------------------------------------------------------------------


def plan_groups(combos: pd.DataFrame, model_names: Sequence[str]) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """Model-param groups in order of first appearance: their values and combination ids."""
    if not model_names:
        return [{}], [np.arange(len(combos))]
    keys = combos[list(model_names)]
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(keys), sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    groups = [dict(zip(model_names, (plain(v) for v in u), strict=True)) for u in uniques]
    return groups, [order[bounds[g]:bounds[g + 1]] for g in range(len(uniques))]


def plan_chunks(group_ids: Sequence[np.ndarray], chunk_size: int) -> list[Chunk]:
    """Chunks of at most ``chunk_size`` combinations, group by group, in id order."""
    chunks: list[Chunk] = []
    for g, ids in enumerate(group_ids):
        for start in range(0, len(ids), chunk_size):
            chunks.append(Chunk(len(chunks), g, ids[start:start + chunk_size]))
    return chunks


def fold_bounds(n_bars: int, k: int) -> list[int]:
    """Bar positions splitting ``n_bars`` into ``k`` equal contiguous folds (k + 1
    bounds, from 0 to n_bars)."""
    if k < 2:
        raise ValueError(f"--walk-forward {k}: needs at least 2 folds (one in-sample, one out-of-sample)")
    bounds = [round(i * n_bars / k) for i in range(k + 1)]
    if min(b - a for a, b in zip(bounds, bounds[1:], strict=False)) < 10:
        raise ValueError(f"--walk-forward {k}: {n_bars} bars make folds under 10 bars; use fewer folds")
    return bounds


def chunk_size_for(budget_mb: float, per_column: int, n_combos: int, n_bars: int) -> int:
    """Columns per chunk: as many as keep one chunk's working memory within
    ``budget_mb``, but no more than fill one bars x columns float64 array of
    CACHE_FRIENDLY_BYTES (at least MIN_CHUNK columns): past that, chunks cost more
    time per column (cache and TLB misses, page faults) and save nothing."""
    by_budget = (budget_mb * 2**20) // max(per_column, 1)
    by_cache = max(MIN_CHUNK, CACHE_FRIENDLY_BYTES // (8 * max(n_bars, 1)))
    return int(max(1, min(n_combos, by_budget, by_cache)))


# -- the sweep --------------------------------------------------------------------


def run_sweep(
    plugin: str | Path,
    grid: SweepGrid,
    bars: pd.DataFrame,
    *,
    params: dict[str, Any] | None = None,
    engine: EngineSettings | None = None,
    metric: str = "sharpe",
    out: str | Path | None = None,
    resume: bool = False,
    memory_budget_mb: float = 1024.0,
    chunk_size: int | None = None,
    executor: Any = None,
    walk_forward: int | None = None,
    prepare_options: dict[str, Any] | None = None,
    data_name: str | None = None,
    deflate: bool = True,
    allocation: str = "equal",
    min_trades: int = 0,
    pbo_blocks: int = RETURN_BLOCKS,
) -> SweepResult:
    """Sweep ``grid`` over plugin file ``plugin`` on ``bars``.

    params: fixed plugin params (``--set``). engine: fixed backtest settings.
    metric: the metric that ranks combinations (``best``, ``top``, walk-forward choice).
    out: directory for Parquet parts and a manifest (None: keep results in memory);
    resume: continue the sweep stored in ``out`` (its manifest must match; finished
    chunks are not recomputed). memory_budget_mb: working memory of one chunk
    (signals + engine), which sets the chunk size unless ``chunk_size`` is given (on
    resume the stored chunk size is used). executor: a LocalExecutor (default) or
    DaskExecutor. walk_forward: K folds for walk-forward optimization (the table then
    holds in-sample metrics per fold; the out-of-sample report is ``walk_forward``).
    prepare_options: keywords of ``mlbt.strategy.pipeline.prepare`` (device, profile,
    cache_dir, retrain). deflate: compute the Deflated Sharpe Ratio of the
    best combination (one extra recorded run). min_trades: rank (best, top, each
    walk-forward fold's choice) only the combinations with at least that many trades;
    every combination still counts as a trial of the DSR. pbo_blocks: the return
    blocks S of the probability of backtest overfitting (even, >= 2; 0: none): each
    combination's per-block return sums are accumulated in the simulation pass and
    kept in the table (``block_columns``), and CSCV over them gives ``pbo``; not with
    walk-forward, whose table is in-sample per fold. Over universe ``bars`` ((field, asset)
    columns) each combination is a portfolio of every asset with shared cash (its
    assets are its engine columns, a row of the table is the portfolio) and
    ``allocation`` sizes its entries (``mlbt.strategy.ALLOCATIONS``). Progress is logged (``mlbt.sweep``, INFO)
    after every chunk.
    """
    engine = engine or EngineSettings()
    if isinstance(pbo_blocks, bool) or not isinstance(pbo_blocks, int) or pbo_blocks < 0 or pbo_blocks % 2:
        raise ValueError(f"--pbo-blocks {pbo_blocks!r}: the probability of backtest overfitting splits the bars into "
                         "an even number of blocks (16 is usual); give an even int >= 2, or 0 for none")
    blocks = 0 if walk_forward else pbo_blocks
    if metric not in STAT_NAMES:
        raise ValueError(f"--metric {metric!r}: not a metric; metrics: {', '.join(STAT_NAMES)}")
    ref = PluginRef.from_path(plugin, params)
    strategy = ref.load()
    fixed = {k: strategy.values[k] for k in (params or {})}
    both = sorted(set(fixed) & set(grid.names))
    if both:
        raise ValueError(f"param {both[0]} is both fixed (--set) and swept (--grid); give one")
    model_names = [n for n in grid.names if n in strategy.params and strategy.params[n].model]
    groups, group_ids = plan_groups(grid.combos, model_names)
    bounds = fold_bounds(len(bars), walk_forward) if walk_forward else None
    options = dict(prepare_options or {})
    symbols = _universe(bars, walk_forward, allocation, options)
    job = SweepJob(plugin=ref, bars=bars, combos=grid.combos, groups=groups, group_ids=group_ids, engine=engine,
                   folds=bounds[1:-1] if bounds else None, prepare=options, blocks=blocks)
    manifest = {
        "format": FORMAT, "plugin": str(plugin), "plugin_sha256": ref.sha256, "strategy": strategy.name,
        "data": data_name, "data_fingerprint": fingerprint(bars), "bars": len(bars),
        "start": str(bars.index[0]), "end": str(bars.index[-1]), **grid.spec, "combos": len(grid),
        "combos_sha256": grid.hash, "params": {k: plain(v) for k, v in fixed.items()}, "engine": engine.to_dict(),
        "walk_forward": walk_forward, "pbo_blocks": blocks, "model_groups": len(groups),
        "memory_budget_mb": memory_budget_mb,
        **({"symbols": symbols, "allocation": allocation, "cash_sharing": True} if symbols else {}),
        "periods_per_year": engine.periods_per_year or periods_per_year(bars.index),  # the metrics' annualization
    }
    store = SweepStore(out) if out is not None else None
    if resume and store is None:
        raise ValueError("--resume needs --out (the directory of the sweep to continue)")
    own_executor = executor is None
    executor = executor or LocalExecutor()
    started = time.perf_counter()
    created = False  # whether this run created the store's directory contents
    try:
        stored = store.check(manifest, resume=resume) if store is not None else None
        size = _chunk_size(stored, chunk_size, executor, job, memory_budget_mb)
        chunks = plan_chunks(group_ids, size)
        manifest.update(chunk_size=size, chunks=len(chunks), complete=False)
        # a new sweep's directory is created with its first result, so that a sweep refused
        # before it (a plugin that fails, a setting the engine refuses) leaves nothing behind
        fresh = store is not None and stored is None
        if store is not None and not fresh:
            store.ensure_combos(grid.combos)
        done = store.done() if store is not None else set()
        todo = [c for c in chunks if c.id not in done]
        frames: list[pd.DataFrame] = []
        n_done = len(chunks) - len(todo)
        combos_done = sum(len(c.ids) for c in chunks if c.id in done)
        run_started, run_combos = time.perf_counter(), 0
        by_id = {c.id: c for c in chunks}
        for chunk_id, frame in executor.run(job, todo):
            created = created or (fresh and store is not None and store.create(manifest, grid.combos))
            if store is not None:
                store.write_part(chunk_id, frame)
            else:
                frames.append(frame)
            n_done += 1
            combos_done += len(by_id[chunk_id].ids)
            run_combos += len(by_id[chunk_id].ids)
            elapsed = time.perf_counter() - run_started
            rate = run_combos / elapsed if elapsed > 0 else math.nan
            log.info("sweep: %d/%d chunks, %s/%s combinations, %s combos/s", n_done, len(chunks),
                     f"{combos_done:,}", f"{len(grid):,}", f"{rate:,.0f}",
                     extra={"progress": {"task": "sweep", "done": n_done, "total": len(chunks)}})
        created = created or (fresh and store is not None and store.create(manifest, grid.combos))
        if store is not None:
            table = store.table()
            store.mark_complete()
        else:
            table = sort_table(pd.concat(frames, ignore_index=True))
        result = SweepResult(table=table, metric=metric, chunk_size=size, chunks=len(chunks), computed=len(todo),
                             skipped=len(chunks) - len(todo), elapsed=time.perf_counter() - started,
                             out=Path(out) if out is not None else None, computed_combos=run_combos)
        ppy = manifest["periods_per_year"]
        result.min_trades = min_trades
        if bounds is None:
            ranked = rank(table, metric, min_trades)
            if not len(ranked):
                raise ValueError(f"--min-trades {min_trades}: no combination has that many trades (the most is "
                                 f"{int(table['trades'].max())}); lower it")
            best = ranked.iloc[0]
            result.best = _row_dict(job, best)
            if deflate and np.isfinite(best["sharpe"]):
                result.dsr = _deflated(best, table, ppy, len(bars))
            result.pbo = table_overfitting(table, blocks, len(bars))
        else:
            result.walk_forward = _walk_forward_report(job, table, metric, bounds, dict(executor.contexts()),
                                                       min_trades)
        result.elapsed = time.perf_counter() - started
        result.prepare_seconds = getattr(executor, "prepare_seconds", None)
        return result
    except (ValueError, TypeError, KeyError):
        # bad input (a plugin that fails on a later chunk, a setting refused there): the
        # sweep cannot be finished as it is, so the directory it started is removed and
        # the corrected rerun may use the same --out (an interrupted sweep keeps its parts)
        if created and store is not None and not store.read_manifest().get("complete"):
            store.discard()
        raise
    finally:
        if own_executor:
            executor.close()


def _chunk_size(stored: dict[str, Any] | None, chunk_size: int | None, executor: Any, job: SweepJob,
                memory_budget_mb: float) -> int:
    """Columns per chunk: the stored sweep's, the one given, or from the memory budget
    (measured on the first few combinations, which also runs the plugin's rule once)."""
    if stored is not None:
        return int(stored["chunk_size"])
    if chunk_size is not None:
        return max(1, int(chunk_size))
    n = len(job.combos)
    per_column = executor.probe(job, 0, job.combos.iloc[job.group_ids[0][:PROBE_COLUMNS]])
    return min(chunk_size_for(memory_budget_mb, per_column, n, len(job.bars)), executor.max_chunk(n))


def _universe(bars: pd.DataFrame, walk_forward: int | None, allocation: str, options: dict[str, Any]) -> list[str]:
    """The assets of universe ``bars`` (none for one instrument), with ``allocation``
    checked and put into the ``prepare`` ``options``."""
    symbols = [str(a) for a in assets(bars)]
    if symbols:
        if walk_forward:
            raise ValueError("--walk-forward over a universe is not supported yet: sweep it without "
                             "--walk-forward, or walk forward one asset at a time with --symbol")
        if allocation not in ALLOCATIONS:
            raise ValueError(f"allocation {allocation!r}: choose one of {', '.join(ALLOCATIONS)}")
        options["allocation"] = allocation
    return symbols


def _params(job: SweepJob, combo: int) -> dict[str, Any]:
    """The swept params of combination ``combo``, in their own types."""
    return {k: plain(job.combos[k].iat[combo]) for k in job.combos.columns}


def _row_dict(job: SweepJob, row: pd.Series) -> dict[str, Any]:
    """A table row as a dict: combination id, its params in their own types, metrics."""
    combo = int(row["combo"])
    return {"combo": combo, **_params(job, combo), **{k: plain(row[k]) for k in STAT_NAMES}}


def _single(job: SweepJob, combo: int, ctx_cache: dict) -> tuple[Strategy, Context, np.ndarray, dict, dict]:
    """Signals of one combination on its group's context (from ``ctx_cache``: group ->
    (strategy, context), else prepared here and cached in place of the others)."""
    g = next(i for i, ids in enumerate(job.group_ids) if combo in set(ids.tolist()))
    if g not in ctx_cache:
        ctx_cache.clear()
        strategy = job.plugin.load(**job.groups[g])
        ctx_cache[g] = (strategy, prepare_context(strategy, job.bars, **job.prepare))
    strategy, ctx = ctx_cache[g]
    target, fields, kwargs = chunk_inputs(strategy, ctx, job.combos.iloc[[combo]], job.engine)
    return strategy, ctx, target, fields, kwargs


def table_overfitting(table: pd.DataFrame, n_blocks: int, n_bars: int) -> Overfitting | None:
    """The probability of backtest overfitting of the combinations in ``table`` from
    their per-block return sums (``block_columns``; None without blocks, with fewer
    than two rows or with fewer bars than blocks)."""
    if n_blocks == 0 or len(table) < 2 or n_bars < n_blocks or not set(block_columns(n_blocks)) <= set(table):
        return None
    names = block_columns(n_blocks)
    sums = table[names].to_numpy(dtype="float64")
    return probability_of_overfitting(sums[:, :n_blocks], sums[:, n_blocks:], np.diff(block_bounds(n_bars, n_blocks)))


def _deflated(best: pd.Series, table: pd.DataFrame, ppy: float, bars: int) -> DeflatedSharpe:
    """DSR of ``best`` from the table: its per-bar Sharpe (the annualized one / sqrt(ppy)),
    the skewness and kurtosis of its bar returns (computed in the simulation pass), and
    the variance of every trial's per-bar Sharpe."""
    return deflated_sharpe(float(best["sharpe"]) / math.sqrt(ppy), table["sharpe"].to_numpy() / math.sqrt(ppy),
                           bars, float(best["skew"]), float(best["kurtosis"]) + 3.0)


def _per_bar(value: Any, T: int) -> np.ndarray | None:
    """A one-column Signals field or backtest keyword as a (T,) float array (None stays None)."""
    if value is None:
        return None
    a = np.asarray(value.to_numpy() if isinstance(value, pd.Series | pd.DataFrame) else value, dtype="float64")
    if a.ndim == 2:
        a = a[:, 0]
    a = a.reshape(-1)
    return np.broadcast_to(a if a.shape[0] == T else a[:1], (T,))


def _walk_forward_report(job: SweepJob, table: pd.DataFrame, metric: str, bounds: list[int],
                         ctx_cache: dict, min_trades: int = 0) -> dict[str, Any]:
    """Choose the best combination in-sample per fold, simulate the out-of-sample
    folds in one continuous run with each fold's choice (targets and per-bar settings
    switch at the fold bounds; an open position carries over), and report it."""
    bars, T = job.bars, len(job.bars)
    start = bounds[1]
    target = np.empty(T - start, dtype="float64")
    arrays: dict[str, np.ndarray] = {}
    trail_flag: set = set()
    reentry: set = set()
    passes: dict[str, set] = {name: set() for name in PER_PASS}
    folds = []
    for k in range(1, len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        ranked = rank(table[table["fold"] == k], metric, min_trades)
        if not len(ranked):
            raise ValueError(f"--min-trades {min_trades}: no combination has that many trades in-sample in fold {k}; "
                             "lower it")
        best = ranked.iloc[0]
        combo = int(best["combo"])
        _, _, tgt, fields, kwargs = _single(job, combo, ctx_cache)
        target[a - start:b - start] = tgt[a:b, 0]
        merged = dict(kwargs)
        merged.update(fields)
        reentry.add(bool(merged.get("reentry", False)))
        for name in PER_PASS:
            value = merged.get(name, job.engine[name])
            passes[name].add(value[0] if isinstance(value, np.ndarray) else value)
        for name in PER_BAR:
            value = merged.get(name)
            if name == "trail" and isinstance(value, bool | np.bool_):
                trail_flag.add(bool(value))
                continue
            full = _per_bar(value, T)
            if full is None:
                full = np.full(T, np.nan)
            arrays.setdefault(name, np.full(T - start, np.nan))[a - start:b - start] = full[a:b]
        folds.append({"fold": k, "in_sample": [str(bars.index[0]), str(bars.index[a - 1])],
                      "out_of_sample": [str(bars.index[a]), str(bars.index[b - 1])], "combo": combo,
                      "params": _params(job, combo), f"in_sample_{metric}": plain(best[metric])})
    if len(reentry) > 1:
        raise ValueError("walk-forward: the chosen combinations disagree on Signals.reentry; make it one value")
    if len(trail_flag) > 1:
        raise ValueError("walk-forward: the chosen combinations disagree on trail=True/False; sweep a trail distance")
    for name, chosen in passes.items():
        if len(chosen) > 1:
            raise ValueError(f"walk-forward: the folds chose different {name} ({', '.join(sorted(map(str, chosen)))}), "
                             "and one continuous out-of-sample run has one; fix it with --"
                             f"{name.replace('_', '-')} instead of sweeping it")
    kw: dict[str, Any] = {k: (None if np.isnan(v).all() else v) for k, v in arrays.items()}
    for name in PER_BAR:
        if kw[name] is None and BY_NAME[name].default is not None:
            kw[name] = job.engine[name]
    oos = bars.iloc[start:]
    trail = kw.pop("trail", None)
    if trail_flag:
        trail = trail_flag.pop()
    signals = Signals(pd.Series(target, index=oos.index), reentry=reentry.pop() if reentry else None)
    result = backtest(oos, signals, cash=job.engine.cash, fill=job.engine.fill, stop_tie=job.engine.stop_tie,
                      periods_per_year=job.engine.periods_per_year, trail=trail,
                      **{name: chosen.pop() for name, chosen in passes.items()},
                      **{k: (pd.Series(v, index=oos.index) if isinstance(v, np.ndarray) else v)
                         for k, v in kw.items()}, record=True)
    equity = result.equity.to_numpy()
    prev = job.engine.cash
    for f, k in zip(folds, range(1, len(bounds) - 1), strict=True):
        end_equity = equity[bounds[k + 1] - start - 1]
        f["out_of_sample_return"] = float(end_equity / prev - 1.0)
        prev = end_equity
    return {"folds": folds, "stats": {k: plain(v) for k, v in result.stats.items()},
            "bars": int(T - start), "equity": result.equity}
