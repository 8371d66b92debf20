"""bt data: market data loading and validation."""

from data.load import load, samples

__all__ = ["load", "samples"]
