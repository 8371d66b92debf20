"""How the ``bt`` commands fail: bad input (a path, data, a param, a setting, a
plugin) is one line on stderr and exit code 2; ``--debug`` shows the traceback; a bug
in bt itself keeps its traceback."""

from __future__ import annotations

from typing import NoReturn

import click

from mlbt.strategy import PluginError
from mlbt.strategy.plugins import plugin_frame


class UserError(click.ClickException):
    """A problem with the user's input: printed as one line, exit code 2."""

    exit_code = 2


#: Exception types that mean bad input (path, data, param, plugin) wherever they come from.
USER_ERRORS: tuple[type[Exception], ...] = (ValueError, OSError, KeyError)


def fail(debug: bool, exc: Exception, user_errors: tuple[type[Exception], ...] = USER_ERRORS) -> NoReturn:
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
