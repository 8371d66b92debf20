"""Seeded synthetic bars for scale tests: ``synthetic:KIND?key=value&...``.

Always labelled: the frame's ``attrs["synthetic"]`` is True and its source string
starts with ``synthetic:``, and every report shows it. Never mistake these for
market data; they exist to time and stress the machinery.

Kinds:
- ``gbm``: geometric Brownian motion closes. Keys: ``bars`` (default 10,000),
  ``seed`` (0), ``freq`` (pandas offset, ``1h``), ``start`` (``2020-01-01``),
  ``price`` (first open, 100), ``mu`` and ``sigma`` (annualized drift and volatility,
  0.0 and 0.6; a year is 365 days of bars at ``freq``), ``volume`` (mean volume per
  bar, 1,000), ``assets`` (how many instruments, 1; more make a universe of seeded,
  distinct series named A1, A2, ... (zero-padded to the same width), the first of
  them the one-asset series of the same spec).

Bars are internally consistent: open is the previous close (a gap-free market),
high/low extend beyond max/min(open, close) by a half-normal wick, volume is
lognormal.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd

from mlbt.data.errors import DataError

PREFIX = "synthetic:"
KINDS = ("gbm",)
DEFAULTS = {"bars": "10000", "seed": "0", "freq": "1h", "start": "2020-01-01", "price": "100", "mu": "0.0",
            "sigma": "0.6", "volume": "1000", "assets": "1"}


def is_synthetic(source: object) -> bool:
    return isinstance(source, str) and source.startswith(PREFIX)


def parse_spec(source: str) -> tuple[str, dict[str, str]]:
    """``'synthetic:gbm?bars=10&seed=7'`` -> ``('gbm', {...defaults, 'bars': '10', 'seed': '7'})``."""
    body = source[len(PREFIX):]
    kind, _, query = body.partition("?")
    if kind not in KINDS:
        raise DataError(f"{source}: unknown synthetic kind {kind!r}; use one of {', '.join(KINDS)}, "
                        "e.g. synthetic:gbm?bars=100000&seed=7&freq=1min")
    params = dict(DEFAULTS)
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key not in DEFAULTS:
            raise DataError(f"{source}: unknown key {key!r}; known keys: {', '.join(DEFAULTS)}")
        params[key] = value
    return kind, params


def asset_count(source: str) -> int:
    """How many instruments a ``synthetic:`` spec makes (its ``assets`` key)."""
    _, p = parse_spec(source)
    try:
        n = int(p["assets"])
    except ValueError:
        raise DataError(f"{source}: assets={p['assets']!r} is not a whole number; e.g. "
                        "synthetic:gbm?bars=20000&assets=100&seed=1") from None
    if n < 1:
        raise DataError(f"{source}: assets={n}: need at least 1")
    return n


def synthetic(source: str) -> pd.DataFrame:
    """Bars for a ``synthetic:`` spec (its first asset); deterministic for a given spec."""
    return _series(source, 0)


def synthetic_assets(source: str, names: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """The assets ``names`` (default: every one) of a ``synthetic:`` spec by name (A1, A2,
    ...; zero-padded), each its own seeded series: asset k > 0 draws from the seed
    sequence (seed, k). Only the assets asked for are generated."""
    every = asset_names(asset_count(source))
    position = {name: k for k, name in enumerate(every)}
    return {name: _series(source, position[name]) for name in (every if names is None else names)}


def asset_names(n: int) -> list[str]:
    """The names of a spec's ``n`` assets: A1 ... An, zero-padded to one width."""
    width = len(str(n))
    return [f"A{k + 1:0{width}d}" for k in range(n)]


def _series(source: str, k: int) -> pd.DataFrame:
    """The bars of asset ``k`` of a spec."""
    _, p = parse_spec(source)
    try:
        n, seed = int(p["bars"]), int(p["seed"])
        price, mu, sigma, volume = (float(p[k]) for k in ("price", "mu", "sigma", "volume"))
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(p["freq"]))
        start = pd.Timestamp(p["start"], tz="UTC") if pd.Timestamp(p["start"]).tz is None else \
            pd.Timestamp(p["start"]).tz_convert("UTC")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{source}: bad value ({exc}); e.g. synthetic:gbm?bars=1000&seed=7&freq=1min") from None
    if n < 1 or price <= 0 or sigma < 0 or volume <= 0 or step <= pd.Timedelta(0):
        raise DataError(f"{source}: need bars >= 1, price > 0, sigma >= 0, volume > 0 and a positive freq")
    rng = np.random.default_rng(seed if k == 0 else [seed, k])
    dt = step / pd.Timedelta(days=365)  # fraction of a year per bar
    log_ret = (mu - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * rng.standard_normal(n)
    close = price * np.exp(np.cumsum(log_ret))
    open_ = np.empty(n)
    open_[0] = price
    open_[1:] = close[:-1]
    wick = sigma * np.sqrt(dt) * 0.5
    high = np.maximum(open_, close) * (1.0 + wick * np.abs(rng.standard_normal(n)))
    low = np.minimum(open_, close) * (1.0 - np.minimum(wick * np.abs(rng.standard_normal(n)), 0.5))
    vol = volume * rng.lognormal(mean=-0.5, sigma=1.0, size=n)  # mean of lognormal(-0.5, 1) is 1
    index = pd.date_range(start, periods=n, freq=step, name="timestamp").as_unit("ns")
    bars = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": vol}, index=index)
    bars.attrs.update(synthetic=True)
    return bars
