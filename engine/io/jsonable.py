"""JSON-ready values from numpy and pandas results: numpy scalars as Python numbers,
non-finite floats as null (JSON has no NaN), dict keys as strings. Imports nothing
heavy, so the CLI can use it on any path."""

from __future__ import annotations

import math
from typing import Any


def plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds; anything else as it is."""
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def json_safe(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists and tuples walked) that ``json.dumps`` writes
    as strict JSON: numpy scalars plain, NaN and infinities None, keys strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    value = plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
