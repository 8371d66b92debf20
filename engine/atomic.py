"""Atomic replacement of an output directory."""

from __future__ import annotations

import shutil
from pathlib import Path


def replace_dir(tmp: Path, path: Path) -> None:
    """Move the finished directory ``tmp`` to ``path``. An existing ``path`` is renamed
    aside first and removed afterwards, so ``path`` always holds either the old or the
    new complete result, never a half-written one."""
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        path.rename(old)
    tmp.rename(path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
