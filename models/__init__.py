"""bt models: torch networks, sliding windows, scalers, training, batched inference and ML metrics.

``models`` never imports ``engine`` or ``data``: it sees tensors and arrays only.
"""

from mlbt.models.cache import CVCache, PredictionCache, cache_key, cached, default_cache_dir
from mlbt.models.config import NETWORKS, SYSTEM_TRAINING, ModelConfig, TrainConfig, build_model
from mlbt.models.cv import CVFold, CVResult, PurgedKFold, cross_validate, default_embargo, lower_is_better
from mlbt.models.inference import predict
from mlbt.models.networks import (
    BUY,
    NO_TRADE,
    SELL,
    AttentionEnsemble,
    AttentionNet,
    CryptoRegressor,
    ETF50Classifier,
    PriceRegressor,
    SLTPNet,
    SLTPOutput,
)
from mlbt.models.profiles import PROFILES, resolve_device, resolve_profile
from mlbt.models.scalers import MinMaxScaler, RobustScaler, Scaler, StandardScaler, make_scaler, scaler_from_state
from mlbt.models.training import FitResult, fit
from mlbt.models.walkforward import Fold, WalkForward, WalkForwardResult, model_from_state, walk_forward
from mlbt.models.windows import sliding_windows, valid_windows, window_end_bars

__all__ = [
    "BUY",
    "NETWORKS",
    "NO_TRADE",
    "PROFILES",
    "SELL",
    "SYSTEM_TRAINING",
    "AttentionEnsemble",
    "AttentionNet",
    "CVCache",
    "CVFold",
    "CVResult",
    "CryptoRegressor",
    "ETF50Classifier",
    "FitResult",
    "Fold",
    "MinMaxScaler",
    "ModelConfig",
    "PredictionCache",
    "PriceRegressor",
    "PurgedKFold",
    "RobustScaler",
    "SLTPNet",
    "SLTPOutput",
    "Scaler",
    "StandardScaler",
    "TrainConfig",
    "WalkForward",
    "WalkForwardResult",
    "build_model",
    "cache_key",
    "cached",
    "cross_validate",
    "default_cache_dir",
    "default_embargo",
    "fit",
    "lower_is_better",
    "make_scaler",
    "model_from_state",
    "predict",
    "resolve_device",
    "resolve_profile",
    "scaler_from_state",
    "sliding_windows",
    "valid_windows",
    "walk_forward",
    "window_end_bars",
]
