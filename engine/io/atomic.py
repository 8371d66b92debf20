"""Atomic output: files and directories are built under a temporary name beside their
destination and renamed into place, so a reader (or a crash) never sees half of one.

The temporary names are created with mode 0666 (files) / 0777 (directories) and the
kernel applies the process umask, so what is renamed into place has the permissions a
plain ``open`` or ``mkdir`` would have given it (``tempfile`` would make them private).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def write_file(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` with a new empty file beside ``path``, then rename it to
    ``path``. On any error the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _temp_name(path)
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            break
        except FileExistsError:
            continue
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """``write_file`` of ``text`` as UTF-8."""
    return write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def check_creatable(path: str | os.PathLike, *, directory: bool = False) -> Path:
    """``path`` resolved, after checking, before any long work, that a file (or with
    ``directory`` a directory) can be written there: ValueError saying why not."""
    path = Path(path).expanduser().resolve()
    if path.is_dir() and not directory:
        raise ValueError(f"{path} is a directory; give a file name, e.g. {path / 'report.html'}")
    if path.exists() and directory and not path.is_dir():
        raise ValueError(f"{path} is a file; give a directory")
    base = path if directory and path.is_dir() else path.parent
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"{base} is a file, so {path} cannot be created; choose another path")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ValueError(f"no permission to write in {base}; choose another path")
    return path


def check_replaceable(path: str | os.PathLike, marker: str, what: str) -> Path:
    """``path`` resolved, after checking that writing ``what`` there loses nothing: it
    must be missing, an empty directory, or a directory holding ``marker`` (one that
    this kind of writer made before). Otherwise FileExistsError (ValueError for a
    file) saying what to do."""
    path = check_creatable(path, directory=True)  # refuses a file
    if path.is_dir() and any(path.iterdir()) and not (path / marker).exists():
        raise FileExistsError(f"{path} already holds other files (it is not a {what}); "
                              "choose a new or empty directory")
    return path


@contextmanager
def building_dir(path: str | os.PathLike, marker: str, what: str) -> Iterator[Path]:
    """Yield a new empty directory beside ``path`` to fill; when the block ends
    normally it replaces ``path`` (``replace_dir``), when it raises it is removed.
    ``path`` may only be missing, empty or an earlier ``what`` (holding ``marker``):
    ``check_replaceable``, so nothing else is ever deleted."""
    path = check_replaceable(path, marker, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _temp_name(path)
        try:
            tmp.mkdir(0o777)
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
