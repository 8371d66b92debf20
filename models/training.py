"""Training: ``fit(model_or_config, X, y)`` with the system's optimizer, loss and stopping rules.

Data: X is (samples, time, features), samples in time order (e.g. ``sliding_windows``,
possibly a view: batches are gathered from it, the whole tensor is never copied). y is
a tensor (samples,) / (samples, k), or a tuple of such tensors for multi-head targets
("sltp": (class, sl, tp)). X and y may live on the CPU (batches are moved to the device
one at a time) or already on the training device.

Split: the last ``val_fraction`` of the samples validate, ``val_gap`` samples before them
are dropped, the rest train; the split is by time and never shuffled across. Within the
training part batches are shuffled each epoch by a generator seeded with ``seed``.

Determinism: ``fit`` seeds torch's RNG inside ``torch.random.fork_rng`` (the caller's RNG
state is left as it was), so the same seed, data and config give identical weights on the
CPU. On CUDA cuDNN may pick nondeterministic kernels; results agree to rounding.

Per epoch: Adam steps (float16 autocast + GradScaler on CUDA when ``amp``; losses are
computed in float32), gradient clipping by global norm, the validation loss in eval mode,
ReduceLROnPlateau, early stopping; at the end the best epoch's weights are restored. A
line per epoch is logged (``mlbt.models.training``, DEBUG), and each epoch is a progress
step (INFO). A last training batch of a single sample is skipped (batch-norm cannot
train on one sample).

Threads: CPU training runs with a thread per core that no other program is using when
it starts (``mlbt.models.threads``), so a busy machine slows it in proportion.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from mlbt.models.config import ModelConfig, TrainConfig, build_model
from mlbt.models.losses import make_loss
from mlbt.models.profiles import resolve_device
from mlbt.models.threads import threads_for_training

Target = torch.Tensor | tuple[torch.Tensor, ...]

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What ``fit`` returns. ``model`` is on the training device, in eval mode, with the best weights.

    config: the resolved ModelConfig (concrete profile and n_features) when fit built the
        model, else None. history: one dict per epoch (epoch, loss, val_loss (NaN without
        validation), lr, seconds). best_epoch is 1-based; best_loss is its monitored loss.
    """

    model: nn.Module
    train: TrainConfig
    config: ModelConfig | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = float("nan")
    stopped_early: bool = False
    n_train: int = 0
    n_val: int = 0
    device: str = "cpu"
    seconds: float = 0.0

    @property
    def val_start(self) -> int:
        """Index of the first validation sample (== number of samples when there is none)."""
        return self.n_train + self.train.val_gap if self.n_val else self.n_train

    def __repr__(self) -> str:
        name = self.config.network if self.config else type(self.model).__name__
        return (
            f"FitResult({name}, epochs={len(self.history)}, best_epoch={self.best_epoch}, "
            f"best_loss={self.best_loss:.6g}, n_train={self.n_train}, n_val={self.n_val}, device={self.device!r})"
        )


def _as_target(y: Any) -> Target:
    if isinstance(y, tuple | list):
        return tuple(torch.as_tensor(v) for v in y)
    return torch.as_tensor(y)


def _length(y: Target) -> int:
    return len(y[0]) if isinstance(y, tuple) else len(y)


def _take(y: Target, idx: torch.Tensor, device: torch.device) -> Target:
    if isinstance(y, tuple):
        return tuple(_take(v, idx, device) for v in y)  # type: ignore[misc]  # a tuple of tensors
    v = y[idx.to(y.device)]
    return v.to(device, torch.float32 if v.is_floating_point() else v.dtype, non_blocking=True)


def _batch_x(X: torch.Tensor, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
    return X[idx.to(X.device)].to(device, torch.float32, non_blocking=True)


def _first_non_finite(X: torch.Tensor, chunk: int = 8192) -> int | None:
    """Index of the first sample of X holding a NaN or inf, or None.

    A window view shares one small storage: when all of it is finite (the usual case), so
    is X, at the cost of the bars, not of the windows. Otherwise X is scanned in chunks, so
    memory stays O(chunk) instead of materializing (samples, time, features) booleans.
    """
    storage = X.untyped_storage()
    if X.is_floating_point() and not X.is_contiguous() and storage.nbytes() < X.numel() * X.element_size():
        flat = torch.empty(0, dtype=X.dtype, device=X.device)
        flat.set_(storage, 0, (storage.nbytes() // X.element_size(),), (1,))
        if bool(torch.isfinite(flat).all()):
            return None
    for start in range(0, len(X), chunk):
        bad = ~torch.isfinite(X[start : start + chunk]).flatten(1).all(1)
        if bool(bad.any()):
            return start + int(bad.nonzero()[0])
    return None


def _check_inputs(X: torch.Tensor, y: Target) -> None:
    if X.dim() != 3:
        raise ValueError(f"X must be (samples, time, features), got shape {tuple(X.shape)}")
    if _length(y) != len(X):
        raise ValueError(f"X has {len(X)} samples but y has {_length(y)}; align targets to the windows' end bars")
    bad = _first_non_finite(X)
    if bad is not None:
        raise ValueError(f"X has non-finite values (first in sample {bad}); drop warm-up windows (valid_windows)")
    for v in y if isinstance(y, tuple) else (y,):
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise ValueError("y has non-finite values; drop those samples before fitting")


def _split(n: int, train: TrainConfig) -> tuple[int, int]:
    n_val = int(np.floor(n * train.val_fraction)) if train.val_fraction > 0 else 0
    if train.val_fraction > 0:
        n_val = max(n_val, 1)
    n_train = n - n_val - (train.val_gap if n_val else 0)
    if n_train < 1:
        raise ValueError(
            f"{n} samples leave no training part after a validation of {n_val} and a gap of {train.val_gap}"
        )
    return n_train, n_val


def _decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Adam param groups: the L2 penalty on weight matrices (2-D and up: dense kernels,
    LSTM input and recurrent kernels), none on biases and normalization scales."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def _autocast(device: torch.device, enabled: bool, dtype: torch.dtype = torch.float16) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=enabled)


def evaluate_loss(
    model: nn.Module,
    loss_fn: Any,
    X: torch.Tensor,
    y: Target,
    idx: torch.Tensor,
    device: torch.device,
    batch_size: int,
    amp: bool = False,
) -> float:
    """Mean loss over samples ``idx`` in eval mode (batch means weighted by batch size)."""
    was_training = model.training
    model.eval()
    total, count = torch.zeros((), device=device), 0
    with torch.inference_mode():
        for start in range(0, len(idx), batch_size):
            b = idx[start : start + batch_size]
            with _autocast(device, amp):
                out = model(_batch_x(X, b, device))
            total += loss_fn(out, _take(y, b, device)).float() * len(b)
            count += len(b)
    model.train(was_training)
    return float(total) / max(count, 1)


def fit(
    model: nn.Module | ModelConfig,
    X: torch.Tensor | np.ndarray,
    y: Any,
    *,
    train: TrainConfig | None = None,
    device: str | torch.device | None = "auto",
    task: str = "training",
) -> FitResult:
    """Train a network on windows ``X`` and targets ``y``; see the module docstring.

    model: a ModelConfig (fit builds the network, seeded, after resolving the profile
        and n_features against ``device`` and X) or an nn.Module (trained in place).
    train: overrides the config's training settings (for a module: defaults to TrainConfig()).
    device: "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    task: the name its epochs are reported under, as progress steps on the ``mlbt``
        logger (INFO, ``extra={"progress": ...}``; the caller logs the summary line).
    """
    device = resolve_device(device)
    X = torch.as_tensor(X)
    y = _as_target(y)
    _check_inputs(X, y)
    config = None
    if isinstance(model, ModelConfig):
        config = model.resolved(device, n_features=X.shape[-1])
        if config.n_features != X.shape[-1]:
            raise ValueError(f"{config.network} is configured for {config.n_features} features but X has {X.shape[-1]}")
        train = train or config.training()
        config = replace(config, train=train)
    train = train or TrainConfig()
    n_train, n_val = _split(len(X), train)
    cuda_devices = []
    if device.type == "cuda":
        cuda_devices = [device.index if device.index is not None else torch.cuda.current_device()]
    started = time.perf_counter()
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(train.seed)
        net = build_model(config) if config is not None else model
        assert isinstance(net, nn.Module)
        model = net.to(device)
        with threads_for_training(device) as threads:
            log.debug(f"{task}: {threads} CPU thread(s)" if device.type == "cpu" else f"{task}: on {device}")
            result = _train(model, X, y, train, device, n_train, n_val, config, task)
    result.seconds = time.perf_counter() - started
    return result


def _train(
    model: nn.Module,
    X: torch.Tensor,
    y: Target,
    train: TrainConfig,
    device: torch.device,
    n_train: int,
    n_val: int,
    config: ModelConfig | None,
    task: str,
) -> FitResult:
    use_amp = train.amp and device.type == "cuda"
    train_idx = torch.arange(n_train)
    val_idx = torch.arange(len(X) - n_val, len(X))
    loss_fn = make_loss(train, _take(y, train_idx, torch.device("cpu")), device, clamp=getattr(model, "clamp", None))
    optimizer = torch.optim.Adam(_decay_groups(model, train.weight_decay), lr=train.lr)
    scheduler = None
    if train.lr_patience is not None:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=train.lr_factor, patience=train.lr_patience, min_lr=train.min_lr
        )
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    generator = torch.Generator().manual_seed(train.seed)
    result = FitResult(model=model, train=train, config=config, n_train=n_train, n_val=n_val, device=str(device))
    best_state: dict[str, torch.Tensor] | None = None
    best, since_best = float("inf"), 0
    name = config.network + "/" + config.profile if config else type(model).__name__
    n_params = sum(p.numel() for p in model.parameters())
    log.debug(f"fit {name} on {device}: {n_train} train, {n_val} validation samples, {n_params:,} parameters")

    for epoch in range(1, train.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n_train, generator=generator) if train.shuffle else train_idx
        total, seen = torch.zeros((), device=device), 0
        for start in range(0, n_train, train.batch_size):
            b = order[start : start + train.batch_size]
            if len(b) == 1 and n_train > 1:
                continue
            xb, yb = _batch_x(X, b, device), _take(y, b, device)
            with _autocast(device, use_amp):
                out = model(xb)
            loss = loss_fn(out, yb)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if train.clip_norm is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), train.clip_norm)
            scaler.step(optimizer)
            scaler.update()
            total += loss.detach() * len(b)
            seen += len(b)
        train_loss = float(total) / max(seen, 1)
        if not np.isfinite(train_loss):
            raise FloatingPointError(
                f"training loss is {train_loss} at epoch {epoch}; lower lr or check X and y for extreme values"
            )
        val_loss = float("nan")
        if n_val:
            val_loss = evaluate_loss(model, loss_fn, X, y, val_idx, device, max(train.batch_size, 1024), use_amp)
        monitored = val_loss if n_val else train_loss
        lr = optimizer.param_groups[0]["lr"]
        improved = monitored < best - train.min_delta
        if improved:
            best, since_best, result.best_epoch = monitored, 0, epoch
            if train.restore_best:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since_best += 1
        result.history.append(
            {"epoch": epoch, "loss": train_loss, "val_loss": val_loss, "lr": lr, "seconds": time.perf_counter() - t0}
        )
        val_text = f"  val {val_loss:.6f}" if n_val else ""
        log.debug(
            f"epoch {epoch:>{len(str(train.epochs))}}/{train.epochs}  loss {train_loss:.6f}{val_text}"
            f"  lr {lr:.1e}  {time.perf_counter() - t0:.1f}s{'  *' if improved else ''}"
        )
        log.info(f"epoch {epoch}/{train.epochs}, loss {monitored:.4g}",
                 extra={"progress": {"task": task, "done": epoch, "total": train.epochs, "line": False}})
        if scheduler is not None:
            scheduler.step(monitored)
        if train.patience is not None and since_best >= train.patience:
            result.stopped_early = True
            log.debug(f"early stop: no improvement for {since_best} epochs")
            break

    result.best_loss = best
    if result.stopped_early:  # the task's bar ends with the training
        log.info(f"stopped early at epoch {len(result.history)}",
                 extra={"progress": {"task": task, "done": train.epochs, "total": train.epochs, "line": False}})
    if best_state is not None:
        model.load_state_dict(best_state)
        log.debug(f"restored the best weights (epoch {result.best_epoch}, {'val ' if n_val else ''}loss {best:.6f})")
    model.eval()
    return result
