"""Make numba's on-disk cache notice changes to the sources a kernel inlines.

``@njit(cache=True)`` keys a cached function on the stamp (modification time and size)
of the file that defines it and nothing else: numba does not notice a change to a
function it calls from another file (numba/numba#8396, unmerged). ``mlbt.sim.kernel_nb``
inlines the metric accumulators of ``mlbt.sim.stats_nb``, so after an edit or a ``git
pull`` that touched only stats_nb.py the old machine code, with the old metrics, would
keep running. ``bind_sources`` adds a digest of those sources to each dispatcher's
stamp: numba then treats an index written under other sources as stale (and compiles
again), whichever process wrote it and whenever.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def sources_digest(files: Iterable[str | os.PathLike]) -> str:
    """SHA-256 (hex, 16 chars) over the bytes of ``files`` in order."""
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


def bind_sources(dispatchers: Iterable[Any], files: Iterable[str | os.PathLike]) -> int:
    """Extend the cache stamp of every cached numba dispatcher in ``dispatchers`` with the
    digest of ``files``; call it before their first call. Returns how many were bound
    (dispatchers without an on-disk cache are left alone). Uses numba's private
    ``Dispatcher._cache._cache_file._source_stamp`` (numba 0.49+); where that is absent
    nothing is bound, and the caller's test says so."""
    digest = sources_digest(files)
    bound = 0
    for d in dispatchers:
        cache_file = getattr(getattr(d, "_cache", None), "_cache_file", None)
        stamp = getattr(cache_file, "_source_stamp", None)
        if cache_file is None or stamp is None:
            continue
        cache_file._source_stamp = (stamp, digest)
        bound += 1
    return bound
