"""Feature scalers fitted on the training segment only.

Each scaler is an affine map per feature (last axis): ``(x - center) / scale``.

- ``StandardScaler``: center = mean, scale = standard deviation (ddof 0).
- ``RobustScaler``: center = median, scale = interquartile range (75th - 25th percentile).
- ``MinMaxScaler``: maps the training [min, max] onto ``feature_range`` (default [0, 1]).

The statistics are fitted by ``sklearn.preprocessing`` (the scaler of the same name);
only the resulting center and scale arrays are kept, so the state stays plain arrays.

``fit`` reduces over every axis but the last (bars, or windows and time) and ignores NaN
(indicator warm-up). A constant or all-NaN feature gets scale 1 (and center 0 if all-NaN),
so it never divides by zero. Fit on the training slice only: ``scaler.fit(x[:train_end])``;
later rows never enter the statistics. ``transform``/``inverse_transform`` take and return
the same kind (torch tensor or numpy array), keeping dtype and device.

``state_dict()`` is a plain dict of a str, floats and float64 CPU tensors, loadable with
``torch.load(..., weights_only=True)`` beside a model's weights; ``scaler_from_state``
rebuilds the scaler.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn import preprocessing

Array = torch.Tensor | np.ndarray


def _as_2d_numpy(x: Array) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    a = a.astype(np.float64, copy=False)
    if a.ndim == 0:
        raise ValueError("cannot fit a scaler on a scalar")
    return a.reshape(-1, 1) if a.ndim == 1 else a.reshape(-1, a.shape[-1])


class Scaler:
    """Base class: an affine per-feature map with fitted ``center`` and ``scale``."""

    kind: ClassVar[str] = ""

    def __init__(self) -> None:
        self.center: torch.Tensor | None = None
        self.scale: torch.Tensor | None = None
        self._one_d = False

    def _statistics(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, x: Array) -> Scaler:
        """Fit on ``x`` (the training segment): (bars, features), (windows, time, features) or (bars,)."""
        x_dims = x.ndim
        a = _as_2d_numpy(x)
        empty = np.isnan(a).all(axis=0)
        if empty.any():
            a = a.copy()
            a[:, empty] = 0.0
        center, scale = self._statistics(a)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self._one_d = x_dims == 1
        self.center = torch.from_numpy(np.ascontiguousarray(center[0] if self._one_d else center))
        self.scale = torch.from_numpy(np.ascontiguousarray(scale[0] if self._one_d else scale))
        return self

    def _params(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.center is None or self.scale is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(x_train) first")
        dtype = like.dtype if like.is_floating_point() else torch.float64
        return self.center.to(like.device, dtype), self.scale.to(like.device, dtype)

    def _apply(self, x: Array, inverse: bool) -> Array:
        t = torch.as_tensor(x)
        center, scale = self._params(t)
        out = t * scale + center if inverse else (t - center) / scale
        return out.numpy() if isinstance(x, np.ndarray) else out

    def transform(self, x: Array) -> Array:
        """(x - center) / scale, per feature (last axis)."""
        return self._apply(x, inverse=False)

    def inverse_transform(self, x: Array) -> Array:
        """x * scale + center: back to the original units."""
        return self._apply(x, inverse=True)

    def fit_transform(self, x: Array) -> Array:
        """Fit on ``x`` and transform it (only for the training segment itself)."""
        return self.fit(x).transform(x)

    def state_dict(self) -> dict[str, Any]:
        """Plain dict (str, floats, CPU float64 tensors): safe for ``torch.load(weights_only=True)``."""
        self._params(torch.empty(0))
        assert self.center is not None and self.scale is not None  # _params refuses an unfitted scaler
        return {"kind": self.kind, "center": self.center.clone(), "scale": self.scale.clone(), **self._extra_state()}

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> Scaler:
        if state.get("kind") != self.kind:
            raise ValueError(f"state is for a {state.get('kind')!r} scaler, not {self.kind!r}")
        self.center = torch.as_tensor(state["center"], dtype=torch.float64).clone()
        self.scale = torch.as_tensor(state["scale"], dtype=torch.float64).clone()
        self._one_d = self.center.dim() == 0
        return self

    def __repr__(self) -> str:
        fitted = "unfitted" if self.center is None else f"features={max(1, self.center.numel())}"
        return f"{type(self).__name__}({fitted})"


class StandardScaler(Scaler):
    """center = mean, scale = standard deviation (ddof 0), NaN ignored."""

    kind = "standard"

    def _statistics(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fitted = preprocessing.StandardScaler().fit(a)  # NaN ignored, ddof 0
        return fitted.mean_, fitted.scale_


class RobustScaler(Scaler):
    """center = median, scale = interquartile range (q75 - q25), NaN ignored."""

    kind = "robust"

    def _statistics(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fitted = preprocessing.RobustScaler(quantile_range=(25.0, 75.0)).fit(a)  # NaN ignored
        return fitted.center_, fitted.scale_


class MinMaxScaler(Scaler):
    """Maps the training [min, max] of each feature onto ``feature_range`` = (low, high)."""

    kind = "minmax"

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        low, high = (float(v) for v in feature_range)
        if not high > low:
            raise ValueError(f"feature_range must be (low, high) with high > low, got {feature_range}")
        self.feature_range = (low, high)

    def _statistics(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.feature_range
        fitted = preprocessing.MinMaxScaler(feature_range=self.feature_range).fit(a)  # NaN ignored
        # sklearn maps x * scale_ + min_; as (x - center) / scale that is scale = data range / (high - low)
        # and center = data_min - low * scale (a constant feature keeps scale 1, not sklearn's 1 / (high - low))
        scale = fitted.data_range_ / (high - low)
        scale = np.where(scale > 0, scale, 1.0)
        return fitted.data_min_ - low * scale, scale

    def _extra_state(self) -> dict[str, Any]:
        return {"low": self.feature_range[0], "high": self.feature_range[1]}

    def load_state_dict(self, state: dict[str, Any]) -> Scaler:
        self.feature_range = (float(state["low"]), float(state["high"]))
        return super().load_state_dict(state)


SCALERS: dict[str, type[Scaler]] = {c.kind: c for c in (StandardScaler, RobustScaler, MinMaxScaler)}


def make_scaler(kind: str, **options: Any) -> Scaler:
    """An unfitted scaler by name: ``"standard"``, ``"robust"`` or ``"minmax"``."""
    if kind not in SCALERS:
        raise ValueError(f"scaler {kind!r} is unknown; use one of {sorted(SCALERS)}")
    return SCALERS[kind](**options)


def scaler_from_state(state: dict[str, Any]) -> Scaler:
    """Rebuild a fitted scaler from its ``state_dict()``."""
    kind = state.get("kind")
    if kind not in SCALERS:
        raise ValueError(f"scaler state has unknown kind {kind!r}; expected one of {sorted(SCALERS)}")
    return SCALERS[kind]().load_state_dict(state)
