"""``data.load``: turn a source (embedded sample, file, ``synthetic:`` spec) into Bars.

Bars: a DataFrame with a sorted, unique, tz-aware UTC DatetimeIndex named
``timestamp`` and float64 columns open, high, low, close, volume (numeric extra
columns such as ``ivx`` are kept as float64). One row per bar, labelled by the bar's
open time; a decision "at bar t" may use everything in row t. ``attrs`` records the
source: ``source``, ``symbol``, ``synthetic``, ``timeframe`` (and ``filled_bars`` /
``dropped_duplicates`` when repairs were asked for).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from data.columns import ALIASES, FIELDS, canonical, resolve
from data.errors import DataError
from data.readers import OTHER_DELIMITERS, SQLITE_SUFFIXES, read_table, suffix
from data.repair import REPAIRS, drop_duplicates, fill_gaps
from data.resample import resample
from data.samples import SAMPLES, samples
from data.synthetic import is_synthetic, synthetic
from data.timestamps import to_utc_index
from data.validate import check


def load(
    source: str | Path,
    *,
    symbol: str | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    timeframe: str | None = None,
    repair: Iterable[str] = (),
    min_bars: int | None = None,
    tz: str | None = None,
    warn: bool = True,
    validate: bool = True,
) -> pd.DataFrame:
    """Load, normalize and validate bars.

    source: an embedded sample name (``data.samples()``), a path to a .csv, .csv.gz,
        .parquet, .feather or .sqlite/.db file, or a ``synthetic:`` spec. A CSV is
        comma-separated, or ``;``-, tab- or ``|``-separated when its header line
        has no comma (see data.readers); decimals are written with ``.``.
    symbol: for a SQLite ``candles`` table or a CSV with a ``symbol`` column, the
        rows of that symbol; for a wide CSV (``BTC:open, ..., ETH:open, ...``), that
        symbol's columns.
    start, end: inclusive bounds on the bar timestamps (naive values are UTC).
    timeframe: aggregate to coarser bars (``4h``, ``1D``; see data.resample).
    repair: explicit repairs, any of ``"duplicates"`` (keep the last row per
        timestamp) and ``"gaps"`` (insert flat zero-volume bars). Nothing is
        repaired unless asked.
    min_bars: the fewest bars the caller needs; fewer raise DataError.
    tz: the zone of naive timestamps in the file (default UTC).
    warn: emit DataWarning for zero-volume bars and gaps.
    validate: False skips raising on invalid bars (for inspection: ``data.check``
        then reports every problem, as ``bt data show`` does).

    Raises DataError (one line: what, where, how to fix) on unreadable or invalid data.
    """
    repair = tuple(repair)
    unknown = [r for r in repair if r not in REPAIRS]
    if unknown:
        raise DataError(f"repair={unknown!r}: unknown repair; choose from {', '.join(REPAIRS)}")
    name, frame, is_synth = _read(source, symbol=symbol, tz=tz)
    frame = frame.sort_index(kind="stable")
    if "duplicates" in repair:
        before = len(frame)
        frame = drop_duplicates(frame)
        frame.attrs["dropped_duplicates"] = before - len(frame)
    frame = _slice(frame, start, end, name)
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
        report.emit_warnings(stacklevel=3)
    frame.attrs.update(source=name, symbol=symbol, synthetic=is_synth, timeframe=timeframe)
    return frame


def _read(source: str | Path, *, symbol: str | None, tz: str | None) -> tuple[str, pd.DataFrame, bool]:
    """(display name, frame indexed by UTC timestamps with normalized columns, synthetic?)."""
    if is_synthetic(source):
        if symbol is not None:
            raise DataError(f"{source}: synthetic data has no symbols; leave out symbol={symbol!r} "
                            "(--symbol)")
        return str(source), synthetic(str(source)), True
    if isinstance(source, str) and source in SAMPLES:
        path, name = SAMPLES[source].path, source
        if symbol is not None:
            raise DataError(f"{source}: an embedded sample holds one instrument; leave out "
                            f"symbol={symbol!r} (--symbol)")
    else:
        path, name = Path(source).expanduser(), str(source)
        if not path.exists():
            raise DataError(
                f"{source}: no such file, and not an embedded sample ({', '.join(samples())}) or a "
                "synthetic: spec (e.g. synthetic:gbm?bars=100000&seed=7&freq=1min)"
            )
    raw = read_table(path, symbol=symbol)
    if suffix(path) not in SQLITE_SUFFIXES:
        raw = _select_symbol(raw, symbol, name)
    return name, _normalize(raw, name, tz), False


def _select_symbol(raw: pd.DataFrame, symbol: str | None, name: str) -> pd.DataFrame:
    """Rows of ``symbol`` (long layout) or its columns (wide ``SYM:field`` layout)."""
    symbol_col = next((c for c in raw.columns if canonical(c) == "symbol"), None)
    wide = [c for c in raw.columns if ":" in str(c) and _is_field(str(c).split(":", 1)[1])]
    prefixes = sorted({str(c).split(":", 1)[0] for c in wide})
    if symbol_col is not None:
        found = pd.unique(raw[symbol_col].astype(str))
        if symbol is None:
            if len(found) > 1:
                raise DataError(f"{name}: column {symbol_col!r} holds several symbols ({', '.join(found[:20])}); "
                                "pick one with symbol=... (--symbol)")
            return raw.drop(columns=symbol_col)
        if symbol not in found:
            raise DataError(f"{name}: no symbol {symbol!r} in column {symbol_col!r}; symbols here: "
                            f"{', '.join(found[:20])}")
        return raw[raw[symbol_col].astype(str) == symbol].drop(columns=symbol_col)
    if prefixes and not any(canonical(c) == "close" for c in raw.columns):
        if symbol is None or symbol not in prefixes:
            what = "holds several symbols" if symbol is None else f"has no symbol {symbol!r}"
            raise DataError(f"{name}: the file {what} (column prefixes {', '.join(prefixes)}); pick one with "
                            "symbol=... (--symbol)")
        keep = [c for c in raw.columns if c not in wide]
        mine = [c for c in wide if str(c).startswith(f"{symbol}:")]
        out = raw[keep + mine].rename(columns={c: str(c).split(":", 1)[1] for c in mine})
        listed = out[[c for c in out.columns if c not in keep]].notna().any(axis=1).to_numpy()
        return out.iloc[int(np.argmax(listed)):] if listed.any() else out.iloc[:0]  # rows before listing are empty
    if symbol is not None:
        raise DataError(f"{name}: the file has no symbol column or SYM:field columns; leave out "
                        f"symbol={symbol!r} (--symbol)")
    return raw


def _is_field(name: str) -> bool:
    return any(canonical(name) in ALIASES[f] for f in FIELDS)


def _normalize(raw: pd.DataFrame, name: str, tz: str | None) -> pd.DataFrame:
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
    index = to_utc_index(frame["timestamp"], where=f"{name}: column {_orig(mapping, 'timestamp')!r}", tz=tz)
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


def _orig(mapping: dict, field: str) -> str:
    return next((str(k) for k, v in mapping.items() if v == field), field)


def _slice(frame: pd.DataFrame, start, end, name: str) -> pd.DataFrame:
    """Bars with start <= timestamp <= end. Strings slice like pandas partial dates
    (``end="2018-01-03"`` includes that whole day); naive values are UTC."""
    if start is None and end is None:
        return frame
    out = frame.loc[_bound(start, name, "start"):_bound(end, name, "end")]
    if len(out) == 0 and len(frame):
        raise DataError(f"{name}: no bars from {start or 'the first bar'} to {end or 'the last bar'}; the data "
                        f"covers {frame.index[0]} to {frame.index[-1]}")
    return out


def _bound(value, name: str, what: str) -> str | pd.Timestamp | None:
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
