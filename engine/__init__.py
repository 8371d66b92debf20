"""bt engine: simulate target positions on bars and measure the result.

Names load lazily (PEP 562) so that ``bt --help`` does not import numba or pandas.
"""

from importlib import import_module

_EXPORTS = {
    "backtest": "engine.simulation",
    "Result": "engine.result",
    "Signals": "engine.signals",
    "Strategy": "engine.strategy",
    "Param": "engine.strategy",
    "load_strategy": "engine.plugins",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
