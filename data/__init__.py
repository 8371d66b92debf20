"""bt data: loading, validation, embedded real samples, synthetic data, feature sets."""

from data.errors import DataError, DataWarning
from data.features import FEATURE_SETS, MODEL_COLUMNS, FeatureSet, features
from data.fingerprint import fingerprint
from data.load import load
from data.samples import samples
from data.validate import check

__all__ = ["FEATURE_SETS", "MODEL_COLUMNS", "DataError", "DataWarning", "FeatureSet", "check", "features",
           "fingerprint", "load", "samples"]
