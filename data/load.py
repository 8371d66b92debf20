"""Load bars from an embedded sample or a CSV file.

Bars: a DataFrame with a sorted, unique, tz-aware UTC DatetimeIndex and float64
columns open, high, low, close, volume; one row per bar, labelled by the bar's open
time.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SAMPLES_DIR = Path(__file__).parent / "samples"
SAMPLES = {"btcusd_1h": "btcusd_1h.csv.gz"}


def samples() -> list[str]:
    """Names of the embedded samples."""
    return sorted(SAMPLES)


def load(source: str, *, symbol=None, start=None, end=None, timeframe=None) -> pd.DataFrame:
    """Bars from an embedded sample name or a CSV path (timestamp + OHLCV columns),
    sliced to [start, end]."""
    if symbol is not None or timeframe is not None:
        raise ValueError("data.load: symbol= and timeframe= are not supported yet")
    path = SAMPLES_DIR / SAMPLES[source] if source in SAMPLES else Path(source)
    if not path.exists():
        raise ValueError(f"data.load: {source!r} is neither an embedded sample {samples()} nor an existing file")
    frame = pd.read_csv(path)
    frame.columns = [c.strip().lower() for c in frame.columns]
    ts = frame.pop("timestamp")
    frame.index = pd.DatetimeIndex(pd.to_datetime(ts, utc=True), name="timestamp")
    bars = frame[["open", "high", "low", "close", "volume"]].astype("float64").sort_index()
    return bars.loc[start:end]
