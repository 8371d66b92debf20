"""bt data: loading, validation, embedded real samples, synthetic data, feature sets."""

from data.errors import DataError, DataWarning
from data.fingerprint import fingerprint
from data.load import load
from data.samples import samples
from data.validate import check

__all__ = ["DataError", "DataWarning", "check", "fingerprint", "load", "samples"]
