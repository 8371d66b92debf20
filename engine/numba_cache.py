"""Invalidate numba's on-disk cache when a kernel's dependencies change.

``@njit(cache=True)`` keys a cached function on the source file that defines it and
nothing else: numba does not notice a change to a function it calls from another file
(numba/numba#8396, unmerged). ``engine.kernels`` inlines the metric accumulators of
``engine.stats_nb``, so after an edit or a ``git pull`` that touched only stats_nb.py
the old machine code, with the old metrics, would keep running. ``drop_stale`` hashes
the sources a module's kernels are built from and deletes that module's cache files
when the hash changes, so numba compiles them again on first call.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any


def sources_digest(files: list[str | os.PathLike]) -> str:
    """SHA-256 (hex, 16 chars) over the bytes of ``files`` in order."""
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


def drop_stale(dispatcher: Any, module: str, files: list[str | os.PathLike]) -> bool:
    """Delete ``module``'s numba cache files (``<module>.*.nbi|nbc`` in the cache
    directory ``dispatcher`` uses) unless the stamp ``<module>.sources`` there holds
    the digest of ``files``; then write the stamp. Returns True when files were dropped.
    A cache directory numba cannot tell or write leaves everything as it is."""
    try:
        path = Path(dispatcher._cache._cache_path)  # numba's FunctionCache (private, stable since 0.4x)
    except AttributeError:
        return False
    digest = sources_digest(files)
    stamp = path / f"{module}.sources"
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    for f in list(path.glob(f"{module}.*.nbi")) + list(path.glob(f"{module}.*.nbc")):
        f.unlink(missing_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{module}.", dir=path)
        with os.fdopen(fd, "w") as out:
            out.write(digest)
        os.replace(tmp, stamp)
    except OSError:
        pass
    return True
