"""``mlbt.load`` (``mlbt.data.load``): turn a source (embedded sample, file, ``synthetic:`` spec) into Bars.

Bars: a DataFrame with a sorted, unique, tz-aware UTC DatetimeIndex named
``timestamp`` and float64 columns open, high, low, close, volume (numeric extra
columns such as ``ivx`` are kept as float64). One row per bar, labelled by the bar's
open time; a decision "at bar t" may use everything in row t. ``attrs`` records the
source: ``source``, ``symbol``, ``synthetic``, ``timeframe`` (and ``filled_bars`` /
``dropped_duplicates`` when repairs were asked for); for data.check's messages,
``out_of_order`` when the file's rows were not in time order, ``duplicate_rows`` when
duplicates were kept (``validate=False``) and ``mixed_offsets`` when either happened
in a file whose timestamps carry several UTC offsets.

Row numbers in messages are data rows: 1 is the first row after the header (a CSV's
line number is the data row plus one, plus one more for a banner line above the
header). A newest-first file is sorted silently; rows that break the file's order
(oldest- or newest-first) are sorted too, with a DataWarning naming the first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from mlbt.data.columns import ALIASES, FIELDS, canonical, resolve
from mlbt.data.errors import DataError
from mlbt.data.readers import OTHER_DELIMITERS, SQLITE_SUFFIXES, read_table, sqlite_symbols, suffix
from mlbt.data.repair import REPAIRS, drop_duplicates, fill_gaps
from mlbt.data.resample import resample
from mlbt.data.samples import SAMPLES, samples
from mlbt.data.synthetic import asset_count, asset_names, is_synthetic, synthetic, synthetic_assets
from mlbt.data.timestamps import Timing, to_utc_index, utc_offsets
from mlbt.data.universe import choose, collection_files, combine, file_symbol, is_collection, parse_symbols
from mlbt.data.validate import SHOW, check

log = logging.getLogger(__name__)


def load(
    source: str | Path,
    *,
    symbol: str | None = None,
    symbols: str | Sequence[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    timeframe: str | None = None,
    repair: Iterable[str] = (),
    min_bars: int | None = None,
    tz: str | None = None,
    date_format: str | None = None,
    warn: bool = True,
    validate: bool = True,
) -> pd.DataFrame:
    """Load, normalize and validate bars.

    source: an embedded sample name (``data.samples()``), a path to a .csv, .csv.gz,
        .parquet, .feather or .sqlite/.db file, or a ``synthetic:`` spec. A CSV is
        comma-separated, or ``;``-, tab- or ``|``-separated when its header line
        has no comma (see data.readers); decimals are written with ``.``. With
        ``symbols``, also a directory or a glob pattern of files, one per symbol,
        each named by its symbol (``BTC.csv``).
    symbol: for a SQLite ``candles`` table or a CSV with a ``symbol`` column, the
        rows of that symbol; for a wide CSV (``BTC:open, ..., ETH:open, ...``), that
        symbol's columns. Messages then name the file and the asset.
    symbols: several symbols as one universe (``["BTC", "ETH"]``, ``"BTC,ETH"``, or
        ``"all"``: every symbol of the source; a synthetic spec with ``assets`` above
        1 is a universe without it): bars with (field, asset) columns on the union of
        the assets' timestamps, NaN on the bars an asset lacks (see data.universe).
        Each asset is read, repaired, sliced and validated on its own, as with
        ``symbol``; ``min_bars`` applies to the union.
    start, end: inclusive bounds on the bar timestamps (naive values are UTC).
    timeframe: aggregate to coarser bars (``4h``, ``1D``; see data.resample).
    repair: explicit repairs, any of ``"duplicates"`` (keep the last row per
        timestamp) and ``"gaps"`` (insert flat zero-volume bars). Nothing is
        repaired unless asked.
    min_bars: the fewest bars the caller needs; fewer raise DataError.
    tz: the zone of naive timestamps in the file (default UTC).
    date_format: how a text timestamp reads when it is not ISO 8601: None (detected:
        ``timestamps.FORMATS``; a slash date is month first), ``"dayfirst"``
        (01/07/2017 is 1 July), ``"monthfirst"`` (7 January), or a strptime format
        such as ``"%d/%m/%Y %I:%M %p"``.
    warn: emit DataWarning for zero-volume bars and gaps.
    validate: False skips raising on invalid bars (for inspection: ``data.check``
        then reports every problem, as ``bt data show`` does).

    Raises DataError (one line: what, where, how to fix) on unreadable or invalid data.
    """
    repair = tuple(repair)
    unknown = [r for r in repair if r not in REPAIRS]
    if unknown:
        raise DataError(f"repair={unknown!r}: unknown repair; choose from {', '.join(REPAIRS)}")
    if symbols is None and symbol is None and is_synthetic(source) and asset_count(str(source)) > 1:
        symbols = "all"
    if symbols is not None:
        if symbol is not None:
            raise DataError(f"{source}: give one symbol (symbol=, --symbol) or several (symbols=), not both")
        return _universe(source, symbols, start=start, end=end, timeframe=timeframe, repair=repair,
                         min_bars=min_bars, tz=tz, date_format=date_format, warn=warn, validate=validate)
    return _finish(_read(source, symbol=symbol, timing=Timing(tz, date_format)), symbol=symbol, start=start, end=end,
                   timeframe=timeframe,
                   repair=repair, min_bars=min_bars, warn=warn, validate=validate, stacklevel=4)


def load_assets(source: str | Path, symbols: str | Sequence[str], *, start: str | pd.Timestamp | None = None,
                end: str | pd.Timestamp | None = None, timeframe: str | None = None, repair: Iterable[str] = (),
                tz: str | None = None, date_format: str | None = None, warn: bool = True, validate: bool = True,
                stacklevel: int = 2) -> dict[str, pd.DataFrame]:
    """Each asset of a universe as its own bars (only the bars it has), by symbol in the
    universe's order: what ``load(source, symbols=...)`` combines. The keywords are
    ``load``'s, applied to each asset; warnings are attributed ``stacklevel`` frames up."""
    frames: dict[str, pd.DataFrame] = {}
    for sym, read in _asset_reads(source, parse_symbols(symbols), Timing(tz, date_format)):
        frames[sym] = _finish(read, symbol=sym, start=start, end=end, timeframe=timeframe, repair=tuple(repair),
                              min_bars=None, warn=warn, validate=validate, stacklevel=stacklevel + 2)
    return frames


def source_symbols(source: str | Path) -> list[str]:
    """The symbols ``source`` holds, in its order ([] for a source of one instrument
    without a symbol): what ``symbols="all"`` loads."""
    if is_synthetic(source):
        n = asset_count(str(source))
        return asset_names(n) if n > 1 else []
    if _is_collection(source):
        return [file_symbol(f) for f in collection_files(source)]
    path, name = _path(source)
    if name in SAMPLES and SAMPLES[name].symbol:
        return []
    if suffix(path) in SQLITE_SUFFIXES:
        return sqlite_symbols(path)
    return _symbols_in(read_table(path).reset_index(drop=True), name)


def _universe(source: str | Path, symbols: str | Sequence[str], *, min_bars: int | None,
              **options: Any) -> pd.DataFrame:
    frames = load_assets(source, symbols, stacklevel=4, **options)
    bars = combine(frames)
    name = str(source)
    if min_bars is not None and len(bars) < min_bars:
        raise DataError(f"{name}: {len(bars)} bars from {bars.index[0]} to {bars.index[-1]} in the union of "
                        f"{len(frames)} assets, but this use needs at least {min_bars}; load a longer range "
                        "(start/end) or more data")
    bars.attrs.update(source=name, symbol=None, synthetic=any(f.attrs.get("synthetic") for f in frames.values()),
                      timeframe=options.get("timeframe"))
    return bars


def _finish(read: _Read, *, symbol: str | None, start: Any, end: Any, timeframe: str | None,
            repair: tuple[str, ...], min_bars: int | None, warn: bool, validate: bool,
            stacklevel: int) -> pd.DataFrame:
    """Sort, repair, slice and validate one instrument's bars as read (warnings
    attributed ``stacklevel`` frames up from the report's)."""
    name, frame, is_synth, rows, stamps = read
    order = _order_note(frame.index, rows)
    mixed = _offset_mix(stamps, rows) if stamps is not None and (order or frame.index.has_duplicates) else None
    if rows is not None:
        frame[_ROW] = rows  # the file's data row of each bar, through sorting, repair and slicing
    frame = frame.sort_index(kind="stable")
    if "duplicates" in repair:
        before = len(frame)
        frame = drop_duplicates(frame)
        frame.attrs["dropped_duplicates"] = before - len(frame)
    frame = _slice(frame, start, end, name)
    rows = frame.pop(_ROW).to_numpy() if rows is not None else None
    if order is not None:
        frame.attrs["out_of_order"] = order
    if mixed is not None:
        frame.attrs["mixed_offsets"] = mixed
    if rows is not None and frame.index.has_duplicates:
        frame.attrs["duplicate_rows"] = _duplicate_rows(frame.index, rows)
    report = check(frame, source=name)
    if validate:
        report.raise_errors()
    if "gaps" in repair and not report.errors:
        frame = fill_gaps(frame, source=name)
        report = check(frame, source=name)
    if timeframe is not None:
        frame = resample(frame, timeframe, source=name)
    if min_bars is not None and len(frame) < min_bars:
        raise DataError(f"{name}: {len(frame)} bars from {frame.index[0]} to {frame.index[-1]}, but this use needs "
                        f"at least {min_bars}; load a longer range (start/end) or more data")
    if warn and validate:
        report.emit_warnings(stacklevel=stacklevel)
    frame.attrs.update(source=name, symbol=symbol, synthetic=is_synth, timeframe=timeframe)
    return frame


_ROW = "__data_row__"


class _Read(NamedTuple):
    name: str  # the source as messages name it
    frame: pd.DataFrame  # indexed by UTC timestamps, in the file's row order, normalized columns
    synthetic: bool
    rows: np.ndarray | None  # each bar's data row in the file (1 = first after the header)
    stamps: pd.Series | None  # the timestamp column as the file has it


def _read(source: str | Path, *, symbol: str | None, timing: Timing) -> _Read:
    if is_synthetic(source):
        if symbol is not None:
            if asset_count(str(source)) == 1:
                raise DataError(f"{source}: synthetic data has no symbols; leave out symbol={symbol!r} (--symbol)")
            return _synthetic_reads(source, [symbol])[0][1]
        return _Read(str(source), synthetic(str(source)), True, None, None)
    if _is_collection(source):
        files = {file_symbol(f): f for f in collection_files(source)}
        if symbol is None and len(files) > 1:
            raise DataError(f"{source}: a directory of {len(files)} files, one per symbol ({', '.join(list(files)[:8])}"
                            f"{' ...' if len(files) > 8 else ''}); load several with symbols=... (--symbols), "
                            "or one with symbol=... (--symbol)")
        chosen = choose([symbol] if symbol is not None else None, list(files), str(source))[0]
        return _file_read(files[chosen], chosen, timing)
    path, name = _path(source)
    if symbol is not None and name in SAMPLES and SAMPLES[name].symbol:
        raise DataError(f"{source}: an embedded sample holds one instrument; leave out symbol={symbol!r} (--symbol)")
    raw = read_table(path, symbol=symbol)
    sqlite = suffix(path) in SQLITE_SUFFIXES
    raw = raw.reset_index(drop=True)  # labels = positions in the file, kept by the symbol selection
    if not sqlite:
        raw = _select_symbol(raw, symbol, name)
    return _from_raw(raw, _named(name, symbol), timing, sqlite)


def _is_collection(source: str | Path) -> bool:
    """A directory or glob of one file per symbol (a sample's name never is one)."""
    return not (isinstance(source, str) and source in SAMPLES) and is_collection(source)


def _file_read(path: Path, symbol: str, timing: Timing) -> _Read:
    """The one instrument of a collection's file ``path``, named as asset ``symbol``."""
    return _read(path, symbol=None, timing=timing)._replace(name=f"{path} (asset {symbol})")


def _read_reporting(path: Path, symbol: str, timing: Timing, k: int, n: int, source: str) -> _Read:
    """``_file_read``, as step k+1 of n of loading ``source`` (a progress step on the
    ``mlbt`` logger, which the commands draw as a bar)."""
    read = _file_read(path, symbol, timing)
    log.info(f"loaded {k + 1:,} of {n:,} files of {source}", extra={"progress": {
        "task": f"loading {source}", "done": k + 1, "total": n}})
    return read


def _synthetic_reads(source: str | Path, asked: list[str] | None) -> list[tuple[str, _Read]]:
    """(name, bars) of the assets ``asked`` (None: all) of a synthetic spec."""
    names = choose(asked, asset_names(asset_count(str(source))), str(source))
    return [(s, _Read(_named(str(source), s), frame, True, None, None))
            for s, frame in synthetic_assets(str(source), names).items()]


def _named(name: str, symbol: str | None) -> str:
    """How messages name the source: the file, and the asset when one is selected."""
    return name if symbol is None else f"{name} (asset {symbol})"


def _path(source: str | Path) -> tuple[Path, str]:
    """The file of a sample name or a path, and how messages name it."""
    if isinstance(source, str) and source in SAMPLES:
        return SAMPLES[source].path, source
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(
            f"{source}: no such file, and not an embedded sample ({', '.join(samples())}) or a "
            "synthetic: spec (e.g. synthetic:gbm?bars=100000&seed=7&freq=1min)"
        )
    return path, str(source)


def _from_raw(raw: pd.DataFrame, name: str, timing: Timing, sqlite: bool) -> _Read:
    """One instrument's records, normalized (``raw``'s labels: positions in the file)."""
    frame = _normalize(raw, name, timing)
    rows = None if sqlite else raw.index.to_numpy(dtype="int64") + 1  # a table's rows have no order to cite
    return _Read(name, frame, False, rows, raw[_timestamp_column(raw)])


def _asset_reads(source: str | Path, asked: list[str] | None, timing: Timing) -> list[tuple[str, _Read]]:
    """(symbol, its bars as read) of each asset of a universe: ``asked`` (None: all),
    in that order, else in the source's order (a directory's: by file name)."""
    if is_synthetic(source):
        return _synthetic_reads(source, asked)
    if _is_collection(source):
        files = {file_symbol(f): f for f in collection_files(source)}
        chosen = choose(asked, list(files), str(source))
        return [(s, _read_reporting(files[s], s, timing, k, len(chosen), str(source))) for k, s in enumerate(chosen)]
    path, name = _path(source)
    if suffix(path) in SQLITE_SUFFIXES:
        found = sqlite_symbols(path)
        if not found:
            return _one_instrument(path, name, asked, timing, True)
        return [(s, _from_raw(read_table(path, symbol=s).reset_index(drop=True), _named(name, s), timing, True))
                for s in choose(asked, found, name)]
    raw = read_table(path).reset_index(drop=True)
    found = _symbols_in(raw, name)
    if not found:
        return _one_instrument(path, name, asked, timing, False, raw)
    return [(s, _from_raw(_select_symbol(raw, s, name), _named(name, s), timing, False))
            for s in choose(asked, found, name)]


def _one_instrument(path: Path, name: str, asked: list[str] | None, timing: Timing, sqlite: bool,
                    raw: pd.DataFrame | None = None) -> list[tuple[str, _Read]]:
    """A source of one instrument as a universe of one: the sample's symbol, or the
    file's name without its suffix."""
    symbol = SAMPLES[name].symbol if name in SAMPLES else file_symbol(path)
    choose(asked, [symbol], f"{name} (one instrument, named {symbol!r})")
    raw = read_table(path).reset_index(drop=True) if raw is None else raw
    return [(symbol, _from_raw(raw, _named(name, symbol), timing, sqlite))]


def _symbol_values(raw: pd.DataFrame, column: Any, name: str) -> list[str]:
    """The distinct symbols of a long file's symbol ``column`` in file order; DataError
    when a row has none (it would belong to no asset)."""
    empty = raw[column].isna().to_numpy()
    if empty.any():
        row = int(raw.index[int(np.argmax(empty))]) + 1
        raise DataError(f"{name}: column {column!r} is empty on {int(empty.sum())} row(s), first at data row {row}; "
                        "give every row its symbol")
    return [str(s) for s in pd.unique(raw[column].astype(str))]


def _symbols_in(raw: pd.DataFrame, name: str) -> list[str]:
    """The symbols of a file's records in file order: a long file's symbol column, or a
    wide file's column prefixes ([] for one instrument)."""
    symbol_col = next((c for c in raw.columns if canonical(c) == "symbol"), None)
    if symbol_col is not None:
        return _symbol_values(raw, symbol_col, name)
    if any(canonical(c) == "close" for c in raw.columns):
        return []
    prefixes: list[str] = []
    for c in raw.columns:
        if ":" in str(c) and _is_field(str(c).split(":", 1)[1]) and str(c).split(":", 1)[0] not in prefixes:
            prefixes.append(str(c).split(":", 1)[0])
    return prefixes


def _select_symbol(raw: pd.DataFrame, symbol: str | None, name: str) -> pd.DataFrame:
    """Rows of ``symbol`` (long layout) or its columns (wide ``SYM:field`` layout)."""
    symbol_col = next((c for c in raw.columns if canonical(c) == "symbol"), None)
    wide = [c for c in raw.columns if ":" in str(c) and _is_field(str(c).split(":", 1)[1])]
    prefixes = sorted({str(c).split(":", 1)[0] for c in wide})
    if symbol_col is not None:
        found = _symbol_values(raw, symbol_col, name)
        if symbol is None:
            if len(found) > 1:
                raise DataError(f"{name}: column {symbol_col!r} holds several symbols ({', '.join(found[:20])}); "
                                "pick one with symbol=... (--symbol), or several with symbols=... (--symbols)")
            return raw.drop(columns=symbol_col)
        if symbol not in found:
            raise DataError(f"{name}: no symbol {symbol!r} in column {symbol_col!r}; symbols here: "
                            f"{', '.join(found[:20])}")
        return raw[raw[symbol_col].astype(str) == symbol].drop(columns=symbol_col)
    if prefixes and not any(canonical(c) == "close" for c in raw.columns):
        if symbol is None or symbol not in prefixes:
            what = "holds several symbols" if symbol is None else f"has no symbol {symbol!r}"
            raise DataError(f"{name}: the file {what} (column prefixes {', '.join(prefixes)}); pick one with "
                            "symbol=... (--symbol), or several with symbols=... (--symbols)")
        keep = [c for c in raw.columns if c not in wide]
        mine = [c for c in wide if str(c).startswith(f"{symbol}:")]
        out = raw[keep + mine].rename(columns={c: str(c).split(":", 1)[1] for c in mine})
        # Rows where the symbol has no cell at all are bars it lacks (before its listing,
        # after its delisting, or missing), not bars with bad values.
        listed = out[[c for c in out.columns if c not in keep]].notna().any(axis=1).to_numpy()
        return out[listed]
    if symbol is not None:
        raise DataError(f"{name}: the file has no symbol column or SYM:field columns; leave out "
                        f"symbol={symbol!r} (--symbol)")
    return raw


def _is_field(name: str) -> bool:
    return any(canonical(name) in ALIASES[f] for f in FIELDS)


def _normalize(raw: pd.DataFrame, name: str, timing: Timing) -> pd.DataFrame:
    """Canonical columns, float64 values, UTC index (not yet sorted or validated)."""
    mapping = resolve(list(raw.columns))
    frame = raw.rename(columns=mapping)
    if "timestamp" not in frame.columns:
        found = ", ".join(map(str, raw.columns))
        seps = [repr(d) if d != "\t" else "tab" for d in OTHER_DELIMITERS if any(d in str(c) for c in raw.columns)]
        if seps:
            raise DataError(f"{name}: no timestamp column (columns found: {found}); the header seems to use "
                            f"{' and '.join(seps)} as well as ',' as delimiter: use one (bt reads ',', or ';', tab "
                            "or '|' when the header has no comma)")
        raise DataError(f"{name}: no timestamp column (columns found: {found}); name it timestamp, time or date")
    index = to_utc_index(frame["timestamp"], where=f"{name}: column {_orig(mapping, 'timestamp')!r}", tz=timing.tz,
                         date_format=timing.date_format)
    out = {}
    for col in frame.columns:
        if col == "timestamp" or col.endswith("_src"):
            continue
        values = frame[col]
        if col in FIELDS:
            numeric = pd.to_numeric(values, errors="coerce")
            unreadable = numeric.isna() & values.notna()
            if unreadable.any():
                row = int(np.flatnonzero(unreadable.to_numpy())[0])
                fix = "fix that row in the source"
                if re.fullmatch(r"[-+]?\d+,\d+", str(values.iloc[row]).strip()):
                    fix = "it looks like a decimal comma: bt reads '.' as the decimal point, so export with '.'"
                raise DataError(f"{name}: column {_orig(mapping, col)!r}: cannot read {values.iloc[row]!r} as a "
                                f"number at {index[row]}; {fix}")
            out[col] = numeric.to_numpy(dtype="float64")
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out[col] = values.to_numpy(dtype="float64")
    columns = [c for c in FIELDS if c in out] + [c for c in out if c not in FIELDS]
    return pd.DataFrame({c: out[c] for c in columns}, index=index)


def _timestamp_column(raw: pd.DataFrame):
    return next(k for k, v in resolve(list(raw.columns)).items() if v == "timestamp")


def _order_note(index: pd.DatetimeIndex, rows: np.ndarray | None) -> dict | None:
    """How the file's rows break its time order, for data.check's warning: None when
    they are oldest-first or newest-first throughout (ties aside). Else ``count``: rows
    earlier (newest-first file: later) than the row above them, ``newest_first``, and
    ``row``/``timestamp``/``previous``: the first such row, its UTC time and the one
    above it."""
    diffs = np.diff(index.asi8)
    newest_first = bool((diffs < 0).sum() > (diffs > 0).sum())
    bad = diffs > 0 if newest_first else diffs < 0
    if not bad.any():
        return None
    at = int(np.flatnonzero(bad)[0]) + 1
    return {"count": int(bad.sum()), "newest_first": newest_first, "row": None if rows is None else int(rows[at]),
            "timestamp": str(index[at]), "previous": str(index[at - 1])}


def _offset_mix(stamps: pd.Series, rows: np.ndarray | None) -> str | None:
    """``'+00:00 on 299 row(s), +05:00 on 1 row(s) from data row 151'`` when the file's
    timestamps are written with several UTC offsets, else None."""
    offsets = utc_offsets(stamps)
    if offsets is None:
        return None
    written = pd.Series(offsets).dropna()
    counts = written.value_counts()
    if len(counts) < 2:
        return None
    parts = [f"{counts.index[0]} on {counts.iloc[0]} row(s)"]
    for offset, n in counts.iloc[1:SHOW].items():
        first = int(written.index[written.to_numpy() == offset][0])
        parts.append(f"{offset} on {n} row(s)" + (f" from data row {rows[first]}" if rows is not None else ""))
    return ", ".join(parts) + (f" and {len(counts) - SHOW} more" if len(counts) > SHOW else "")


def _duplicate_rows(index: pd.DatetimeIndex, rows: np.ndarray) -> dict[str, list[int]]:
    """``{timestamp: its data rows}`` for the first SHOW timestamps that repeat."""
    dup = index.duplicated(keep=False)
    stamps, where = index[dup], rows[dup]
    return {str(t): sorted(int(r) for r in where[stamps == t]) for t in stamps.unique()[:SHOW]}


def _orig(mapping: dict, field: str) -> str:
    return next((str(k) for k, v in mapping.items() if v == field), field)


def _slice(frame: pd.DataFrame, start: Any, end: Any, name: str) -> pd.DataFrame:
    """Bars with start <= timestamp <= end. Strings slice like pandas partial dates
    (``end="2018-01-03"`` includes that whole day); naive values are UTC."""
    if start is None and end is None:
        return frame
    out = frame.loc[_bound(start, name, "start"):_bound(end, name, "end")]
    if len(out) == 0 and len(frame):
        raise DataError(f"{name}: no bars from {start or 'the first bar'} to {end or 'the last bar'}; the data "
                        f"covers {frame.index[0]} to {frame.index[-1]}")
    return out


def _bound(value: Any, name: str, what: str) -> str | pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"{name}: cannot read {what}={value!r} (--{what}) as a time; use ISO 8601 like "
                        "2019-01-31 or 2019-01-31T14:00Z") from None
    if isinstance(value, str) and ts.tz is None:
        return value  # partial-date string semantics, in the index's zone (UTC)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
