"""engine.numba_cache: a kernel module's numba cache is dropped when a source it
inlines changes (numba itself only watches the defining file)."""

from __future__ import annotations

from types import SimpleNamespace

from engine import kernels, stats_nb
from engine.numba_cache import drop_stale, sources_digest


def fake_dispatcher(path):
    return SimpleNamespace(_cache=SimpleNamespace(_cache_path=str(path)))


def test_cache_files_go_when_a_dependency_changes(tmp_path):
    dep = tmp_path / "dep.py"
    dep.write_text("A = 1\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    names = ["kern.f-10.py311.nbi", "kern.f-10.py311.1.nbc", "other.g-3.py311.nbi"]
    for n in names:
        (cache / n).write_bytes(b"x")
    d = fake_dispatcher(cache)
    assert drop_stale(d, "kern", [dep])  # no stamp yet: dropped, stamp written
    assert sorted(p.name for p in cache.iterdir()) == ["kern.sources", "other.g-3.py311.nbi"]
    assert (cache / "kern.sources").read_text() == sources_digest([dep])
    (cache / names[0]).write_bytes(b"recompiled")
    assert not drop_stale(d, "kern", [dep])  # same sources: kept
    assert (cache / names[0]).exists()
    dep.write_text("A = 2\n")
    assert drop_stale(d, "kern", [dep])  # the dependency changed: dropped again
    assert not (cache / names[0]).exists() and (cache / "other.g-3.py311.nbi").exists()


def test_kernels_stamp_their_sources():
    path = kernels.simulate_column_nb._cache._cache_path
    stamp = f"{path}/kernels.sources"
    with open(stamp) as f:
        assert f.read() == sources_digest([kernels.__file__, stats_nb.__file__])
