"""Load a strategy plugin (a Python file defining one Strategy subclass).

A plugin is code: loading it runs it with your permissions.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Any

from engine.strategy import Strategy


class PluginError(ValueError):
    """A plugin file that cannot be loaded; the message says where and why."""


def load_strategy(path: str | Path, **params: Any) -> Strategy:
    """Import ``path`` and instantiate its single Strategy subclass with ``params``."""
    path = Path(path)
    if not path.is_file():
        raise PluginError(f"{path}: no such plugin file")
    name = f"bt_plugin_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise PluginError(f"{path}:{e.lineno}: syntax error: {e.msg}") from e
    except Exception as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if Path(f.filename) == path]
        line = f":{frames[-1].lineno}" if frames else ""
        raise PluginError(f"{path}{line}: {type(e).__name__}: {e}") from e
    finally:
        sys.modules.pop(name, None)
    found = [v for v in vars(module).values()
             if isinstance(v, type) and issubclass(v, Strategy) and v is not Strategy
             and v.__module__ == module.__name__]
    if len(found) != 1:
        names = [c.__name__ for c in found]
        raise PluginError(f"{path}: expected exactly one Strategy subclass, found {len(found)} {names}")
    try:
        return found[0](**params)
    except ValueError as e:
        raise PluginError(f"{path}: {e}") from e
