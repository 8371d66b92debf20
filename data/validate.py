"""Validation of Bars: errors that stop a load and warnings that only report.

Errors (DataError): missing columns, no bars, duplicate timestamps, NaN or infinite
values in OHLCV, non-positive prices, high below max(open, close) or low above
min(open, close), negative volume, fewer bars than the caller needs.
Warnings (DataWarning, with counts): zero-volume bars, gaps in a regular series, and
rows that were out of time order in the file (mlbt.load records them in the frame's
``attrs``; so are the file rows of duplicated timestamps, named in that error).

Gaps: the series' step is its most common spacing. In a market that trades every
day (bars on weekends, or a span too short to contain a weekend), any longer spacing
is a gap. In a session market (no weekend
bars) a daily series has a gap where more than one weekday is missing (single
holidays are expected), and an intraday series only where bars of the same UTC date
are further apart than the step (nights, weekends and holidays are not gaps).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from mlbt.data.errors import DataError, DataWarning

REQUIRED = ("open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")
SHOW = 3  # offending timestamps named in a message
TOLERANCE = 1e-9  # relative slack in the high/low consistency checks (float round-off in exports)
ROWS = "data rows count from 1 after the header"


@dataclass(frozen=True)
class Problem:
    """One finding: ``severity`` is "error" or "warning"; ``first`` holds the first
    offending timestamps (at most SHOW); ``message`` is the one line a user reads."""

    severity: str
    check: str
    column: str | None
    count: int
    first: tuple[pd.Timestamp, ...]
    message: str


@dataclass
class Report:
    """All findings for one source, errors first in check order."""

    source: str
    bars: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def raise_errors(self) -> None:
        """Raise DataError with the first error's message."""
        if self.errors:
            raise DataError(self.errors[0].message)

    def emit_warnings(self, stacklevel: int = 3) -> None:
        for p in self.warnings:
            warnings.warn(p.message, DataWarning, stacklevel=stacklevel)


def _stamps(index: pd.Index, mask: np.ndarray) -> tuple[pd.Timestamp, ...]:
    return tuple(index[np.flatnonzero(mask)[:SHOW]])


def _offsets_note(bars: pd.DataFrame) -> str:
    """``; the timestamps mix UTC offsets (...)`` when mlbt.load found rows out of order
    or duplicated in a file that mixes offsets (a wrong offset on a row moves it in time)."""
    offsets = bars.attrs.get("mixed_offsets")
    return f"; the timestamps mix UTC offsets ({offsets}), each converted to UTC" if offsets else ""


def _listing(rows: list[int], most: int = 5) -> str:
    """``[3, 4, 10]`` -> ``'3, 4 and 10'``; past ``most``: ``'1, 2, 3, 4, 5 and 7 more'``."""
    words = [str(r) for r in rows[:most]] + ([f"{len(rows) - most} more"] if len(rows) > most else [])
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _fmt(stamps: Iterable[Any]) -> str:
    return ", ".join(str(t) for t in stamps)


def check(bars: pd.DataFrame, *, source: str, min_bars: int | None = None) -> Report:
    """Validate a frame with a UTC DatetimeIndex (sorted) and OHLCV columns.

    ``source`` names the file or sample in messages. ``min_bars``: the fewest bars the
    caller's use needs (e.g. a model's lookback plus one training window).
    """
    report = Report(source=source, bars=len(bars))
    add = report.problems.append
    missing = [c for c in REQUIRED if c not in bars.columns]
    if missing:
        have = ", ".join(map(str, bars.columns)) or "none"
        add(Problem("error", "missing", missing[0], len(missing), (),
                    f"{source}: missing column(s) {', '.join(missing)} (columns found: {have}); rename them or "
                    "add them (accepted spellings include Open, CLOSE, close_price, Volume USD)"))
        return report
    if len(bars) == 0:
        add(Problem("error", "empty", None, 0, (),
                    f"{source}: no bars (check the file, or the start/end range you asked for)"))
        return report
    index = bars.index
    dup = index.duplicated(keep=False)
    if dup.any():
        stamps = index[dup].unique()
        known = bars.attrs.get("duplicate_rows") or {}
        shown = [f"{t} at data rows {_listing(known[str(t)])}" if str(t) in known else str(t) for t in stamps[:SHOW]]
        note = f" ({ROWS})" if any(str(t) in known for t in stamps[:SHOW]) else ""
        add(Problem("error", "duplicates", "timestamp", len(stamps), tuple(stamps[:SHOW]),
                    f"{source}: column 'timestamp': {len(stamps)} timestamp(s) on more than one row"
                    f"{', first' if len(stamps) > SHOW else ''}: {', '.join(shown)}{note}; remove or merge those rows "
                    "in the file, or keep the last row of each with --repair duplicates "
                    "(load(..., repair=('duplicates',)))"
                    + _offsets_note(bars)))
    values = {c: bars[c].to_numpy(dtype="float64") for c in REQUIRED}
    for c in REQUIRED:
        bad = ~np.isfinite(values[c])
        if bad.any():
            add(Problem("error", "nan", c, int(bad.sum()), _stamps(index, bad),
                        f"{source}: column {c!r}: {int(bad.sum())} NaN/empty/infinite value(s), first at "
                        f"{_fmt(_stamps(index, bad))}; fill or remove those rows in the source"))
    for c in PRICES:
        bad = values[c] <= 0
        if bad.any():
            add(Problem("error", "non_positive", c, int(bad.sum()), _stamps(index, bad),
                        f"{source}: column {c!r}: {int(bad.sum())} price(s) <= 0, first at "
                        f"{_fmt(_stamps(index, bad))}; prices must be positive: fix or remove those rows"))
    top = np.maximum(values["open"], values["close"])
    bottom = np.minimum(values["open"], values["close"])
    bad = values["high"] < top * (1 - TOLERANCE)
    if bad.any():
        add(Problem("error", "high", "high", int(bad.sum()), _stamps(index, bad),
                    f"{source}: column 'high': {int(bad.sum())} bar(s) with high below max(open, close), first at "
                    f"{_fmt(_stamps(index, bad))}; the columns may be mislabelled or the rows corrupt"))
    bad = values["low"] > bottom * (1 + TOLERANCE)
    if bad.any():
        add(Problem("error", "low", "low", int(bad.sum()), _stamps(index, bad),
                    f"{source}: column 'low': {int(bad.sum())} bar(s) with low above min(open, close), first at "
                    f"{_fmt(_stamps(index, bad))}; the columns may be mislabelled or the rows corrupt"))
    bad = values["volume"] < 0
    if bad.any():
        add(Problem("error", "negative_volume", "volume", int(bad.sum()), _stamps(index, bad),
                    f"{source}: column 'volume': {int(bad.sum())} negative volume(s), first at "
                    f"{_fmt(_stamps(index, bad))}; volume must be >= 0"))
    if min_bars is not None and len(bars) < min_bars:
        add(Problem("error", "too_short", None, len(bars), (),
                    f"{source}: {len(bars)} bars from {index[0]} to {index[-1]}, but this use needs at least "
                    f"{min_bars}; load a longer range (start/end) or more data"))
    zero = values["volume"] == 0
    if zero.any():
        add(Problem("warning", "zero_volume", "volume", int(zero.sum()), _stamps(index, zero),
                    f"{source}: {int(zero.sum())} zero-volume bar(s), first at {_fmt(_stamps(index, zero))}"))
    order = bars.attrs.get("out_of_order")
    if order:
        how = "later than the row above them in a newest-first file" if order["newest_first"] else \
            "earlier than the row above them"
        where = f"data row {order['row']} (" if order["row"] is not None else "("
        rows = f"; {ROWS}" if order["row"] is not None else ""
        mix = _offsets_note(bars)
        add(Problem("warning", "order", "timestamp", order["count"], (pd.Timestamp(order["timestamp"]),),
                    f"{source}: column 'timestamp': {order['count']} row(s) {how}, first at {where}"
                    f"{order['timestamp']}, after {order['previous']}{rows}); the bars were sorted by time: check "
                    f"those rows, or sort the file{mix}"))
    gaps = gap_mask(index)
    if gaps.any():
        step = spacing(index)
        gap_at = np.flatnonzero(gaps)
        add(Problem("warning", "gaps", "timestamp", int(gaps.sum()), tuple(index[gap_at[:SHOW]]),
                    f"{source}: {int(gaps.sum())} gap(s) in a regular {step_name(step)} series, first after "
                    f"{_fmt(index[gap_at[:SHOW]])}; fill them in the file if they matter, or insert flat "
                    "zero-volume bars with --repair gaps (load(..., repair=('gaps',)))"))
    return report


def spacing(index: pd.DatetimeIndex) -> pd.Timedelta | None:
    """The series' step: its most common spacing between consecutive bars."""
    if len(index) < 3:
        return None
    diffs = np.diff(index.asi8)
    values, counts = np.unique(diffs, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def trades_weekends(index: pd.DatetimeIndex) -> bool:
    """True for a market open every day: the series has bars on Saturdays or Sundays,
    or it is too short to span a weekend (then nothing says it is a session market)."""
    if (index.day_of_week >= 5).any() or len(index) == 0:
        return True
    first, last = index[0].normalize(), index[-1].normalize()
    return not (pd.date_range(first, last, freq="D").day_of_week >= 5).any()


def gap_mask(index: pd.DatetimeIndex) -> np.ndarray:
    """True at bar i when a gap follows it (the next bar is later than expected); see
    the module docstring for what counts as a gap in session markets."""
    step = spacing(index)
    mask = np.zeros(len(index), dtype=bool)
    if step is None or index.has_duplicates:
        return mask
    diffs = np.diff(index.asi8)
    if trades_weekends(index):
        mask[:-1] = diffs > step.value
    elif step >= pd.Timedelta(days=1):
        if step == pd.Timedelta(days=1):
            days = index.asi8 // pd.Timedelta(days=1).value
            weekdays = np.busday_count(days[:-1].astype("datetime64[D]"), days[1:].astype("datetime64[D]"))
            mask[:-1] = weekdays > 2  # more than one weekday missing between two bars
    else:
        same_day = index.normalize().asi8
        mask[:-1] = (diffs > step.value) & (same_day[:-1] == same_day[1:])
    return mask


def step_name(step: pd.Timedelta) -> str:
    """``Timedelta('1h')`` -> ``'1h'``, ``Timedelta('1D')`` -> ``'24h'``."""
    text = to_offset(step).freqstr
    return text if text[0].isdigit() else f"1{text}"
