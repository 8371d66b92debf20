"""Atomic output: files and directories are built under a temporary name beside their
destination and renamed into place, so a reader (or a crash) never sees half of one.

The temporary names are ``.<name>.tmp-<pid>-<random>`` beside the destination: a
write killed before its rename (SIGKILL; bt turns SIGTERM into a clean exit) leaves
one, and the next write of that destination removes those whose process is gone.

The temporary names are created with mode 0666 (files) / 0777 (directories) and the
kernel applies the process umask, so what is renamed into place has the permissions a
plain ``open`` or ``mkdir`` would have given it (``tempfile`` would make them private).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: How long a temporary name whose process cannot be told (another host's) is kept.
STALE_SECONDS = 24 * 3600


def _temp_name(path: Path) -> Path:
    """``.<name>.tmp-<pid>-<random>`` beside ``path``: recognisably bt's, and whose."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(6)}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process, or cannot tell: alive
        return True
    return True


def clean_stale(path: str | os.PathLike) -> list[Path]:
    """Remove what a killed write of ``path`` left beside it: its temporary names
    (``_temp_name``) whose process is gone, or older than STALE_SECONDS, and the
    ``.<name>.old`` of an interrupted ``replace_dir`` (put back when ``path`` itself is
    missing, so the earlier result is not lost). Returns the paths removed."""
    path = Path(path)
    parent = path.parent
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    prefix = f".{path.name}.tmp-"
    now = time.time()
    for tmp in parent.glob(f"{glob.escape(prefix)}*"):
        pid_text = tmp.name[len(prefix):].split("-", 1)[0]
        try:
            stale = not _alive(int(pid_text)) or now - tmp.lstat().st_mtime > STALE_SECONDS
        except (ValueError, OSError):
            continue
        if stale:
            _remove(tmp)
            removed.append(tmp)
    old = path.with_name(f".{path.name}.old")
    if old.exists() and not any(_alive_tmp(t, prefix) for t in parent.glob(f"{glob.escape(prefix)}*")):
        if not path.exists() and old.is_dir():
            old.rename(path)  # killed between the two renames of replace_dir: the old result comes back
        else:
            _remove(old)
            removed.append(old)
    return removed


def _alive_tmp(tmp: Path, prefix: str) -> bool:
    try:
        return _alive(int(tmp.name[len(prefix):].split("-", 1)[0]))
    except ValueError:
        return False


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def write_file(path: str | os.PathLike, write: Callable[[Path], object], *, clean: bool = True) -> Path:
    """Call ``write(tmp)`` with a new empty file beside ``path``, then rename it to
    ``path``. On any error the temporary file is removed and ``path`` is left as it was.
    ``clean``: first remove what a killed earlier write of ``path`` left (``clean_stale``;
    a writer of many files in one directory cleans it once itself)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if clean:
        clean_stale(path)
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
    clean_stale(Path(path).expanduser().resolve())  # what a killed earlier write left (before it is judged)
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
