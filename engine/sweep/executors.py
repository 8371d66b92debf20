"""Where a sweep's chunks run: this process (LocalExecutor) or a Dask cluster
(DaskExecutor). Both run the same task functions (``mlbt.sweep.runner``) on the
same inputs, so their results are equal bit for bit; only the order in which chunks
finish differs, and the store names parts by chunk id.

An executor provides ``probe(job, group, combos)`` (bytes per column, measured where
the group's context lives), ``max_chunk(n)`` (a cap on the chunk size so every worker
gets work), ``run(job, chunks)`` (yields ``(chunk id, frame)`` as chunks finish),
``contexts()`` (prepared contexts it holds locally, reused for the summary runs) and
``close()``.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from mlbt.strategy import prepare_context
from mlbt.sweep.tasks import (
    Chunk,
    SweepJob,
    bytes_per_column,
    chunk_task,
    evaluate_chunk,
    prepare_task,
    probe_task,
)


class LocalExecutor:
    """Chunks one after another in this process; numba threads run each chunk's
    columns in parallel. One group's prepared context is held at a time."""

    name = "local"

    def __init__(self) -> None:
        self._group: int | None = None
        self._held: tuple[Any, Any] | None = None
        self.prepare_seconds = 0.0  # time spent in features and models

    def __repr__(self) -> str:
        return "LocalExecutor()"

    def _context(self, job: SweepJob, group: int) -> tuple[Any, Any]:
        if self._group != group or self._held is None:
            self._held = None  # free the previous group's context first
            started = time.perf_counter()
            strategy = job.plugin.load(**job.groups[group])
            self._held = (strategy, prepare_context(strategy, job.bars, **job.prepare))
            self._group = group
            self.prepare_seconds += time.perf_counter() - started
        return self._held

    def contexts(self) -> dict[int, tuple[Any, Any]]:
        return {} if self._held is None or self._group is None else {self._group: self._held}

    def max_chunk(self, n_combos: int) -> int:
        return n_combos

    def probe(self, job: SweepJob, group: int, combos: pd.DataFrame) -> int:
        strategy, ctx = self._context(job, group)
        return bytes_per_column(strategy, ctx, combos, job.engine)

    def run(self, job: SweepJob, chunks: Sequence[Chunk]) -> Iterator[tuple[int, pd.DataFrame]]:
        for chunk in chunks:
            strategy, ctx = self._context(job, chunk.group)
            yield chunk.id, evaluate_chunk(strategy, ctx, job.chunk_frame(chunk), job.engine, job.folds,
                                            job.blocks)

    def close(self) -> None:
        self._held, self._group = None, None


class DaskExecutor:
    """Chunks as tasks on a Dask cluster: the one at ``scheduler`` (an address such as
    ``tcp://10.0.0.5:8786``), or a ``distributed.LocalCluster`` of ``workers`` worker
    processes (default: one per CPU core, one thread each, numba threads shared out).

    Each model group's ``prepare`` (features, walk-forward training or the cached
    predictions) is one task; its chunks are tasks that depend on it. When the plugin
    has a network and the cluster's workers declare a ``GPU`` resource (``dask worker
    --resources GPU=1``), prepare tasks ask for one. Workers need bt installed (the
    plugin's source travels with the tasks); with a remote cluster the prediction cache
    is the workers' own (``prepare`` option ``cache_dir``, or ``$BT_CACHE_DIR`` there).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None) -> None:
        from distributed import Client, LocalCluster  # dask: loaded only for --executor dask

        self.cluster = None
        if scheduler:
            self.client = Client(scheduler)
        else:
            n = workers or os.cpu_count() or 1
            env = {"NUMBA_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // n))}
            self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                        env=env)
            self.client = Client(self.cluster)
        self._token = uuid.uuid4().hex[:8]
        self._bars = None
        self._bars_id: int | None = None
        self._contexts: dict[int, Any] = {}
        self._gpu: bool | None = None

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client.scheduler.address!r}, {self.n_workers} workers)"

    @property
    def n_workers(self) -> int:
        return max(1, len(self.client.scheduler_info()["workers"]))

    def _resources(self, job: SweepJob) -> dict[str, float] | None:
        if self._gpu is None:
            workers = self.client.scheduler_info()["workers"].values()
            has_gpu = any(w.get("resources", {}).get("GPU") for w in workers)
            self._gpu = bool(has_gpu and job.plugin.load().network)
        return {"GPU": 1} if self._gpu else None

    def _context(self, job: SweepJob, group: int) -> Any:
        if self._bars_id != id(job.bars):
            self._bars, self._bars_id = self.client.scatter(job.bars), id(job.bars)
            self._contexts.clear()
        if group not in self._contexts:
            self._contexts[group] = self.client.submit(
                prepare_task, job.plugin, job.groups[group], self._bars, job.prepare, pure=False,
                key=f"bt-prepare-{group}-{self._token}", resources=self._resources(job))
        return self._contexts[group]

    def contexts(self) -> dict[int, tuple[Any, Any]]:
        return {}

    def max_chunk(self, n_combos: int) -> int:
        return max(1, math.ceil(n_combos / (2 * self.n_workers)))

    def probe(self, job: SweepJob, group: int, combos: pd.DataFrame) -> int:
        future = self.client.submit(probe_task, job.plugin, job.groups[group], self._context(job, group), combos,
                                    job.engine, pure=False, key=f"bt-probe-{group}-{self._token}")
        return int(future.result())

    def run(self, job: SweepJob, chunks: Sequence[Chunk]) -> Iterator[tuple[int, pd.DataFrame]]:
        from distributed import as_completed  # dask: loaded only for --executor dask

        futures = {}
        for chunk in chunks:
            future = self.client.submit(chunk_task, job.plugin, job.groups[chunk.group],
                                        self._context(job, chunk.group), job.chunk_frame(chunk), job.engine,
                                        job.folds, job.blocks, pure=False, key=f"bt-chunk-{chunk.id}-{self._token}")
            futures[future] = chunk.id
        try:
            for future in as_completed(futures):
                frame = future.result()
                yield futures[future], frame
                future.release()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        self._contexts.clear()
        self._bars = None
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
