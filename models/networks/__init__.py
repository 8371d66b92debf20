"""The seed systems' networks; each class's docstring is its architecture table."""

from models.networks.attention import ENSEMBLE_MEMBERS, AttentionEnsemble, AttentionNet
from models.networks.crypto import CryptoRegressor
from models.networks.etf50 import ETF50Classifier
from models.networks.layers import AdditiveAttention, TimeBatchNorm
from models.networks.price import PriceRegressor
from models.networks.sltp import BUY, NO_TRADE, SELL, SLTPNet, SLTPOutput

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
