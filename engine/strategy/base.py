"""Strategy: the base class a plugin file subclasses.

A strategy declares, once: its name and description, a default data source, params
(each with a default, a type, a valid range and a doc line), a feature set, an
optional model with its walk-forward schedule and labels, and a vectorized
``signals`` rule. Params are validated at the boundary, as an estimator's are.

Two kinds of param: *signal* params (thresholds, filters, stops) only change the
signal rule, so a grid of them becomes engine columns over one set of predictions;
*model* params (lookback, hidden size, epochs) change what is trained, so each value
needs its own walk-forward run (and its own cache entry).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import reduce
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from mlbt.settings import DEFAULTS
from mlbt.sim import Signals

if TYPE_CHECKING:  # pragma: no cover
    from mlbt.models import ModelConfig, WalkForward


#: A signal rule as named boolean masks per side: ``{"long": [(name, mask), ...], "short": [...]}``.
Conditions = dict[str, list[tuple[str, np.ndarray]]]


@dataclass(frozen=True)
class Param:
    """A declared param: ``default`` (its type is the param's type: int, float or
    bool), an inclusive valid range [low, high], a one-line ``doc`` with units, and
    ``model=True`` for params that change the trained model."""

    default: Any
    low: float | None = None
    high: float | None = None
    doc: str = ""
    model: bool = False

    def check(self, name: str, value: Any) -> Any:
        """``value`` converted to the param's type; ValueError naming the param when it
        is not of that type or out of range."""
        kind = type(self.default)
        try:
            if kind is bool and isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError
                value = value.lower() in ("1", "true", "yes")
            elif kind is int and isinstance(value, str | float) and float(value) != int(float(value)):
                raise ValueError
            else:
                value = kind(float(value)) if kind is int else kind(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
            raise ValueError(f"param {name}: {value!r} is not a valid {kind.__name__}") from None
        if kind is float and math.isnan(value):
            raise ValueError(f"param {name}: NaN is not a value; give a number")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"param {name} = {value!r} is out of range [{self.low}, {self.high}]")
        return value


class Grid:
    """Signal-param values for N engine columns: ``grid.name`` is a (1, N) array, so an
    expression with (T, 1) columns of bars, features or predictions broadcasts to T x N.
    For a single run N = 1. ``frame`` holds the combinations, one row per column."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.reset_index(drop=True)

    def __getattr__(self, key: str) -> np.ndarray:
        frame = self.__dict__["frame"]
        if key in frame.columns:
            return frame[key].to_numpy()[None, :]
        raise AttributeError(f"no param {key!r} in the grid; params: {list(frame.columns)}")

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> pd.Index:
        """Engine column index: the param values (a MultiIndex when several vary)."""
        varying = [c for c in self.frame.columns if self.frame[c].nunique() > 1] or list(self.frame.columns[:1])
        if not varying:  # a strategy without signal params
            return pd.RangeIndex(len(self.frame))
        return pd.MultiIndex.from_frame(self.frame[varying]) if len(varying) > 1 else pd.Index(
            self.frame[varying[0]], name=varying[0])


@dataclass
class Context:
    """What ``signals`` sees, all aligned to the bars (row t = known at bar t's close):
    ``bars``, ``features`` (the strategy's feature set, NaN in warm-up) and
    ``predictions`` (walk-forward model outputs, NaN before the first fold; None for a
    model-free strategy)."""

    bars: pd.DataFrame
    features: pd.DataFrame
    predictions: pd.DataFrame | None = None

    def col(self, name: str) -> np.ndarray:
        """Column ``name`` of predictions, features or bars (searched in that order) as
        a (T, 1) float array, ready to broadcast against Grid params."""
        for frame in (self.predictions, self.features, self.bars):
            if frame is not None and name in frame.columns:
                return frame[name].to_numpy(dtype="float64")[:, None]
        raise KeyError(f"no column {name!r} in predictions, features or bars")


class Strategy:
    """Subclass in a plugin file. Declare:

    name, description: shown in reports. data: default source (``bt data list``).
    fee, cash: defaults for ``bt run`` when the user gives none; any class attribute
    named like an engine setting (``mlbt.settings``, e.g. ``sl = 0.02``) is one too.
    params: name -> Param. features: a feature set name (``mlbt.data.FEATURE_SETS``) or None.
    network: a model name (``mlbt.models.NETWORKS``) or None for a model-free strategy.

    Implement ``signals(ctx, p)``: vectorized over the Grid ``p``; row t may use data
    up to and including bar t only. With a network also implement ``labels(ctx)``
    (targets aligned to bars, NaN where unknown) and ``walk_forward()``. The network
    trains with its system's settings (``mlbt.models.SYSTEM_TRAINING``), updated by
    ``training`` and by model params named like a TrainConfig field (``epochs``,
    ``patience``, ``batch_size``, ``lr``, ...); override ``model_config()`` to change
    sizes.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    data: ClassVar[str] = "btcusd_1h"
    fee: ClassVar[float] = DEFAULTS["fee"]
    cash: ClassVar[float] = DEFAULTS["cash"]
    params: ClassVar[dict[str, Param]] = {}
    features: ClassVar[str | None] = None
    network: ClassVar[str | None] = None
    training: ClassVar[dict[str, Any]] = {}

    def __init__(self, **overrides: Any) -> None:
        cls = type(self)
        taken = {name for name in dir(cls) if not name.startswith("__")} | {"values"}
        for key in self.params:
            if key in taken:  # Strategy.__getattr__ serves a param only where nothing else has the name
                own = getattr(cls, key, None)
                what = "a method" if callable(own) else f"{key} = {own!r}"
                raise ValueError(f"{cls.__name__}.params[{key!r}] has the name of the Strategy attribute {key!r} "
                                 f"({what}), so self.{key} would not read the param; rename the param")
        unknown = sorted(set(overrides) - set(self.params))
        if unknown:
            raise ValueError(f"unknown param(s) {', '.join(unknown)} for {self.name}; known: "
                             f"{', '.join(sorted(self.params))}")
        self.values = {k: p.check(k, overrides.get(k, p.default)) for k, p in self.params.items()}

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("values", {})
        if key in values:
            return values[key]
        raise AttributeError(key)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{type(self).__name__}({args})"

    @property
    def signal_params(self) -> list[str]:
        return [k for k, p in self.params.items() if not p.model]

    @property
    def model_params(self) -> dict[str, Any]:
        return {k: self.values[k] for k, p in self.params.items() if p.model}

    def grid(self, combos: pd.DataFrame | None = None) -> Grid:
        """A Grid of this strategy's signal params: its own values (one column), or
        ``combos`` (one row per column, missing params at this strategy's values),
        every value checked against its Param."""
        base = {k: self.values[k] for k in self.signal_params}
        if combos is None:
            return Grid(pd.DataFrame([base]))
        unknown = sorted(set(combos.columns) - set(base))
        if unknown:
            raise ValueError(f"not signal param(s) of {self.name}: {', '.join(unknown)}; signal params: "
                             f"{', '.join(base)}")
        frame = combos.copy()
        for k, v in base.items():
            if k in frame.columns:
                frame[k] = [self.params[k].check(k, x) for x in frame[k]]
            else:
                frame[k] = v
        return Grid(frame[list(base)])

    def signals(self, ctx: Context, p: Grid) -> Signals:  # pragma: no cover - abstract
        raise NotImplementedError

    def labels(self, ctx: Context) -> Any:  # pragma: no cover - only for strategies with a network
        """Training targets aligned to bars: y[t] may use bars after t (it is the label),
        up to t + ``walk_forward().horizon``; NaN where unknown."""
        raise NotImplementedError(f"{self.name} declares network={self.network!r} but no labels()")

    def walk_forward(self) -> WalkForward:  # pragma: no cover - only for strategies with a network
        raise NotImplementedError(f"{self.name} declares network={self.network!r} but no walk_forward()")

    def model_config(self, profile: str = "auto") -> ModelConfig:
        """The network to train: ``network`` in ``profile``, with the system's TrainConfig
        updated by ``training`` and then by the model params named like its fields."""
        from mlbt.models import SYSTEM_TRAINING, ModelConfig  # mlbt.models loads torch: only for a network

        if self.network is None:
            raise ValueError(f"{self.name} declares no network, so it has no model to configure")
        config = ModelConfig(self.network, profile=profile)  # an unknown network is named here
        base = SYSTEM_TRAINING[self.network]
        names = {f.name for f in fields(base)}
        unknown = sorted(set(self.training) - names)
        if unknown:
            raise ValueError(f"{self.name}.training sets {', '.join(unknown)}, which TrainConfig does not have; "
                             f"known: {', '.join(sorted(names))}")
        over = dict(self.training) | {k: self.values[k] for k, p in self.params.items() if p.model and k in names}
        return replace(config, train=replace(base, **over)) if over else config

    def details(self, ctx: Context) -> dict[str, np.ndarray]:
        """Per-bar values that explain a decision, for ``bt signal``: any of
        ``predicted_price``, ``threshold``, ``confidence`` (arrays aligned to bars)."""
        return {}

    def conditions(self, ctx: Context, p: Grid) -> Conditions:
        """The signal rule as named conditions per side, in the order the rule applies
        them: ``{"long": [(name, mask), ...], "short": [...]}``, each mask a boolean
        array that broadcasts to (bars, columns) and is True where the condition holds at
        that bar's close. A side enters where all of its masks hold. Optional: ``bt run``
        prints it as a funnel (bars left after each condition); none by default."""
        return {}

    @staticmethod
    def entries(conditions: Conditions) -> tuple[np.ndarray, np.ndarray]:
        """(long, short): where every condition of each side holds (``conditions`` as
        ``conditions()`` returns them; a side without conditions never enters)."""
        def all_of(side: str) -> np.ndarray:
            masks = [np.asarray(m, dtype=bool) for _, m in conditions.get(side, [])]
            return reduce(np.logical_and, masks) if masks else np.zeros((1, 1), dtype=bool)

        return all_of("long"), all_of("short")

    def ml_metrics(self, ctx: Context) -> dict[str, Any]:
        """Out-of-sample model quality on the bars with a prediction (override): numbers,
        and optionally ``"skill"``, a dict from ``mlbt.models.skill`` (the model against a
        naive baseline) that the tables and tearsheets show as a block of its own."""
        return {}
