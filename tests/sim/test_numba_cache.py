"""mlbt.sim.numba_cache: a kernel's numba cache goes stale when a source it inlines
changes (numba itself only watches the defining file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlbt.sim import kernel_nb, rules_nb, stats_nb
from mlbt.sim.numba_cache import sources_digest

ROOT = Path(__file__).resolve().parents[2]
DEP = "from numba import njit\n\n@njit(cache=True)\ndef f(x):\n    return x + {k}\n"
MAIN = """from pathlib import Path
from numba import njit
import dep
from dep import f
from mlbt.sim.numba_cache import bind_sources

@njit(cache=True)
def g(x):
    return f(x)

if {bind}:
    bind_sources([g], [__file__, dep.__file__])
"""


def call_g(folder: Path) -> str:
    env = os.environ | {"PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"}
    env.pop("NUMBA_CACHE_DIR", None)  # the cache goes to folder/__pycache__
    out = subprocess.run([sys.executable, "-c", "import main; print(main.g(1))"], cwd=folder, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_a_changed_dependency_recompiles_only_when_bound(tmp_path):
    results = {}
    for bind in (False, True):
        folder = tmp_path / str(bind)
        folder.mkdir()
        (folder / "main.py").write_text(MAIN.format(bind=bind))
        (folder / "dep.py").write_text(DEP.format(k=1))
        first = call_g(folder)  # compiles and caches g with f inlined
        (folder / "dep.py").write_text(DEP.format(k=2))
        results[bind] = (first, call_g(folder))
    assert results[False] == ("2", "2")  # numba alone: g's stale machine code still adds 1
    assert results[True] == ("2", "3")  # bound to dep.py's digest: recompiled


def test_every_cached_kernel_function_is_bound_to_all_kernel_sources():
    digest = sources_digest(kernel_nb.KERNEL_SOURCES)
    cached = {id(v): v for m in (kernel_nb, rules_nb, stats_nb) for v in vars(m).values()
              if hasattr(getattr(v, "_cache", None), "_cache_file")}
    assert len(cached) >= 30
    for d in cached.values():
        assert d._cache._cache_file._source_stamp[1] == digest, d


def test_every_cached_group_kernel_function_is_bound_to_its_sources_and_the_kernels():
    from mlbt.sim import group_nb

    digest = sources_digest([group_nb.__file__, *kernel_nb.KERNEL_SOURCES])
    cached = [v for v in vars(group_nb).values() if hasattr(getattr(v, "_cache", None), "_cache_file")
              and v.py_func.__module__ == group_nb.__name__]
    assert len(cached) >= 15
    for d in cached:
        assert d._cache._cache_file._source_stamp[1] == digest, d
