"""What the ``bt`` commands share: error reporting (one line, exit code 2), the
``--repair`` option, ``--set`` parsing and loading bars with their warnings."""

from __future__ import annotations

import warnings

import click

from mlbt.data import DataWarning, load
from mlbt.strategy import PluginError
from mlbt.strategy.plugins import plugin_frame

#: ``--repair``, as every command that loads data takes it (passed to ``data.load(repair=...)``).
repair_option = click.option(
    "--repair", multiple=True, type=click.Choice(["duplicates", "gaps"]),
    help="Repair the data first: duplicates keeps the last row of a repeated timestamp, gaps inserts flat "
         "zero-volume bars (repeat for both).")


class UserError(click.ClickException):
    """A problem with the user's input: printed as one line, exit code 2."""

    exit_code = 2


#: Exception types that mean bad input (path, data, param, plugin) wherever they come from.
USER_ERRORS = (ValueError, OSError, KeyError)


def fail(debug: bool, exc: Exception, user_errors: tuple[type[Exception], ...] = USER_ERRORS):
    """Report ``exc`` as one UserError line (exit 2) when it is bad input or was raised
    in a plugin's code (then prefixed with the plugin's file:line); re-raise it with its
    traceback under ``--debug``, and for anything else, which is a bug in bt."""
    where = None if isinstance(exc, PluginError) else plugin_frame(exc)
    if debug or (where is None and not isinstance(exc, user_errors)):
        raise exc
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)  # str(KeyError) adds quotes
    line = str(text).splitlines()[0] if str(text) else type(exc).__name__
    if where is not None:
        line = (f"{where[0]}:{where[1]}: {type(exc).__name__}: {line} (raised in the plugin's code; "
                "--debug shows the traceback)")
    raise UserError(line) from exc


def parse_sets(items: tuple[str, ...]) -> dict[str, str]:
    """``--set NAME=VALUE`` options as a dict of strings (each Param converts its own)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def load_bars(source: str, *, symbol=None, start=None, end=None, timeframe=None, repair=()):
    """data.load, with its DataWarnings collected as strings (the caller prints them
    once the command has succeeded, so an error stays the only line on failure)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        bars = load(source, symbol=symbol, start=start, end=end, timeframe=timeframe, repair=tuple(repair))
    return bars, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
