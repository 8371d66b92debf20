"""Strategy: the base class a plugin file subclasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from engine.signals import Signals


@dataclass(frozen=True)
class Param:
    """A declared strategy parameter: default, type and inclusive valid range."""

    default: Any
    low: float | None = None
    high: float | None = None
    doc: str = ""

    def check(self, name: str, value: Any) -> Any:
        kind = type(self.default)
        try:
            value = kind(value) if not isinstance(value, kind) else value
        except (TypeError, ValueError):
            raise ValueError(f"param {name}: {value!r} is not a valid {kind.__name__}") from None
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"param {name} = {value!r} is out of range [{self.low}, {self.high}]")
        return value


class Strategy:
    """Subclass in a plugin file: declare ``name``, ``description``, ``data`` (default
    source), ``params`` (name -> Param) and implement ``signals(bars)``, whose row t
    may use bars up to and including t only."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    data: ClassVar[str] = "btcusd_1h"
    params: ClassVar[dict[str, Param]] = {}

    def __init__(self, **overrides: Any) -> None:
        unknown = sorted(set(overrides) - set(self.params))
        if unknown:
            raise ValueError(f"unknown param(s) {unknown} for {self.name}; known: {sorted(self.params)}")
        self.values = {k: p.check(k, overrides.get(k, p.default)) for k, p in self.params.items()}

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("values", {})
        if key in values:
            return values[key]
        raise AttributeError(key)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{type(self).__name__}({args})"

    def signals(self, bars: pd.DataFrame) -> Signals:  # pragma: no cover - abstract
        raise NotImplementedError
