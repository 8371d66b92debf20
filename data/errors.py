"""The data layer's error and warning types."""

from __future__ import annotations


class DataError(ValueError):
    """Bad market data or a bad data request. The message is one line that says what is
    wrong, where (file, column, first offending timestamps) and how to fix it."""


class DataWarning(UserWarning):
    """Data that loads but deserves a look (zero-volume bars, gaps in a regular
    series); the message carries counts and the first timestamps."""
