"""The seed systems' networks; each class's docstring is its architecture table."""

from mlbt.models.networks.attention import ENSEMBLE_MEMBERS, AttentionEnsemble, AttentionNet
from mlbt.models.networks.crypto import CryptoRegressor
from mlbt.models.networks.etf50 import ETF50Classifier
from mlbt.models.networks.layers import AdditiveAttention, TimeBatchNorm
from mlbt.models.networks.price import PriceRegressor
from mlbt.models.networks.sltp import BUY, NO_TRADE, SELL, SLTPNet, SLTPOutput

__all__ = [
    "BUY",
    "ENSEMBLE_MEMBERS",
    "NO_TRADE",
    "SELL",
    "AdditiveAttention",
    "AttentionEnsemble",
    "AttentionNet",
    "CryptoRegressor",
    "ETF50Classifier",
    "PriceRegressor",
    "SLTPNet",
    "SLTPOutput",
    "TimeBatchNorm",
]
