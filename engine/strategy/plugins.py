"""Load a strategy plugin (a Python file defining one Strategy subclass).

A plugin is code: loading it runs it with your permissions.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import inspect
import numbers
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlbt.data import FEATURE_SETS
from mlbt.settings import SETTINGS
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
        with plugin_output():
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
    _quiet_hooks(found[0])
    try:
        strategy = found[0](**params)
    except ValueError as e:
        if plugin_frame(e) is not None:  # raised in the plugin's own __init__: fail() names its line
            raise
        raise PluginError(f"{path}: {e}") from e
    LOADED.add(str(path.resolve()))
    return strategy


#: Resolved paths of the plugin files loaded in this process (``plugin_frame`` looks for them).
LOADED: set[str] = set()


#: The hooks a plugin may define (methods the pipeline calls).
HOOKS = ("signals", "weights", "labels", "walk_forward", "model_config", "details", "conditions", "ml_metrics")


def _attribute_line(path: Path, cls: type, attr: str | None = None) -> int | None:
    """The line of ``attr``'s assignment (or ``def``) in class ``cls`` of plugin file
    ``path``; the class's own line when ``attr`` is None or not assigned there."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            for item in node.body if attr else ():
                targets: list[ast.expr] = []
                if isinstance(item, ast.Assign):
                    targets = list(item.targets)
                elif isinstance(item, ast.AnnAssign):
                    targets = [item.target]
                elif isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == attr:
                    return item.lineno
                if any(isinstance(t, ast.Name) and t.id == attr for t in targets):
                    return item.lineno
            return node.lineno
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    """What ``value`` is, for a message: ``a str '60'``, ``a list [1, 2]``."""
    text = repr(value)
    kind = type(value).__name__
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} {text if len(text) <= 40 else text[:37] + '...'}"


Refuse = Callable[[str | None, str], PluginError]


def _check_class(path: Path, cls: type[Strategy]) -> None:
    """What a plugin must declare, checked before anything runs it: each attribute the
    Strategy base class declares has its type (PluginError naming the file:line of the
    attribute, what it is and what it should be), and the hooks it needs are defined."""
    def refuse(attr: str | None, text: str) -> PluginError:
        line = _attribute_line(path, cls, attr.split("[", 1)[0] if attr else None)
        return PluginError(f"{path}{f':{line}' if line else ''}: {cls.__name__}{'.' + attr if attr else ''} {text}")

    for attr in ("name", "description", "data"):
        value = getattr(cls, attr)
        if _own(cls, attr) and not isinstance(value, str | os.PathLike):
            raise refuse(attr, f"is {_kind(value)}; expected a str, e.g. {attr} = {str(value)!r}")
    if not isinstance(cls.params, dict):
        raise refuse("params", f"is {_kind(cls.params)}; expected a dict of name -> Param(...), e.g. "
                               "params = {\"fast\": Param(20, low=2, high=500)}")
    for key, param in cls.params.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise refuse("params", f"has the key {key!r}; expected param names that are identifiers (str)")
        if not isinstance(param, Param):
            raise refuse(f"params[{key!r}]", f"is {param!r}; write Param({param!r}, ...)")
        _check_param(key, param, refuse)
    _check_declared(cls, refuse)
    _check_settings(cls, refuse)
    for hook in HOOKS:
        value = getattr(cls, hook, None)
        if _own(cls, hook) and value is not None and not callable(value):
            raise refuse(hook, f"is {_kind(value)}; expected a method, def {hook}(self, ...)")
    # the rule: across the assets (weights) or per instrument (signals)
    required: tuple[str, ...] = () if callable(getattr(cls, "weights", None)) else ("signals",)
    required += ("labels", "walk_forward") if cls.network else ()
    missing = [m for m in required if getattr(cls, m) is getattr(Strategy, m)]
    if missing:
        need = " and ".join(f"{m}()" for m in missing)
        why = f" (it declares network={cls.network!r})" if cls.network else ""
        raise PluginError(f"{path}: {cls.__name__} must implement {need}{why}")


def _own(cls: type, attr: str) -> bool:
    """``attr`` is declared by the plugin (or a class of its own between it and Strategy)."""
    return any(attr in vars(k) for k in cls.__mro__ if k not in Strategy.__mro__)


def _check_declared(cls: type[Strategy], refuse: Refuse) -> None:
    """The model and feature declarations: features, network, training, pooled."""
    for attr, kinds, what in (("features", (str,), f"a feature set name ({', '.join(FEATURE_SETS)}) or None"),
                              ("network", (str,), "a network name (mlbt.models.NETWORKS) or None"),
                              ("training", (dict,), "a dict of TrainConfig field -> value"),
                              ("pooled", (bool,), "True or False")):
        if not hasattr(cls, attr) or not _own(cls, attr):
            continue
        value = getattr(cls, attr)
        if value is None and attr in ("features", "network"):
            continue
        if not isinstance(value, kinds) or (attr == "pooled" and callable(value)):
            raise refuse(attr, f"is {_kind(value)}; expected {what}")
        if attr == "features" and value not in FEATURE_SETS:
            raise refuse(attr, f"= {value!r} is not a feature set; expected one of {', '.join(FEATURE_SETS)} or None")
        bad = [k for k in value if not isinstance(k, str)] if isinstance(value, dict) else []
        if bad:
            raise refuse(attr, f"has a key that is not a str ({_kind(bad[0])}); expected TrainConfig field names")


def _check_settings(cls: type[Strategy], refuse: Refuse) -> None:
    """Class attributes named like an engine setting (its defaults) hold valid values."""
    for setting in SETTINGS:
        if not _own(cls, setting.name):
            continue
        value = getattr(cls, setting.name)
        if setting.name == "trail" and isinstance(value, bool):
            continue
        if callable(value) or (isinstance(value, str) and setting.kind is not str):
            raise refuse(setting.name, f"is {_kind(value)}; expected {_setting_kind(setting)}, the default of the "
                                       f"engine setting {setting.name} ({setting.rule})")
        try:
            setting.check(value)
        except ValueError as e:
            raise refuse(setting.name, f"is {_kind(value)}; expected {_setting_kind(setting)}: {e}") from None


def _setting_kind(setting: Any) -> str:
    if setting.choices:
        return "a str, one of " + ", ".join(repr(c) for c in setting.choices)
    if setting.kind is bool:
        return "True or False"
    kind = "a whole number (int)" if setting.whole or setting.kind is int else "a number (float)"
    return kind + (" or None" if setting.optional else "")


def _check_param(key: str, param: Param, refuse: Refuse) -> None:
    """A declared Param's own fields have their types, and its default is valid."""
    attr = f"params[{key!r}]"
    if not isinstance(param.default, bool | int | float) or isinstance(param.default, complex):
        raise refuse(attr, f"has the default {_kind(param.default)}; expected an int, float or bool (the param's "
                           "type), e.g. Param(20, low=2, high=500)")
    for field in ("low", "high"):
        value = getattr(param, field)
        if value is not None and not _is_number(value):
            raise refuse(attr, f"has {field} = {value!r} ({type(value).__name__}); expected a number or None")
    if not isinstance(param.doc, str):
        raise refuse(attr, f"has doc = {param.doc!r}; expected a str")
    if not isinstance(param.model, bool):
        raise refuse(attr, f"has model = {param.model!r}; expected True or False")
    try:
        param.check(key, param.default)
    except ValueError as e:
        raise refuse(attr, f"has an invalid default: {e}") from None


def describe(value: Any) -> str:
    """What a hook returned, for a message: its type and shape."""
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    kind = type(value).__name__
    article = "an" if kind[0] in "aeiou" else "a"
    if isinstance(shape, tuple):  # an array, a Series, a DataFrame
        return f"{article} {kind} of shape {shape}"
    if isinstance(value, list | tuple | dict | set):
        return f"{article} {kind} of {len(value)} item(s)"
    text = repr(value)
    return f"{article} {kind} {text if len(text) <= 30 else text[:27] + '...'}"


def hook_site(strategy: Strategy | type, hook: str) -> str:
    """``file:line: Class.hook`` of the plugin's method ``hook`` (where a message about
    what it returned points); ``Class.hook`` when its source is unknown."""
    cls = strategy if isinstance(strategy, type) else type(strategy)
    fn = inspect.unwrap(getattr(cls, hook, None) or (lambda: None))
    code = getattr(fn, "__code__", None)
    name = f"{cls.__name__}.{hook}"
    return f"{code.co_filename}:{code.co_firstlineno}: {name}" if code is not None else name


@contextlib.contextmanager
def plugin_output() -> Iterator[None]:
    """While a plugin's code runs: what it prints goes to stderr, so that a command's
    own stdout (``--json``, ``bt signal``) stays one clean document."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with plugin_output():
            return fn(*args, **kwargs)

    call.__bt_quiet__ = True  # type: ignore[attr-defined]
    return call


def _quiet_hooks(cls: type[Strategy]) -> None:
    """Run every method of the plugin's own (its class and the classes between it and
    Strategy) under ``plugin_output``, wherever bt calls it."""
    done: set[str] = set()
    for klass in cls.__mro__:
        if klass in Strategy.__mro__:
            break
        for name, attr in vars(klass).items():
            if name in done or (name.startswith("__") and name != "__init__"):
                continue
            done.add(name)
            if inspect.isfunction(attr) and not getattr(attr, "__bt_quiet__", False):
                setattr(cls, name, _quiet(attr))
            elif isinstance(attr, staticmethod | classmethod) and inspect.isfunction(attr.__func__):
                setattr(cls, name, type(attr)(_quiet(attr.__func__)))
            elif isinstance(attr, property) and attr.fget is not None and not getattr(attr.fget, "__bt_quiet__", 0):
                setattr(cls, name, property(_quiet(attr.fget), attr.fset, attr.fdel, attr.__doc__))


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
