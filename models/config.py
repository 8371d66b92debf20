"""Model and training configuration: what a walk-forward driver hands ``fit``.

A ``ModelConfig`` names a network, its profile and any size overrides; a
``TrainConfig`` holds the optimizer, loss and stopping rules. ``SYSTEM_TRAINING`` has
each seed system's own training settings (docs/reference-systems.md); where the seed was silent
the choice is marked. Both configs turn into plain dicts (``to_dict``) for cache keys
and checkpoints, and back (``from_dict``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import torch
from torch import nn

from mlbt.models.networks import (
    AttentionEnsemble,
    AttentionNet,
    CryptoRegressor,
    ETF50Classifier,
    PriceRegressor,
    SLTPNet,
)
from mlbt.models.profiles import profile_options, resolve_profile

NETWORKS: dict[str, type[nn.Module]] = {
    "etf50": ETF50Classifier,
    "price": PriceRegressor,
    "crypto": CryptoRegressor,
    "attention": AttentionNet,
    "attention_ensemble": AttentionEnsemble,
    "sltp": SLTPNet,
}

LOSSES = ("mse", "bce", "huber", "sltp")


@dataclass(frozen=True)
class TrainConfig:
    """How ``fit`` trains.

    loss: "mse", "bce" (the net outputs probabilities), "huber" (``huber_delta``) or
        "sltp" (class-weighted cross-entropy + ``sl_weight`` x smooth-L1(SL) +
        ``tp_weight`` x smooth-L1(TP); targets are (class, sl, tp)).
    lr, weight_decay: Adam's learning rate and L2 penalty (torch's coupled weight decay,
        the same as an L2 term in the loss) on the weight matrices only: biases and
        batch-norm scales are not decayed, as with Keras's kernel regularizers.
    epochs, batch_size: upper bound on passes over the training part; samples per step.
    clip_norm: gradient clipping by global norm; None disables.
    patience, min_delta: early stopping after ``patience`` epochs whose monitored loss
        did not fall below best - min_delta; None disables. The monitored loss is the
        validation loss, or the training loss when ``val_fraction`` is 0.
    restore_best: load the best epoch's weights at the end (a best-weights checkpoint).
    lr_factor, lr_patience, min_lr: ReduceLROnPlateau on the monitored loss;
        lr_patience None disables.
    val_fraction, val_gap: the last ``val_fraction`` of the samples (by time, never
        shuffled across the split) validate; ``val_gap`` more samples just before it are
        dropped from training (purging targets that look ahead into the validation span;
        set it to the label horizon).
    shuffle: shuffle the training part each epoch with a generator seeded by ``seed``.
    seed: seeds model initialization (when fit builds the model), dropout and shuffling.
    amp: mixed precision (float16 autocast + GradScaler) when training on CUDA; ignored
        on CPU. Inputs must be scaled: float16 overflows above 65504 (raw volumes do).
    class_weights: "sltp" only: "balanced" (n / (classes x count), from the training
        part), None (equal) or one weight per class.
    """

    loss: str = "mse"
    lr: float = 1e-3
    weight_decay: float = 0.0
    epochs: int = 50
    batch_size: int = 64
    clip_norm: float | None = 1.0
    patience: int | None = 10
    min_delta: float = 0.0
    restore_best: bool = True
    lr_factor: float = 0.5
    lr_patience: int | None = 5
    min_lr: float = 1e-6
    val_fraction: float = 0.2
    val_gap: int = 0
    shuffle: bool = True
    seed: int = 0
    amp: bool = True
    huber_delta: float = 1.0
    class_weights: str | tuple[float, ...] | None = "balanced"
    sl_weight: float = 1.0
    tp_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss {self.loss!r} is unknown; use one of {LOSSES}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.epochs < 1 or self.batch_size < 1 or self.val_gap < 0:
            raise ValueError("epochs and batch_size must be >= 1 and val_gap >= 0")
        if isinstance(self.class_weights, list):
            object.__setattr__(self, "class_weights", tuple(self.class_weights))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return cls(**d)


#: Each seed system's training settings. Unmarked values are the seed's own.
SYSTEM_TRAINING: dict[str, TrainConfig] = {
    # loss: not documented; MSE of the tanh score against +1/-1 (choice).
    "etf50": TrainConfig(loss="mse", lr=0.005),
    # batch 64, 50 epochs, lr 0.001; early stopping patience 10 is ours.
    "price": TrainConfig(loss="mse", lr=0.001, batch_size=64, epochs=50),
    # weight decay value not documented (1e-4 is ours); plateau factor/patience ours.
    "crypto": TrainConfig(
        loss="huber", lr=0.0005, weight_decay=1e-4, clip_norm=0.5, patience=15, epochs=100, val_fraction=0.2
    ),
    "attention": TrainConfig(loss="bce", lr=0.001),
    "attention_ensemble": TrainConfig(loss="bce", lr=0.001),
    "sltp": TrainConfig(loss="sltp", lr=0.001, class_weights="balanced"),
}


@dataclass(frozen=True)
class ModelConfig:
    """Which network to build, and how to train it.

    network: a key of ``NETWORKS``.
    n_features: input features; None -> taken from X when ``fit`` builds the model.
    profile: "full" (the seed's sizes), "fast" (smaller, for CPUs) or "auto" (full on
        CUDA, fast elsewhere; resolved against the training device).
    options: constructor overrides applied over the profile (e.g. {"hidden": 64}).
    train: training settings; None -> ``SYSTEM_TRAINING[network]``.
    """

    network: str
    n_features: int | None = None
    profile: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig | None = None

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ValueError(f"network {self.network!r} is unknown; use one of {sorted(NETWORKS)}")
        resolve_profile(self.profile, "cpu")  # validates the name

    def training(self) -> TrainConfig:
        """The effective training settings."""
        return self.train if self.train is not None else SYSTEM_TRAINING[self.network]

    def resolved(self, device: str | torch.device | None = "auto", n_features: int | None = None) -> ModelConfig:
        """A copy with a concrete profile, n_features and train config (what a cache key should hash)."""
        n = self.n_features if self.n_features is not None else n_features
        if n is None:
            raise ValueError("n_features is unknown: set it in ModelConfig or pass X to fit")
        return replace(self, n_features=int(n), profile=resolve_profile(self.profile, device), train=self.training())

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["options"] = dict(self.options)
        d["train"] = None if self.train is None else self.train.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        d = dict(d)
        if d.get("train") is not None:
            d["train"] = TrainConfig.from_dict(d["train"])
        return cls(**d)


def build_model(config: ModelConfig, device: str | torch.device | None = "auto") -> nn.Module:
    """Instantiate ``config``'s network on the CPU: the profile's sizes, then ``options``.

    Initialization draws from torch's global RNG; ``fit`` seeds it (inside a forked RNG)
    before calling this. ``device`` only resolves an "auto" profile.
    """
    config = config.resolved(device)
    kwargs = {**profile_options(config.network, config.profile), **config.options}
    return NETWORKS[config.network](config.n_features, **kwargs)
