"""Walk-forward training and prediction, with no lookahead.

Alignment. Row t of the features holds what is known at bar t's close. A *sample* t
is the window of bars t-lookback+1 .. t with a label y[t] that uses bars up to
t + horizon (for "the next close", horizon = 1). Fold k predicts the bars
p_k .. p_k + retrain_every - 1, with a model trained only on samples
t <= p_k - embargo (embargo >= horizon), so every label it learned from was known by
bar p_k's close; its scalers are fitted on those training rows only. Predictions for
bars before the first fold are NaN.

Schedule. p_0 is the first bar at which ``min_train`` usable samples (finite window
and label) exist at or before p_0 - embargo; then p_k = p_0 + k * retrain_every. The
schedule depends only on data up to each p_k, so the predictions at or before bar t
never change when bars after t change (the walk-forward no-lookahead property,
tested). Training windows are expanding (every usable sample since the first) or
rolling (the last ``train_window`` samples).

Inside each fold ``fit`` holds out the last part of the training samples for
validation, by time, purging ``horizon`` samples before it (``val_gap``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from mlbt.models.config import ModelConfig, build_model
from mlbt.models.inference import predict
from mlbt.models.scalers import Scaler, make_scaler
from mlbt.models.training import fit
from mlbt.models.windows import sliding_windows, valid_windows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WalkForward:
    """A walk-forward schedule.

    lookback: bars per input window. horizon: bars ahead that a label looks (>= 1).
    min_train: usable training samples required before the first fold.
    retrain_every: bars each fold predicts before the next retraining (K).
    train_window: None for expanding training windows, else the number of most
        recent samples each fold trains on (rolling).
    embargo: bars between the last training sample and the first predicted bar;
        None means ``horizon``; smaller values are refused.
    scaler: feature scaler ("standard", "robust", "minmax") fitted per fold.
    target_scalers: one entry per target component (a target is an array or a tuple
        of arrays): a scaler kind for regression targets, None for unscaled ones
        (classes, probabilities). Predictions of scaled components are inverted back.
    warm_start: fold k starts from fold k-1's weights instead of a fresh init.
    batch_size: inference batch size.
    """

    lookback: int
    horizon: int = 1
    min_train: int = 1000
    retrain_every: int = 1000
    train_window: int | None = None
    embargo: int | None = None
    scaler: str = "standard"
    target_scalers: tuple[str | None, ...] = (None,)
    warm_start: bool = False
    batch_size: int = 8192

    def __post_init__(self) -> None:
        for name in ("lookback", "horizon", "min_train", "retrain_every", "train_window", "embargo", "batch_size"):
            value = getattr(self, name)
            if (value is not None or name not in ("train_window", "embargo")) and (
                    isinstance(value, bool) or not isinstance(value, int | np.integer)):
                raise ValueError(f"WalkForward {name} = {value!r} ({type(value).__name__}): expected an int, a number "
                                 "of bars" + (" or None" if name in ("train_window", "embargo") else ""))
        if self.lookback < 1 or self.horizon < 1 or self.min_train < 2 or self.retrain_every < 1:
            raise ValueError("lookback, horizon, retrain_every must be >= 1 and min_train >= 2")
        if self.embargo is not None and self.embargo < self.horizon:
            raise ValueError(f"embargo {self.embargo} is shorter than the label horizon {self.horizon}: the "
                             "first predicted bar would see labels from its own future")
        if self.train_window is not None and self.train_window < self.min_train:
            raise ValueError("train_window must be >= min_train")
        object.__setattr__(self, "target_scalers", tuple(self.target_scalers))

    @property
    def gap(self) -> int:
        """The embargo actually used (bars)."""
        return self.horizon if self.embargo is None else self.embargo

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"target_scalers": list(self.target_scalers)}


@dataclass
class Fold:
    """One fold: trained on samples [train_start, train_end] (bar indices, inclusive),
    predicting bars [predict_start, predict_end)."""

    fold: int
    train_start: int
    train_end: int
    predict_start: int
    predict_end: int
    n_train: int
    n_val: int
    epochs: int
    best_epoch: int
    best_loss: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class WalkForwardResult:
    """Predictions aligned to the bars (row t: the prediction made at bar t's close;
    NaN before the first fold and where a window is not finite), the fold of each bar
    (-1 where none), per-fold records, and the last fold's model state (weights,
    scalers, config) for live use."""

    predictions: dict[str, np.ndarray]
    fold_of_bar: np.ndarray
    folds: list[Fold] = field(default_factory=list)
    last_state: dict[str, Any] | None = None

    def frame(self, index: pd.Index) -> pd.DataFrame:
        """The predictions as a DataFrame on ``index`` (one column per output; a
        multi-column output ``logits`` becomes ``logits_0``, ``logits_1`` ...)."""
        cols: dict[str, np.ndarray] = {}
        for name, values in self.predictions.items():
            if values.ndim == 1:
                cols[name] = values
            else:
                for j in range(values.shape[1]):
                    cols[f"{name}_{j}"] = values[:, j]
        out = pd.DataFrame(cols, index=index)
        out["fold"] = self.fold_of_bar
        return out


def label_components(y: Any) -> tuple[np.ndarray, ...]:
    """A plugin's labels (an array, Series or tensor, or a tuple of them) as float64 arrays."""
    parts = y if isinstance(y, tuple | list) else (y,)
    return tuple(np.asarray(p.detach().cpu() if isinstance(p, torch.Tensor) else p, dtype=np.float64)
                 for p in parts)


def outputs_of(out: Any) -> dict[str, torch.Tensor]:
    """A network's output (a tensor, a NamedTuple or a tuple of tensors) by name."""
    if isinstance(out, torch.Tensor):
        return {"prediction": out}
    if hasattr(out, "_fields"):
        return {name: getattr(out, name) for name in out._fields}
    return {f"out{i}": t for i, t in enumerate(out)}


def checked_labels(X: np.ndarray, y: Any, wf: WalkForward) -> tuple[np.ndarray, ...]:
    """The components of labels ``y`` (``label_components``), one per target scaler of
    ``wf`` and each with one label per bar of ``X``; ValueError otherwise."""
    parts = label_components(y)
    if len(wf.target_scalers) != len(parts):
        raise ValueError(f"target_scalers has {len(wf.target_scalers)} entries for {len(parts)} target parts")
    if any(len(p) != len(X) for p in parts):
        raise ValueError("y must have one label per bar of X")
    return parts


def fit_targets(parts: tuple[np.ndarray, ...], idx: np.ndarray,
                kinds: tuple[str | None, ...]) -> tuple[list[torch.Tensor], list[Scaler | None]]:
    """The training targets of samples ``idx``: each label part scaled by a scaler of
    its ``kinds`` entry fitted on those samples (None: as is), as float32 tensors, and
    the scalers (to invert the predictions)."""
    targets, scalers = [], []
    for part, kind in zip(parts, kinds, strict=True):
        values: np.ndarray = part[idx]
        scaler = None
        if kind is not None:
            scaler = make_scaler(kind).fit(values)
            values = np.asarray(scaler.transform(values.reshape(len(values), -1))).reshape(values.shape)
        scalers.append(scaler)
        targets.append(torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)))
    return targets, scalers


def store_outputs(store: dict[str, np.ndarray], outs: dict[str, Any], scalers: list[Scaler | None],
                  rows: np.ndarray, n: int) -> None:
    """Write predictions ``outs`` (name -> (len(rows), ...) tensor or array) into
    ``store`` (name -> (n, ...) array, NaN where none yet) at ``rows``, the output j
    inverted by ``scalers[j]`` when it has one."""
    for j, (name, out) in enumerate(outs.items()):
        arr = out.double().numpy() if isinstance(out, torch.Tensor) else np.asarray(out, dtype=np.float64)
        scaler = scalers[j] if j < len(scalers) else None
        if scaler is not None:
            arr = np.asarray(scaler.inverse_transform(arr.reshape(len(arr), -1))).reshape(arr.shape)
        store.setdefault(name, np.full((n, *arr.shape[1:]), np.nan))[rows] = arr


def usable_samples(X: np.ndarray, y: tuple[np.ndarray, ...], lookback: int) -> np.ndarray:
    """Boolean per bar: the window ending at t is finite and every label part at t is finite."""
    ok = np.zeros(len(X), dtype=bool)
    if len(X) >= lookback:
        ok[lookback - 1:] = valid_windows(torch.from_numpy(np.ascontiguousarray(X)), lookback).numpy()
    for part in y:
        ok &= np.isfinite(part.reshape(len(part), -1)).all(axis=1)
    return ok


def schedule(usable: np.ndarray, wf: WalkForward) -> list[tuple[int, int]]:
    """(predict_start, predict_end) per fold; see the module docstring. ``usable``: per
    bar, whether its sample is usable, or how many are (several assets' samples)."""
    n = len(usable)
    counts = np.cumsum(usable)  # usable samples at or before each bar
    # first p with counts[p - gap] >= min_train
    enough = np.flatnonzero(counts >= wf.min_train)
    if not len(enough):
        return []
    p0 = int(enough[0]) + wf.gap
    return [(p, min(p + wf.retrain_every, n)) for p in range(p0, n, wf.retrain_every)]


def walk_forward(
    X: np.ndarray | pd.DataFrame,
    y: Any,
    config: ModelConfig,
    wf: WalkForward,
    *,
    device: str | torch.device | None = "auto",
) -> WalkForwardResult:
    """Train and predict fold by fold; see the module docstring.

    X: (bars, features) causal features, NaN during warm-up. y: labels aligned to
    bars (y[t] uses bars up to t + horizon; NaN where unknown), an array or a tuple of
    arrays matching the network's loss (e.g. (class, sl, tp)). Returns predictions in
    original units (scaled target components inverted).
    """
    X = np.asarray(X, dtype=np.float32)
    parts = checked_labels(X, y, wf)
    usable = usable_samples(X, parts, wf.lookback)
    plan = schedule(usable, wf)
    n = len(X)
    finite = usable_samples(X, (), wf.lookback)  # windows with finite features: the ones we predict
    result = WalkForwardResult(predictions={}, fold_of_bar=np.full(n, -1, dtype=np.int64))
    model: nn.Module | None = None
    config = config.resolved(device, n_features=X.shape[1])
    train_cfg = replace(config.training(), val_gap=max(config.training().val_gap, wf.horizon))
    for k, (p_start, p_end) in enumerate(plan):
        started = time.perf_counter()
        last = p_start - wf.gap
        idx = np.flatnonzero(usable[: last + 1])
        if wf.train_window is not None:
            idx = idx[-wf.train_window:]
        scaler = make_scaler(wf.scaler).fit(X[idx[0] - wf.lookback + 1: last + 1])
        Xs = scaler.transform(X[: p_end])
        windows = sliding_windows(torch.from_numpy(np.ascontiguousarray(Xs)), wf.lookback)
        targets, t_scalers = fit_targets(parts, idx, wf.target_scalers)
        X_train = windows[torch.from_numpy(idx - wf.lookback + 1)]
        y_train = targets[0] if len(targets) == 1 else tuple(targets)
        task = f"training fold {k + 1}/{len(plan)}"
        if model is None or not wf.warm_start:
            fitted = fit(config, X_train, y_train, train=train_cfg, device=device, task=task)
        else:
            fitted = fit(model, X_train, y_train, train=train_cfg, device=device, task=task)
        model = fitted.model
        bars = np.arange(p_start, p_end)
        ok = finite[bars]
        if ok.any():
            Xp = windows[torch.from_numpy(bars[ok] - wf.lookback + 1)]
            outs = outputs_of(predict(model, Xp, batch_size=wf.batch_size, device=device))
            store_outputs(result.predictions, outs, t_scalers, bars[ok], n)
        result.fold_of_bar[p_start:p_end] = k
        fold = Fold(k, int(idx[0]), int(idx[-1]), p_start, p_end, fitted.n_train, fitted.n_val,
                    len(fitted.history), fitted.best_epoch, float(fitted.best_loss), time.perf_counter() - started)
        result.folds.append(fold)
        result.last_state = {
            "config": config.to_dict() | {"train": train_cfg.to_dict()},
            "walk_forward": wf.to_dict(),
            "weights": {k2: v.detach().cpu() for k2, v in model.state_dict().items()},
            "scaler": scaler.state_dict(),
            "target_scalers": [None if s is None else s.state_dict() for s in t_scalers],
            "fold": fold.to_dict(),
        }
        log.info(f"walk-forward fold {k + 1}/{len(plan)}: trained on {fitted.n_train + fitted.n_val} samples "
                 f"(bars {idx[0]}..{idx[-1]}), {len(fitted.history)} epochs, best loss {fitted.best_loss:.4g}, "
                 f"predicted bars {p_start}..{p_end - 1} in {fold.seconds:.1f}s")
    return result


def model_from_state(state: dict[str, Any], device: str | torch.device | None = "cpu") -> nn.Module:
    """Rebuild the last fold's network from ``WalkForwardResult.last_state`` (or a
    checkpoint loaded with ``weights_only=True``)."""
    config = ModelConfig.from_dict(state["config"])
    model = build_model(config, device)
    model.load_state_dict(state["weights"])
    return model.eval()
