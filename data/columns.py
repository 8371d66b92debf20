"""Column-name normalization: map the many spellings of OHLCV columns onto
``timestamp, open, high, low, close, volume``.

Names are compared after lower-casing and turning every run of non-alphanumeric
characters into one underscore, so ``Open``, ``CLOSE``, ``close_price``,
``Volume USD`` and ``Adj Close`` become ``open``, ``close``, ``close_price``,
``volume_usd`` and ``adj_close`` before the aliases below are applied.
"""

from __future__ import annotations

import re

ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "time", "date", "datetime", "date_time", "ts", "unix", "unix_timestamp",
                  "open_time", "time_period_start", "index", "unnamed_0"),
    "open": ("open", "o", "open_price", "opening_price", "price_open", "first"),
    "high": ("high", "h", "high_price", "price_high", "max"),
    "low": ("low", "l", "low_price", "price_low", "min"),
    "close": ("close", "c", "close_price", "closing_price", "price_close", "last", "last_price"),
    "volume": ("volume", "vol", "v", "base_volume", "volume_base", "quantity", "amount"),
}
"""Accepted spellings per field, in order of preference."""

QUOTE_CURRENCIES = ("usd", "usdt", "usdc", "busd", "eur", "gbp", "jpy", "krw", "quote", "from", "to")
"""Suffixes that mark a *quote*-currency volume column (``volume_usd``): used only when
no plain or base-currency volume exists."""

FIELDS = ("open", "high", "low", "close", "volume")


def canonical(name: object) -> str:
    """``'Volume USD'`` -> ``'volume_usd'``: lower case, non-alphanumerics to ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def _volume_rank(name: str) -> int | None:
    """Preference of a volume column (lower is better), None when it is not one."""
    if name in ALIASES["volume"]:
        return ALIASES["volume"].index(name)
    match = re.fullmatch(r"(?:volume|vol)_([0-9a-z]+)", name) or re.fullmatch(r"([0-9a-z]+)_(?:volume|vol)", name)
    if not match:
        return None
    return 100 if match.group(1) in QUOTE_CURRENCIES else 50  # base-currency volume before quote volume


def resolve(columns: list[object]) -> dict[object, str]:
    """Map original column names to canonical field names.

    Returns ``{original: field}`` for the timestamp and OHLCV columns found (the best
    spelling wins when several match) and ``{original: canonical(original)}`` for the
    rest, which the caller keeps as extra columns when they are numeric.
    """
    canon = {col: canonical(col) for col in columns}
    chosen: dict[str, object] = {}
    for field, spellings in ALIASES.items():
        if field == "volume":
            ranks = [(_volume_rank(c), col) for col, c in canon.items()]
            ranked = [(r, col) for r, col in ranks if r is not None]
            if ranked:
                chosen[field] = min(ranked, key=lambda rc: rc[0])[1]
            continue
        for spelling in spellings:
            hits = [col for col, c in canon.items() if c == spelling]
            if hits:
                chosen[field] = hits[0]
                break
    by_column = {col: field for field, col in chosen.items()}
    mapping: dict[object, str] = {}
    for col in columns:
        if col in by_column:
            mapping[col] = by_column[col]
        elif canon[col] in by_column.values() or canon[col] in ALIASES:
            mapping[col] = f"{canon[col]}_src"  # a second spelling of a field we already have
        else:
            mapping[col] = canon[col]
    return mapping
