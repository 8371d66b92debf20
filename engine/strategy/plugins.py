"""Load a strategy plugin (a Python file defining one Strategy subclass).

A plugin is code: loading it runs it with your permissions.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Any

from mlbt.strategy.base import Param, Strategy


class PluginError(ValueError):
    """A plugin file that cannot be loaded; the message says where and why."""


def load_strategy(path: str | Path, **params: Any) -> Strategy:
    """Import ``path`` and instantiate its single Strategy subclass with ``params``.

    While the file runs, its own folder comes first on the import path, as for a script
    run with ``python``: a plugin may import the modules kept beside it."""
    path = Path(path)
    if not path.is_file():
        raise PluginError(f"{path}: no such plugin file")
    name = f"bt_plugin_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path}: not a Python file; a plugin is a .py file defining one Strategy subclass")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
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
        sys.path.remove(folder)
    found = [v for v in vars(module).values()
             if isinstance(v, type) and issubclass(v, Strategy) and v is not Strategy
             and v.__module__ == module.__name__]
    if len(found) != 1:
        names = [c.__name__ for c in found]
        raise PluginError(f"{path}: expected exactly one Strategy subclass, found {len(found)} {names}")
    _check_class(path, found[0])
    try:
        strategy = found[0](**params)
    except ValueError as e:
        raise PluginError(f"{path}: {e}") from e
    LOADED.add(str(path.resolve()))
    return strategy


#: Resolved paths of the plugin files loaded in this process (``plugin_frame`` looks for them).
LOADED: set[str] = set()


def _check_class(path: Path, cls: type[Strategy]) -> None:
    """What a plugin must declare, checked before anything runs it."""
    where = f"{path}: {cls.__name__}"
    if not isinstance(cls.params, dict):
        raise PluginError(f"{where}.params must be a dict of name -> Param(...)")
    for key, param in cls.params.items():
        if not isinstance(param, Param):
            raise PluginError(f"{where}.params[{key!r}] is {param!r}; write Param({param!r}, ...)")
    # the rule: across the assets (weights) or per instrument (signals)
    required: tuple[str, ...] = () if callable(getattr(cls, "weights", None)) else ("signals",)
    required += ("labels", "walk_forward") if cls.network else ()
    missing = [m for m in required if getattr(cls, m) is getattr(Strategy, m)]
    if missing:
        need = " and ".join(f"{m}()" for m in missing)
        why = f" (it declares network={cls.network!r})" if cls.network else ""
        raise PluginError(f"{where} must implement {need}{why}")


def plugin_frame(exc: BaseException) -> tuple[str, int] | None:
    """(file, line) of the innermost traceback frame of ``exc`` inside a loaded plugin
    file, or None when the plugin's code is not on the traceback."""
    hit = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in LOADED or str(Path(filename).resolve()) in LOADED:
            hit = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return hit
