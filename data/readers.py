"""Read a file into a raw DataFrame of original columns, one row per record.

No interpretation happens here beyond what the format needs: CSV (plain or gzip,
a one-line banner above the header is skipped, the delimiter is read from the header
line), Parquet, Feather, and SQLite (a ``candles`` table: timestamp, open, high, low,
close, volume, symbol).
"""

from __future__ import annotations

import gzip
import sqlite3
import zlib
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

import pandas as pd

from mlbt.data.columns import ALIASES, canonical
from mlbt.data.errors import DataError

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv")
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
SUFFIXES = CSV_SUFFIXES + (".parquet", ".pq", ".feather", ".arrow") + SQLITE_SUFFIXES
SQLITE_TABLE = "candles"
OTHER_DELIMITERS = (";", "\t", "|")
"""Delimiters used when the header line has no comma (``.tsv``: no tab)."""


def suffix(path: Path) -> str:
    """``.csv.gz`` for gzip CSVs, otherwise the last suffix, lower case."""
    name = path.name.lower()
    return ".csv.gz" if name.endswith(".csv.gz") else path.suffix.lower()


def read_table(path: Path, *, symbol: str | None = None) -> pd.DataFrame:
    """The raw records of ``path``; SQLite files are filtered to ``symbol`` here."""
    kind = suffix(path)
    try:
        if kind in CSV_SUFFIXES:
            return _read_csv(path)
        if kind in (".parquet", ".pq"):
            return _with_index_column(pd.read_parquet(path))
        if kind in (".feather", ".arrow"):
            return _with_index_column(pd.read_feather(path))
        if kind in SQLITE_SUFFIXES:
            return _read_sqlite(path, symbol)
    except DataError:
        raise
    except (EOFError, zlib.error, OSError, ValueError, sqlite3.DatabaseError, ImportError) as exc:
        raise DataError(_unreadable(path, kind, exc)) from exc
    raise DataError(f"{path}: unknown file type {kind!r}; use one of {', '.join(SUFFIXES)}")


#: What the readers say when a file's bytes end early or do not decode (compressed
#: formats cannot be read in part): lower-case fragments of their messages.
_TRUNCATED = ("ended before", "end-of-stream", "unexpected end", "truncated", "premature end")
_CORRUPT = ("not a gzipped file", "magic bytes", "corrupt", "invalid", "decompress", "not an arrow file",
            "file is not a database", "malformed", "couldn't deserialize", "failed to read", "bad crc")


def _unreadable(path: Path, kind: str, exc: BaseException) -> str:
    """The one line for a file that cannot be read: truncated (its data ends early),
    corrupt or not of its type (its bytes do not decode as ``kind``), or another
    reason; each says how to fix it."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    low = f"{type(exc).__name__} {first}".lower()
    fix = "re-download or re-export it"
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(exc, EOFError) or any(w in low for w in _TRUNCATED):
        return (f"{path}: the file is truncated: its {kind} data ends early ({first}); it was cut short while "
                f"being downloaded or written: {fix}")
    if isinstance(exc, zlib.error | gzip.BadGzipFile | sqlite3.DatabaseError) or any(w in low for w in _CORRUPT):
        return (f"{path}: the file is truncated or corrupt, or not a {kind} file ({first}); {fix}"
                + (", or give it the suffix of its real format" if kind in (".csv.gz", ".parquet", ".pq", ".feather",
                                                                             ".arrow") else ""))
    return f"{path}: cannot read as {kind} ({first}); check the file is complete and of that type, or {fix}"


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV's records. The delimiter is decided from the header line alone: the
    default (``,``; tab for ``.tsv``) when the header holds it, else whichever of
    ``;``, tab and ``|`` it holds most. pandas' own sniffing (``sep=None``, i.e.
    ``csv.Sniffer``) is not used: it reads data rows too, where decimal commas
    (``1,5;2,0``) or commas inside quoted fields mislead it, while a header names
    columns and holds only delimiters between them."""
    default = "\t" if suffix(path) == ".tsv" else ","
    lines = _head(path, 2)
    sep = delimiter(lines[0] if lines else "", default)
    frame = pd.read_csv(path, sep=sep, dtype=_symbols_as_text(path, sep, 0))
    if not _has_timestamp(frame.columns) and len(frame):
        sep = delimiter(lines[1] if len(lines) > 1 else "", default)
        # a banner line above the header
        banner = pd.read_csv(path, sep=sep, skiprows=1, dtype=_symbols_as_text(path, sep, 1))
        if _has_timestamp(banner.columns):
            return banner
    return frame


def _symbols_as_text(path: Path, sep: str, skip: int) -> dict[str, type]:
    """A symbol column read as text (``001`` stays ``001``, not the number 1)."""
    try:
        header = pd.read_csv(path, sep=sep, skiprows=skip, nrows=0).columns
    except (ValueError, OSError):
        return {}
    return {c: str for c in header if canonical(c) == "symbol"}


def delimiter(header: str, default: str = ",") -> str:
    """The delimiter of a CSV ``header`` line (see ``_read_csv``)."""
    if default in header:
        return default
    counts = {d: header.count(d) for d in OTHER_DELIMITERS if d != default}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else default


def _head(path: Path, n: int) -> list[str]:
    """The first ``n`` lines of a plain or gzip text file (fewer if it is shorter)."""
    opener = gzip.open if suffix(path) == ".csv.gz" else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:
        return [line for line in (fh.readline() for _ in range(n)) if line]


def _has_timestamp(columns: Iterable[str]) -> bool:
    return any(canonical(c) in ALIASES["timestamp"] for c in columns)


def _with_index_column(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet/Feather written from a Bars frame keep the timestamps in the index."""
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.reset_index(names=frame.index.name or "timestamp")
    return frame


def _candles(con: sqlite3.Connection, path: Path) -> list[str]:
    """The columns of the ``candles`` table (DataError when there is none)."""
    tables = [r[0] for r in con.execute("select name from sqlite_master where type in ('table', 'view')")]
    if SQLITE_TABLE not in tables:
        raise DataError(
            f"{path}: no table {SQLITE_TABLE!r}; tables here: {', '.join(tables) or 'none'}. "
            f"bt reads a {SQLITE_TABLE!r} table (timestamp, open, high, low, close, volume, symbol)"
        )
    return [r[1] for r in con.execute(f"pragma table_info({SQLITE_TABLE})")]


def sqlite_symbols(path: Path) -> list[str]:
    """The symbols of a SQLite file's ``candles`` table, sorted ([] without a symbol column)."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            if "symbol" not in _candles(con, path):
                return []
            return [r[0] for r in con.execute(f"select distinct cast(symbol as text) from {SQLITE_TABLE} "
                                              "order by symbol")]
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: cannot read as SQLite ({exc}); check the file is complete and of that type") \
            from exc


def _read_sqlite(path: Path, symbol: str | None) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        columns = _candles(con, path)
        if "symbol" not in columns:
            if symbol is not None:
                raise DataError(f"{path}: table {SQLITE_TABLE!r} has no symbol column; leave out symbol={symbol!r} "
                                "(--symbol)")
            return pd.read_sql_query(f"select * from {SQLITE_TABLE}", con)
        symbols = [r[0] for r in con.execute(f"select distinct cast(symbol as text) from {SQLITE_TABLE} "
                                             "order by symbol")]
        if symbol is None:
            if len(symbols) > 1:
                raise DataError(
                    f"{path}: table {SQLITE_TABLE!r} holds several symbols ({', '.join(map(str, symbols))}); "
                    "pick one with symbol=... (--symbol), or several with symbols=... (--symbols)"
                )
            symbol = symbols[0] if symbols else None
        if symbol not in symbols:
            raise DataError(
                f"{path}: no symbol {symbol!r} in table {SQLITE_TABLE!r}; symbols here: "
                f"{', '.join(map(str, symbols)) or 'none'}"
            )
        frame = pd.read_sql_query(f"select * from {SQLITE_TABLE} where cast(symbol as text) = ?", con,
                                  params=(str(symbol),))
    return frame.drop(columns="symbol")
