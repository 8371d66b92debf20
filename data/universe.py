"""Universes: several instruments as one frame of bars.

A universe's bars have two column levels, ``field`` (open, high, low, close, volume,
then any extra numeric column) and ``asset`` (the symbol), on the union of the assets'
timestamps. An asset has NaN in every field on a bar it lacks (before its listing,
after its delisting, or a bar missing from its source); the engine skips such bars for
that asset (README rule 8). ``attrs["symbols"]`` lists the assets in order and
``attrs["listing"]`` each one's first and last bar.
"""

from __future__ import annotations

import glob as globbing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mlbt.data.columns import FIELDS
from mlbt.data.errors import DataError
from mlbt.data.readers import SUFFIXES, suffix

ALL = "all"
LEVELS = ("field", "asset")


def parse_symbols(symbols: str | Sequence[str]) -> list[str] | None:
    """The symbols asked for: ``"BTC,ETH"`` or ``["BTC", "ETH"]`` as a list, ``"all"`` as
    None (every symbol of the source). DataError for an empty or repeated symbol."""
    if isinstance(symbols, str):
        if symbols.strip().lower() == ALL:
            return None
        names = [s.strip() for s in symbols.split(",")]
    else:
        names = [str(s).strip() for s in symbols]
    if not names or any(not s for s in names):
        raise DataError(f"symbols={symbols!r}: give symbols separated by commas, e.g. BTC,ETH,LTC, or 'all'")
    repeated = sorted({s for s in names if names.count(s) > 1})
    if repeated:
        raise DataError(f"symbols={symbols!r}: {repeated[0]!r} is given twice; give each symbol once")
    return names


def choose(asked: list[str] | None, found: Sequence[str], where: str) -> list[str]:
    """The symbols to load: every one ``found`` in the source (``asked`` None), or those
    asked for, each of which must be there (DataError naming the first missing one and
    what the source holds)."""
    if asked is None:
        if not found:
            raise DataError(f"{where}: holds no symbols")
        return list(found)
    missing = [s for s in asked if s not in found]
    if missing:
        shown = ", ".join(map(str, list(found)[:20])) + (" ..." if len(found) > 20 else "")
        raise DataError(f"{where}: no symbol {missing[0]!r}; symbols here: {shown or 'none'}")
    return asked


def file_symbol(path: Path) -> str:
    """The symbol a file of a directory holds: its name without its type suffix
    (``BTC.csv.gz`` -> ``BTC``)."""
    name = path.name
    return name[: -len(suffix(path))] if name.lower().endswith(suffix(path)) else path.stem


def is_collection(source: object) -> bool:
    """Whether ``source`` names a directory or a glob pattern of files, one per symbol."""
    if not isinstance(source, str | Path):
        return False
    text = str(source)
    return Path(text).expanduser().is_dir() or any(ch in text for ch in "*?[")


def collection_files(source: str | Path) -> list[Path]:
    """The data files of a directory (sorted by name) or of a glob pattern; DataError
    when there are none, or when two files hold the same symbol."""
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and suffix(p) in SUFFIXES)
    else:
        files = sorted(Path(p) for p in globbing.glob(str(Path(text).expanduser())) if Path(p).is_file())
    if not files:
        raise DataError(f"{source}: no data files ({', '.join(SUFFIXES)}) there; a universe directory holds one "
                        "file per symbol, named by the symbol (BTC.csv, ETH.csv, ...)")
    seen: dict[str, Path] = {}
    for f in files:
        symbol = file_symbol(f)
        if symbol in seen:
            raise DataError(f"{source}: {seen[symbol].name} and {f.name} both hold symbol {symbol!r}; keep one")
        seen[symbol] = f
    return files


def combine(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One universe frame from single-asset bars by symbol: (field, asset) columns on
    the union of their timestamps, NaN where an asset has no bar."""
    if not frames:
        raise DataError("a universe needs at least one symbol")
    # (an asset's repeated timestamps are a validation error; where validation only
    # reports, as in bt data show, the last row of each stands in the universe)
    frames = {s: fr[~fr.index.duplicated(keep="last")] if fr.index.has_duplicates else fr for s, fr in frames.items()}
    index = frames[next(iter(frames))].index
    for frame in list(frames.values())[1:]:
        index = index.union(frame.index)
    index = index.rename("timestamp")
    extra: list[str] = []
    for frame in frames.values():
        extra += [c for c in frame.columns if c not in FIELDS and c not in extra]
    fields = [f for f in FIELDS if any(f in fr.columns for fr in frames.values())] + extra
    blocks = {f: pd.DataFrame({s: (fr[f].reindex(index) if f in fr.columns else float("nan"))
                               for s, fr in frames.items()}, index=index) for f in fields}
    bars = pd.concat(blocks, axis=1)
    bars.columns = bars.columns.set_names(list(LEVELS))
    listing = {s: [str(fr.index[0]), str(fr.index[-1])] if len(fr) else [None, None] for s, fr in frames.items()}
    bars.attrs.update(symbols=list(frames), listing=listing)
    return bars


#: attrs that describe a universe as a whole, not one of its assets
UNIVERSE_ATTRS = ("symbols", "listing")


def is_universe(bars: pd.DataFrame) -> bool:
    """Whether ``bars`` has (field, asset) columns."""
    return isinstance(bars.columns, pd.MultiIndex) and bars.columns.nlevels == 2 and "close" in bars.columns


def assets(bars: pd.DataFrame) -> list:
    """The asset labels of universe ``bars`` in column order ([] for one instrument's bars)."""
    return list(bars["close"].columns) if is_universe(bars) else []


def asset_bars(bars: pd.DataFrame, asset: Any, *, listed: bool = True) -> pd.DataFrame:
    """One asset's bars out of a universe: its fields as plain columns; with ``listed``
    only the bars it has (no NaN-only rows). Its attrs are the universe's but for the
    universe's own (``symbols``, ``listing``), with ``symbol`` the asset."""
    plain = bars.copy(deep=False)  # without the universe's attrs: pandas deep-copies attrs on every operation
    plain.attrs = {}
    frame = plain.xs(asset, axis=1, level="asset")
    frame.columns.name = None
    if listed:
        frame = frame[frame[[c for c in ("open", "high", "low", "close") if c in frame.columns]].notna().any(axis=1)]
    frame.attrs = {k: v for k, v in bars.attrs.items() if k not in UNIVERSE_ATTRS} | {"symbol": asset}
    return frame


def symbol_list(names: Iterable[str]) -> str:
    """``BTC, ETH and LTC``: symbols for a message."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
