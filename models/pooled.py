"""One pooled walk-forward model for a universe: trained on every asset's windows,
predicting every asset, with no lookahead.

The assets' bars lie on one timeline (the universe's bars, ``positions``: each
asset's bar numbers on it). A sample is an asset's window over its own bars, with
its label, exactly as in ``walkforward``; the schedule counts the usable samples of
all assets at or before each bar of the timeline, so fold k predicts the universe
bars p_k .. p_k + retrain_every - 1 with one model trained on every asset's samples t
<= p_k - embargo. Each asset's features and scaled targets are scaled on its own
training rows (a price level of 8,000 and one of 50 are not one distribution), the
model is shared. ``fit`` validates on the latest samples of all assets (they are
ordered by time, then asset) with a purge of ``horizon`` bars of every asset that has
samples by then (a fold's training never depends on an asset listed after it).

Inference runs every asset's windows of a fold as one batch: one large batch, the
shape a GPU wants.

The result is one ``WalkForwardResult`` over the assets' bars laid end to end (asset
0's bars, then asset 1's ...), so it is cached like any walk-forward; ``split``
returns each asset's part, with its folds in its own bar numbers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from mlbt.models.config import ModelConfig
from mlbt.models.inference import predict
from mlbt.models.scalers import make_scaler
from mlbt.models.training import fit
from mlbt.models.walkforward import (
    Fold,
    WalkForward,
    WalkForwardResult,
    fit_targets,
    label_components,
    outputs_of,
    schedule,
    store_outputs,
    usable_samples,
)
from mlbt.models.windows import sliding_windows

log = logging.getLogger(__name__)


def pooled_schedule(usable: Sequence[np.ndarray], positions: Sequence[np.ndarray], n_bars: int,
                    wf: WalkForward) -> list[tuple[int, int]]:
    """(predict_start, predict_end) per fold on the universe's ``n_bars``: the first
    fold once ``min_train`` usable samples of all assets exist at or before p_0 -
    embargo, then every ``retrain_every`` bars."""
    counts = np.zeros(n_bars, dtype=np.int64)  # usable samples of all assets per universe bar
    for ok, pos in zip(usable, positions, strict=True):
        counts[pos[ok]] += 1  # an asset's bars are distinct
    return schedule(counts, wf)


def walk_forward_pooled(X: Sequence[np.ndarray], y: Sequence[Any], positions: Sequence[np.ndarray], n_bars: int,
                        config: ModelConfig, wf: WalkForward, *,
                        device: str | torch.device | None = "auto") -> WalkForwardResult:
    """Train one model per fold on every asset's samples and predict every asset; see
    the module docstring. X[a]: asset a's (its bars, features); y[a]: its labels (as
    ``walk_forward`` takes them); positions[a]: its bars' numbers on the universe's
    ``n_bars``. Returns the predictions over the assets' bars end to end."""
    Xs = [np.asarray(x, dtype=np.float32) for x in X]
    parts = [label_components(v) for v in y]
    if any(len(wf.target_scalers) != len(p) for p in parts):
        raise ValueError(f"target_scalers has {len(wf.target_scalers)} entries for {len(parts[0])} target parts")
    usable = [usable_samples(x, p, wf.lookback) for x, p in zip(Xs, parts, strict=True)]
    finite = [usable_samples(x, (), wf.lookback) for x in Xs]
    offsets = np.r_[0, np.cumsum([len(x) for x in Xs])]
    total = int(offsets[-1])
    plan = pooled_schedule(usable, positions, n_bars, wf)
    result = WalkForwardResult(predictions={}, fold_of_bar=np.full(total, -1, dtype=np.int64))
    config = config.resolved(device, n_features=Xs[0].shape[1])
    base_cfg = config.training()
    for k, (p_start, p_end) in enumerate(plan):
        started = time.perf_counter()
        last = p_start - wf.gap
        windows: list[torch.Tensor | None] = []
        samples: list[np.ndarray] = []
        labels: list[list[torch.Tensor]] = []
        scalers: list[list[Any]] = []
        for a, (x, pos) in enumerate(zip(Xs, positions, strict=True)):
            idx = np.flatnonzero(usable[a] & (pos <= last))
            if wf.train_window is not None:
                idx = idx[-wf.train_window:]
            end = int(np.searchsorted(pos, p_end))  # own bars before the fold's end
            if not len(idx) or end < wf.lookback:
                windows.append(None)
                scalers.append([])
                continue
            known = int(np.searchsorted(pos, last, "right"))  # own bars at or before the last training bar
            scaler = make_scaler(wf.scaler).fit(x[idx[0] - wf.lookback + 1: known])
            targets, t_scalers = fit_targets(parts[a], idx, wf.target_scalers)
            windows.append(sliding_windows(torch.from_numpy(np.ascontiguousarray(scaler.transform(x[:end]))),
                                           wf.lookback))
            scalers.append(t_scalers)
            samples.append(np.c_[pos[idx], np.full(len(idx), a), idx])
            labels.append(targets)
        order = np.concatenate(samples)  # (time, asset, own bar) of every sample, asset by asset
        perm = torch.from_numpy(np.lexsort((order[:, 1], order[:, 0])))  # by time, then asset: validation is latest
        trained = [w for w in windows if w is not None]  # in asset order, as the samples
        X_train = torch.cat([w[torch.from_numpy(s[:, 2] - wf.lookback + 1)]
                             for w, s in zip(trained, samples, strict=True)])[perm]
        y_parts = [torch.cat([t[j] for t in labels])[perm] for j in range(len(labels[0]))]
        # the purge: ``horizon`` bars of every asset with samples so far (not of assets listed later: the
        # universe's future must not change a fold's training)
        train_cfg = replace(base_cfg, val_gap=max(base_cfg.val_gap, wf.horizon * len(samples)))
        fitted = fit(config, X_train, y_parts[0] if len(y_parts) == 1 else tuple(y_parts), train=train_cfg,
                     device=device, task=f"training the pooled model, fold {k + 1}/{len(plan)}")
        batch, rows, owners = [], [], []
        for a, (held, pos) in enumerate(zip(windows, positions, strict=True)):
            own = np.flatnonzero((pos >= p_start) & (pos < p_end))
            own = own[finite[a][own]]
            if held is not None and len(own):  # an asset without training rows yet has no scaler: no prediction
                batch.append(held[torch.from_numpy(own - wf.lookback + 1)])
                rows.append(own)
                owners.append(a)
        if batch:  # every asset's windows of the fold in one pass
            outs = outputs_of(predict(fitted.model, torch.cat(batch), batch_size=wf.batch_size, device=device))
            cut = np.cumsum([len(r) for r in rows])[:-1]
            pieces = {name: np.split(out.double().numpy(), cut) for name, out in outs.items()}
            for i, (r, a) in enumerate(zip(rows, owners, strict=True)):
                store_outputs(result.predictions, {name: p[i] for name, p in pieces.items()}, scalers[a],
                              offsets[a] + r, total)
        for a, pos in enumerate(positions):  # the fold of an asset's bars, where the model covers it
            if windows[a] is not None:
                inside = np.flatnonzero((pos >= p_start) & (pos < p_end))
                result.fold_of_bar[offsets[a] + inside] = k
        fold = Fold(k, int(order[:, 0].min()), int(order[:, 0].max()), p_start, p_end, fitted.n_train, fitted.n_val,
                    len(fitted.history), fitted.best_epoch, float(fitted.best_loss), time.perf_counter() - started)
        result.folds.append(fold)
        result.last_state = {"config": config.to_dict() | {"train": train_cfg.to_dict()}, "walk_forward": wf.to_dict(),
                             "weights": {n: v.detach().cpu() for n, v in fitted.model.state_dict().items()},
                             "pooled": True, "fold": fold.to_dict()}
        log.info(f"pooled walk-forward fold {k + 1}/{len(plan)}: trained on {fitted.n_train + fitted.n_val} "
                 f"samples of {len(samples)} assets, {len(fitted.history)} epochs, best loss {fitted.best_loss:.4g}, "
                 f"predicted universe bars {p_start}..{p_end - 1} in {fold.seconds:.1f}s")
    return result


def split(result: WalkForwardResult, lengths: Sequence[int],
          positions: Sequence[np.ndarray]) -> list[WalkForwardResult]:
    """Each asset's part of a pooled result (``lengths``: its bars), folds in its own bar
    numbers (a fold that did not cover the asset, before it had training rows or
    without its bars, is left out of its list)."""
    out, start = [], 0
    for n, pos in zip(lengths, positions, strict=True):
        part = WalkForwardResult(predictions={k: v[start:start + n] for k, v in result.predictions.items()},
                                 fold_of_bar=result.fold_of_bar[start:start + n], last_state=result.last_state)
        for f in result.folds:
            a, b = (int(np.searchsorted(pos, x)) for x in (f.predict_start, f.predict_end))
            if b > a and (part.fold_of_bar[a:b] == f.fold).any():
                part.folds.append(replace(f, train_start=int(np.searchsorted(pos, f.train_start)),
                                          train_end=max(int(np.searchsorted(pos, f.train_end, "right")) - 1, 0),
                                          predict_start=a, predict_end=b))
        out.append(part)
        start += n
    return out
