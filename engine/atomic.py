"""Atomic output: files and directories are built under a temporary name beside their
destination and renamed into place, so a reader (or a crash) never sees half of one.

Temporary files and directories are created private (0600 / 0700, as ``tempfile``
makes them); what is renamed into place gets the permissions a plain ``open`` or
``mkdir`` would have given it under the process umask.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it back at once
    os.umask(mask)
    return mask


def write_file(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` with a temporary path beside ``path``, then rename it to
    ``path`` (mode 0666 less the umask). On any error the temporary file is removed
    and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """``write_file`` of ``text`` as UTF-8."""
    return write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@contextmanager
def building_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``path`` to fill; when the block ends
    normally it replaces ``path`` (``replace_dir``), when it raises it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_dir(tmp: Path, path: Path) -> None:
    """Move the finished directory ``tmp`` to ``path`` (mode 0777 less the umask). An
    existing ``path`` is renamed aside first and removed afterwards, so ``path`` always
    holds either the old or the new complete result, never a half-written one."""
    tmp.chmod(0o777 & ~_umask())
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        path.rename(old)
    tmp.rename(path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
