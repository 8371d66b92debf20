"""bt data: loading, validation, embedded real samples, synthetic data, feature sets."""

from mlbt.data.errors import DataError, DataWarning
from mlbt.data.features import FEATURE_SETS, MODEL_COLUMNS, FeatureSet, features
from mlbt.data.fingerprint import fingerprint
from mlbt.data.load import load, load_assets, source_symbols
from mlbt.data.samples import samples
from mlbt.data.validate import check

__all__ = ["FEATURE_SETS", "MODEL_COLUMNS", "DataError", "DataWarning", "FeatureSet", "check", "features",
           "fingerprint", "load", "load_assets", "samples", "source_symbols"]
