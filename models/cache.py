"""On-disk cache of walk-forward predictions and models, and of cross-validation results.

One directory per key under ``<cache dir>/walkforward/``: ``predictions.npz`` (arrays
aligned to the bars, read with ``allow_pickle=False``), ``meta.json`` (key parts, folds,
format version) and ``model.pt`` (the last fold's weights, scalers and configs, read
with ``torch.load(..., weights_only=True)``). The key is a SHA-256 of the caller's parts
(data fingerprint, feature set, model config, walk-forward schedule, labels) and of
the code version (the source of ``models/``), so changing any of them is a miss.

Writes go to a temporary directory that is renamed into place: a reader never sees a
half-written entry. A corrupt or incompatible entry is logged as one warning,
removed, and rebuilt; it never stops a run.

Purged k-fold results (``mlbt.models.cv``) live under ``<cache dir>/cv/<key>/`` the
same way (``CVCache``): ``predictions.npz`` (the out-of-sample predictions and the test
fold of each bar) and ``meta.json`` (key parts, the splitter's settings and the folds'
records). No model is kept: a cross-validation chooses params, it does not trade.

The cache directory is ``$BT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/bt``, else
``~/.cache/bt``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import torch

from mlbt.models.cv import CVFold, CVResult
from mlbt.models.walkforward import Fold, WalkForwardResult

log = logging.getLogger(__name__)

FORMAT = 1
_MODELS_DIR = Path(__file__).resolve().parent


def default_cache_dir() -> Path:
    """``$BT_CACHE_DIR``, else ``$XDG_CACHE_HOME/bt``, else ``~/.cache/bt``."""
    if os.environ.get("BT_CACHE_DIR"):
        return Path(os.environ["BT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bt"


def code_version() -> str:
    """Hash of the ``models`` package source and the torch version: results computed by
    other code never come back from the cache."""
    h = hashlib.sha256(torch.__version__.encode())
    for path in sorted(_MODELS_DIR.rglob("*.py")):
        h.update(path.relative_to(_MODELS_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cache_key(parts: dict[str, Any]) -> str:
    """SHA-256 (hex, 32 characters) of the JSON of ``parts`` plus the code version."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(f"{FORMAT}|{code_version()}|{text}".encode()).hexdigest()[:32]


R = TypeVar("R")


class _Entries:
    """Entries stored by key under ``root``/``KIND`` (default root: default_cache_dir()):
    a directory of ``predictions.npz`` (arrays aligned to the bars, and the fold of
    each bar) and ``meta.json``, read and written as the module docstring says."""

    KIND = ""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    def path(self, key: str) -> Path:
        return self.root / self.KIND / key

    def _read(self, key: str, n_bars: int | None, build: Callable[[dict[str, Any], dict[str, np.ndarray],
                                                                   np.ndarray], R]) -> R | None:
        """``build(meta, arrays, fold_of_bar)`` of the stored entry, or None on a miss. A
        corrupt or incompatible entry (or one with a different number of bars than
        ``n_bars``; or one ``build`` refuses) is reported in one warning, removed, None."""
        where = self.path(key)
        if not where.exists():
            return None
        try:
            meta = json.loads((where / "meta.json").read_text())
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')} != {FORMAT}")
            with np.load(where / "predictions.npz", allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            fold_of_bar = arrays.pop("__fold_of_bar__")
            if n_bars is not None and len(fold_of_bar) != n_bars:
                raise ValueError(f"{len(fold_of_bar)} bars stored, {n_bars} expected")
            if any(len(a) != len(fold_of_bar) for a in arrays.values()):
                raise ValueError("arrays of different lengths")
            return build(meta, arrays, fold_of_bar)
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("cache: %s is corrupt or incompatible (%s); rebuilding it", where, reason)
            shutil.rmtree(where, ignore_errors=True)
            return None

    def _write(self, key: str, predictions: dict[str, np.ndarray], fold_of_bar: np.ndarray, meta: dict[str, Any],
               extra: Callable[[Path], None] | None = None) -> Path:
        """Store an entry atomically (temporary directory, then rename); ``extra`` writes
        more files into the temporary directory."""
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
        try:
            arrays = {name: np.ascontiguousarray(a) for name, a in predictions.items()}
            np.savez(tmp / "predictions.npz", __fold_of_bar__=fold_of_bar, **arrays)  # type: ignore[arg-type]
            if extra is not None:
                extra(tmp)
            meta = {"format": FORMAT, "code_version": code_version(), **meta}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final


class PredictionCache(_Entries):
    """Walk-forward results stored by key under ``root``/walkforward (default root:
    default_cache_dir()), with the last fold's model."""

    KIND = "walkforward"

    def load(self, key: str, *, n_bars: int | None = None) -> WalkForwardResult | None:
        """The stored result, or None on a miss. A corrupt or incompatible entry (or one
        with a different number of bars than ``n_bars``) is reported, removed, None."""
        return self._read(key, n_bars, lambda meta, arrays, fold_of_bar: WalkForwardResult(
            predictions=arrays, fold_of_bar=fold_of_bar, folds=[Fold(**f) for f in meta["folds"]], last_state=None))

    def load_model_state(self, key: str) -> dict[str, Any] | None:
        """The last fold's state (weights, scalers, configs), loaded with weights_only=True;
        None when absent or unreadable (reported in one line)."""
        path = self.path(key) / "model.pt"
        if not path.exists():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is a cache miss
            log.warning("cache: %s is unreadable (%s); it will be rebuilt", path, type(exc).__name__)
            return None

    def save(self, key: str, result: WalkForwardResult, parts: dict[str, Any]) -> Path:
        """Store ``result`` atomically (temporary directory, then rename)."""
        state = result.last_state
        return self._write(key, result.predictions, result.fold_of_bar,
                           {"parts": parts, "folds": [f.to_dict() for f in result.folds]},
                           None if state is None else lambda tmp: torch.save(state, tmp / "model.pt"))


class CVCache(_Entries):
    """Cross-validation results stored by key under ``root``/cv (default root:
    default_cache_dir()); the layout is in the module docstring."""

    KIND = "cv"

    def load(self, key: str, *, n_bars: int | None = None) -> CVResult | None:
        """The stored result (its folds' metrics as stored; rescore them with
        ``CVResult.scored``), or None on a miss. A corrupt or incompatible entry (or one
        with a different number of bars than ``n_bars``) is reported, removed, None."""
        return self._read(key, n_bars, lambda meta, arrays, fold_of_bar: CVResult(
            predictions=arrays, fold_of_bar=fold_of_bar, folds=[CVFold(**f) for f in meta["folds"]],
            settings=dict(meta["settings"])))

    def save(self, key: str, result: CVResult, parts: dict[str, Any]) -> Path:
        """Store ``result`` atomically (temporary directory, then rename)."""
        return self._write(key, result.predictions, result.fold_of_bar,
                           {"parts": parts, "settings": result.settings, "folds": [f.to_dict() for f in result.folds]})


class Store(Protocol[R]):
    """What ``cached`` needs of a cache: PredictionCache or CVCache."""

    def load(self, key: str, *, n_bars: int | None = None) -> R | None: ...

    def save(self, key: str, result: R, parts: dict[str, Any]) -> Path: ...


def cached(
    cache: Store[R] | None,
    parts: dict[str, Any],
    compute: Callable[[], R],
    *,
    n_bars: int | None = None,
    refresh: bool = False,
) -> tuple[R, bool]:
    """(result, hit): the cached result for ``parts`` or ``compute()`` stored under it.
    ``refresh`` recomputes and overwrites; ``cache=None`` always computes."""
    if cache is None:
        return compute(), False
    key = cache_key(parts)
    if not refresh:
        hit = cache.load(key, n_bars=n_bars)
        if hit is not None:
            return hit, True
    result = compute()
    cache.save(key, result, parts)
    return result, False
