"""Parse a timestamp column into a UTC DatetimeIndex.

Accepted: ISO 8601 strings (with or without an offset), plain dates, a few common
exchange-export formats (``2019-10-17 09-AM``, ``1/4/1999``), unix epoch numbers in
seconds, milliseconds, microseconds or nanoseconds (told apart by magnitude), and
values that already are datetimes. Timestamps with an offset or zone are converted
to UTC; naive ones are taken to be in ``tz`` (UTC unless told otherwise).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

from mlbt.data.errors import DataError

_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")  # none, 24-hour, 12-hour (11:00 AM)
MONTH_FIRST = tuple(f"%m/%d/%Y{t}" for t in _TIMES)
DAY_FIRST = tuple(f"%d/%m/%Y{t}" for t in _TIMES)
FORMATS = ("ISO8601", "%Y-%m-%d %I-%p", *MONTH_FIRST, *(f"%d.%m.%Y{t}" for t in _TIMES), "%Y%m%d")
"""String formats tried in order (a slash date is read month first, as in the US); the
first that parses every value wins."""
DATE_FORMATS = {"dayfirst": ("ISO8601", *DAY_FIRST, *(f"%d.%m.%Y{t}" for t in _TIMES)),
                "monthfirst": ("ISO8601", *MONTH_FIRST)}
"""``date_format`` names: the formats each allows (else ``date_format`` is a strptime format)."""
HOW = ("give the file's format with --date-format dayfirst, monthfirst or a strptime format such as "
       "'%d/%m/%Y %H:%M' (load(..., date_format=...))")


class Timing(NamedTuple):
    """How a file's timestamps read: the zone of naive ones (None: UTC) and the format
    of text ones (None: detected from ``FORMATS``; ``DATE_FORMATS`` names; or a
    strptime format)."""

    tz: str | None = None
    date_format: str | None = None

EPOCH_UNITS = ((1e17, "ns"), (1e14, "us"), (1e11, "ms"), (0.0, "s"))
"""Magnitude thresholds for epoch numbers: 1.6e9 is seconds (2020), 1.6e12 milliseconds."""


def _epoch_unit(values: np.ndarray) -> str:
    top = float(np.nanmax(np.abs(values))) if values.size else 0.0
    return next(unit for bound, unit in EPOCH_UNITS if top >= bound)


def to_utc_index(values: pd.Series, *, where: str, tz: str | None = None,
                 date_format: str | None = None) -> pd.DatetimeIndex:
    """Timestamps of ``values`` as a tz-aware UTC DatetimeIndex (nanosecond unit).

    ``where`` names the file and column for error messages; ``date_format`` as in
    ``Timing``. Raises DataError on the first value that cannot be read, or on a mix of
    formats.
    """
    if values.isna().any():
        first = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(f"{where}: empty timestamp at row {first + 1}; every bar needs a timestamp")
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.DatetimeIndex(values)
    elif pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype="float64")
        unit = _epoch_unit(numbers)
        parsed = pd.DatetimeIndex(pd.to_datetime(numbers.astype("int64") if unit != "s" else numbers, unit=unit))
    else:
        text = values.astype(str).str.strip()
        if date_format is None and text.str.fullmatch(r"-?\d+(\.\d+)?").all():  # epoch numbers stored as text
            return to_utc_index(pd.Series(text.astype("float64")), where=where, tz=tz)
        if date_format is not None and date_format not in DATE_FORMATS and "%" not in date_format:
            raise DataError(f"date_format {date_format!r}: give dayfirst, monthfirst or a strptime format such as "
                            "'%d/%m/%Y %H:%M'")
        parsed = None
        formats = DATE_FORMATS.get(date_format, (date_format,)) if date_format else FORMATS
        for fmt in formats:
            try:
                parsed = pd.DatetimeIndex(pd.to_datetime(text, format=fmt, utc=False))
                break
            except (ValueError, TypeError):
                continue
        if parsed is None and date_format is not None and "%" in date_format:
            bad = _first_unparseable(text, formats)
            raise DataError(f"{where}: timestamp {bad!r} is not in --date-format {date_format!r}; give the format "
                            "the file uses (strptime codes: %d day, %m month, %Y year, %H hour, %I hour of 12, "
                            "%p AM/PM, %M minutes)")
        if parsed is None:
            try:  # mixed zones/offsets: let pandas convert each value to UTC
                parsed = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", utc=True))
            except (ValueError, TypeError):
                bad = _first_unparseable(text, formats)
                if date_format is None and any(_reads(text, fmt).all() for fmt in DAY_FIRST):
                    raise DataError(f"{where}: timestamp {bad!r} is not a month-first date, and every timestamp "
                                    "reads day first (01/07/2017 as 1 July): give --date-format dayfirst "
                                    "(load(..., date_format='dayfirst'))") from None
                if bad is None:  # each value reads, but not all in one format
                    own = next(f for f in formats if _reads(text.iloc[:1], f).all())
                    other = str(text.iloc[int(np.argmin(_reads(text, own)))])
                    raise DataError(f"{where}: timestamps mix formats ({text.iloc[0]!r} and {other!r}); write them "
                                    "in one format") from None
                raise DataError(
                    f"{where}: cannot read timestamp {bad!r}; use ISO 8601 (2020-01-31T14:00:00Z), a date, "
                    f"or unix seconds/milliseconds, or {HOW}"
                ) from None
    if parsed.tz is None:
        parsed = parsed.tz_localize(tz or "UTC", ambiguous="raise", nonexistent="raise")
    return parsed.tz_convert("UTC").as_unit("ns").rename("timestamp")


def _first_unparseable(text: pd.Series, formats: tuple[str, ...]) -> str | None:
    """The first value of ``text`` that none of ``formats`` reads; None when each value
    reads in one of them (all of them in one: the caller's own test)."""
    read = np.zeros(len(text), dtype=bool)
    for fmt in formats:
        read |= _reads(text, fmt)
    return None if read.all() else str(text.iloc[int(np.argmin(read))])


def _reads(text: pd.Series, fmt: str) -> np.ndarray:
    """Whether ``fmt`` reads each value of ``text``."""
    return pd.to_datetime(text, format=fmt, errors="coerce").notna().to_numpy()


_OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2}|[+-]\d{4}|[+-]\d{2})$", re.IGNORECASE)


def utc_offsets(values: pd.Series) -> np.ndarray | None:
    """The UTC offset written at the end of each text timestamp that has a time of day,
    as ``+05:00`` (``Z``, ``+0000`` and ``+00`` read ``+00:00``), or None where none is
    written; None for a column that is not text. Vectorized: each distinct 6-character
    tail is parsed once (a million rows take a fraction of a second)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return None
    text = values.astype(str).str.strip()
    has_time = text.str[:-3].str.contains(":", regex=False).to_numpy(dtype=bool)  # not a date's "-01"
    codes, tails = pd.factorize(text.str[-6:])
    parsed = np.array([_offset(tail) for tail in tails] + [None], dtype=object)
    return np.asarray(np.where(has_time, parsed[codes], None))  # code -1 (a missing value) picks the trailing None


def _offset(tail: str) -> str | None:
    match = _OFFSET.search(tail)
    if match is None:
        return None
    text = match.group(1)
    if text.upper() == "Z":
        return "+00:00"
    digits = text[1:].replace(":", "")
    return f"{text[0]}{digits[:2]}:{digits[2:4] or '00'}"
