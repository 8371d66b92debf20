"""On-disk results of a sweep: a directory that is also a Parquet dataset.

    sweep.parquet/
        _manifest.json       what the sweep is (plugin hash, data fingerprint, grid,
                             combination-list hash, chunk size, engine settings)
        _combos.parquet      the full combination list, id = row number
        part-000000.parquet  results of chunk 0 (one row per combination, or per
        part-000001.parquet  combination and fold with --walk-forward), ...

Every file is written under a temporary dot-name in the same directory and renamed
into place, so a part either exists whole or not at all: a sweep killed at any
moment leaves only complete parts, and ``--resume`` reruns exactly the chunks whose
part is missing. Names starting with ``_`` or ``.`` are skipped by Parquet dataset
readers, so ``pd.read_parquet("sweep.parquet")`` reads the results alone (in part
order); ``read_sweep`` returns them sorted by combination id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mlbt.io import write_file
from mlbt.settings import DEFAULTS

MANIFEST = "_manifest.json"
COMBOS = "_combos.parquet"
FORMAT = "bt-sweep-v3"  # v2: skew, kurtosis and psr among the metrics; v3: per-block return sums (PBO)

# Manifest keys that must match for a resume, with the words used when they differ.
COMPARED = {
    "format": "file format",
    "plugin_sha256": "plugin file (its SHA-256)",
    "data_fingerprint": "data fingerprint",
    "bars": "number of bars",
    "grid": "grid spec",
    "combos": "number of combinations",
    "combos_sha256": "combination list",
    "params": "fixed plugin params (--set)",
    "engine": "engine settings",
    "walk_forward": "walk-forward folds",
}


class ResumeError(ValueError):
    """A sweep directory that does not belong to this sweep; the message says what differs."""


def _short(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 60 else text[:28] + "..." + text[-28:]


def _difference(words: str, stored: Any, now: Any) -> str:
    """One manifest difference; for two dicts only the keys whose values differ."""
    if isinstance(stored, dict) and isinstance(now, dict):
        keys = sorted(k for k in stored.keys() | now.keys() if stored.get(k) != now.get(k))
        return f"{words}: " + ", ".join(f"{k} stored {_short(stored.get(k))}, now {_short(now.get(k))}" for k in keys)
    return f"{words}: stored {_short(stored)}, now {_short(now)}"


def _current_engine(engine: dict[str, Any]) -> dict[str, Any]:
    """A stored manifest's engine settings as today's table writes them: settings added
    since (``lot``) were at their defaults then, ``trail`` False meant none, and
    ``reentry`` (always False) has left the engine settings."""
    engine = {k: v for k, v in engine.items() if not (k == "reentry" and v is False)}
    if engine.get("trail") is False:
        engine["trail"] = None
    return {**{k: v for k, v in DEFAULTS.items() if k not in engine}, **engine}


class SweepStore:
    """A sweep's directory. ``check`` compares a stored manifest (resume), ``create``
    starts a new one; ``write_part`` stores one chunk; ``done`` lists stored chunks;
    ``table`` reads them back."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SweepStore({str(self.path)!r})"

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def part_path(self, chunk: int) -> Path:
        return self.path / f"part-{chunk:06d}.parquet"

    def read_manifest(self) -> dict[str, Any]:
        return json.loads(self.manifest_path.read_text())

    def check(self, manifest: Mapping[str, Any], *, resume: bool) -> dict[str, Any] | None:
        """With ``resume``: the stored manifest, after checking that it describes the
        same sweep as ``manifest`` (ResumeError naming every difference), or None when
        nothing is stored yet. Without ``resume``: None, or ResumeError when ``path``
        already holds anything (nothing is ever overwritten)."""
        if self.manifest_path.exists():
            if not resume:
                raise ResumeError(f"{self.path} already holds a sweep: continue it with --resume, "
                                  "or choose another --out")
            stored = self.read_manifest()
            if isinstance(stored.get("engine"), dict):
                stored["engine"] = _current_engine(stored["engine"])
            diffs = [_difference(words, stored.get(k), manifest.get(k))
                     for k, words in COMPARED.items() if stored.get(k) != manifest.get(k)]
            if diffs:
                raise ResumeError(f"cannot resume {self.path}: it is a different sweep ({'; '.join(diffs)})")
            for tmp in [*self.path.glob(".*.tmp"), *self.path.glob(".*.tmp-*")]:  # writes cut short by a kill
                tmp.unlink(missing_ok=True)
            return stored
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise ResumeError(f"{self.path} exists and is not a sweep directory; choose another --out")
        return None

    def create(self, manifest: Mapping[str, Any], combos: pd.DataFrame) -> bool:
        """Create the directory with the manifest and the combination list (in that
        order: a sweep killed in between is still resumable); True."""
        self._made_dir = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_manifest(manifest)
        self.ensure_combos(combos)
        return True

    def discard(self) -> None:
        """Remove what ``create`` and the parts wrote (and the directory, when ``create``
        made it): a sweep that failed on bad input leaves nothing behind."""
        for p in [self.manifest_path, self.path / COMBOS, *self.path.glob("part-*.parquet"),
                  *self.path.glob(".*.tmp"), *self.path.glob(".*.tmp-*")]:
            p.unlink(missing_ok=True)
        if getattr(self, "_made_dir", False):
            try:
                self.path.rmdir()
            except OSError:  # something else was put there meanwhile: keep it
                pass

    def ensure_combos(self, combos: pd.DataFrame) -> None:
        """Write the combination list unless it is stored already."""
        if not (self.path / COMBOS).exists():
            write_file(self.path / COMBOS, lambda tmp: combos.to_parquet(tmp, index=False))

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        write_file(self.manifest_path, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1, default=str)))

    def mark_complete(self, **extra: Any) -> None:
        manifest = self.read_manifest()
        manifest.update(extra, complete=True)
        self.write_manifest(manifest)

    def done(self) -> set[int]:
        """Ids of the chunks whose part is stored."""
        out = set()
        for p in self.path.glob("part-*.parquet"):
            try:
                out.add(int(p.stem.split("-", 1)[1]))
            except ValueError:
                continue
        return out

    def write_part(self, chunk: int, frame: pd.DataFrame) -> None:
        write_file(self.part_path(chunk), lambda tmp: frame.to_parquet(tmp, index=False), clean=False)

    def read_part(self, chunk: int) -> pd.DataFrame:
        return pd.read_parquet(self.part_path(chunk))

    def combos(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / COMBOS)

    def table(self) -> pd.DataFrame:
        """Every stored part, concatenated and sorted by combination id (then fold)."""
        parts = sorted(self.path.glob("part-*.parquet"))
        if not parts:
            return pd.DataFrame()
        return sort_table(pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True))


def sort_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by ``combo`` (and ``fold`` when present), index reset."""
    keys = [k for k in ("combo", "fold") if k in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def read_sweep(path: str | os.PathLike) -> pd.DataFrame:
    """The results table of the sweep stored at ``path``, sorted by combination id."""
    return SweepStore(path).table()
