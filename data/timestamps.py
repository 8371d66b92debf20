"""Parse a timestamp column into a UTC DatetimeIndex.

Accepted: ISO 8601 strings (with or without an offset), plain dates, a few common
exchange-export formats (``2019-10-17 09-AM``, ``1/4/1999``), unix epoch numbers in
seconds, milliseconds, microseconds or nanoseconds (told apart by magnitude), and
values that already are datetimes. Timestamps with an offset or zone are converted
to UTC; naive ones are taken to be in ``tz`` (UTC unless told otherwise).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from mlbt.data.errors import DataError

FORMATS = ("ISO8601", "%Y-%m-%d %I-%p", "%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%d.%m.%Y",
           "%Y%m%d")
"""String formats tried in order; the first that parses every value wins."""

EPOCH_UNITS = ((1e17, "ns"), (1e14, "us"), (1e11, "ms"), (0.0, "s"))
"""Magnitude thresholds for epoch numbers: 1.6e9 is seconds (2020), 1.6e12 milliseconds."""


def _epoch_unit(values: np.ndarray) -> str:
    top = float(np.nanmax(np.abs(values))) if values.size else 0.0
    return next(unit for bound, unit in EPOCH_UNITS if top >= bound)


def to_utc_index(values: pd.Series, *, where: str, tz: str | None = None) -> pd.DatetimeIndex:
    """Timestamps of ``values`` as a tz-aware UTC DatetimeIndex (nanosecond unit).

    ``where`` names the file and column for error messages. Raises DataError on the
    first value that cannot be read, or on a mix of formats.
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
        if text.str.fullmatch(r"-?\d+(\.\d+)?").all():  # epoch numbers stored as text
            return to_utc_index(pd.Series(text.astype("float64")), where=where, tz=tz)
        parsed = None
        for fmt in FORMATS:
            try:
                parsed = pd.DatetimeIndex(pd.to_datetime(text, format=fmt, utc=False))
                break
            except (ValueError, TypeError):
                continue
        if parsed is None:
            try:  # mixed zones/offsets: let pandas convert each value to UTC
                parsed = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", utc=True))
            except (ValueError, TypeError):
                bad = _first_unparseable(text)
                raise DataError(
                    f"{where}: cannot read timestamp {bad!r}; use ISO 8601 (2020-01-31T14:00:00Z), a date, "
                    "or unix seconds/milliseconds"
                ) from None
    if parsed.tz is None:
        parsed = parsed.tz_localize(tz or "UTC", ambiguous="raise", nonexistent="raise")
    return parsed.tz_convert("UTC").as_unit("ns").rename("timestamp")


def _first_unparseable(text: pd.Series) -> str:
    for value in text:
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError):
            return value
    return str(text.iloc[0])


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
