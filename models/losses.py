"""Loss functions by name (``TrainConfig.loss``). Each takes (output, target) and returns a scalar.

Losses run in float32 outside autocast: outputs are cast up first, so probabilities
from a float16 forward pass still get a stable BCE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from mlbt.models.config import TrainConfig

LossFn = Callable[[Any, Any], torch.Tensor]


def _like(target: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Target shaped as the output: same shape, a reshape of it, or broadcast over a last
    (member) axis, e.g. (batch,) targets for an ensemble's (batch, members) output."""
    target = target.to(out.dtype)
    if target.shape == out.shape:
        return target
    if target.numel() == out.numel():
        return target.reshape(out.shape)
    if out.dim() == target.dim() + 1 and out.shape[:-1] == target.shape:
        return target.unsqueeze(-1).expand_as(out)
    raise ValueError(f"target shape {tuple(target.shape)} does not match output shape {tuple(out.shape)}")


def balanced_class_weights(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """n / (n_classes x count_c) per class (scikit-learn's "balanced"); 1 for an absent class."""
    count = torch.bincount(labels.long().flatten(), minlength=n_classes).double()
    weights = labels.numel() / (n_classes * count)
    return torch.where(count > 0, weights, torch.ones_like(weights)).float()


def make_loss(
    train: TrainConfig, y_train: Any = None, device: torch.device | None = None, clamp: float | None = None
) -> LossFn:
    """The loss named by ``train.loss``.

    y_train: the training part's targets; "sltp" with "balanced" class weights counts them.
    clamp: "sltp" only: the SL/TP heads' clamp (``SLTPNet.clamp``); targets are clamped
        to it too, so an out-of-range target asks for the bound.
    """
    if train.loss == "mse":
        return lambda out, y: F.mse_loss(out.float(), _like(y, out.float()))
    if train.loss == "bce":
        return lambda out, y: F.binary_cross_entropy(out.float(), _like(y, out.float()))
    if train.loss == "huber":
        return lambda out, y: F.huber_loss(out.float(), _like(y, out.float()), delta=train.huber_delta)
    return _sltp_loss(train, y_train, device, clamp)


def _sltp_loss(train: TrainConfig, y_train: Any, device: torch.device | None, clamp: float | None) -> LossFn:
    n_classes = 3
    if train.class_weights == "balanced":
        if y_train is None:
            raise ValueError("class_weights='balanced' needs the training labels")
        weight = balanced_class_weights(y_train[0], n_classes)
    elif train.class_weights is None:
        weight = None
    else:
        weight = torch.tensor(train.class_weights, dtype=torch.float32)
        if weight.numel() != n_classes:
            raise ValueError(f"class_weights needs {n_classes} values (buy, sell, no trade), got {weight.numel()}")
    if weight is not None:
        weight = weight.to(device)

    def loss(out: Any, y: Any) -> torch.Tensor:
        logits, sl, tp = out
        label, sl_target, tp_target = y
        sl_target, tp_target = sl_target.float().reshape(sl.shape), tp_target.float().reshape(tp.shape)
        if clamp is not None:
            sl_target, tp_target = sl_target.clamp(-clamp, clamp), tp_target.clamp(-clamp, clamp)
        total = F.cross_entropy(logits.float(), label.long(), weight=weight)
        total = total + train.sl_weight * F.smooth_l1_loss(sl.float(), sl_target)
        return total + train.tp_weight * F.smooth_l1_loss(tp.float(), tp_target)

    return loss
