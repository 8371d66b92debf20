"""Error reporting shared by the ``bt`` commands: one line, exit code 2."""

from __future__ import annotations

import click


class UserError(click.ClickException):
    """A problem with the user's input: printed as one line, exit code 2."""

    exit_code = 2


def fail(debug: bool, exc: Exception):
    """Re-raise ``exc`` with its traceback under ``--debug``, else as one UserError line."""
    if debug:
        raise exc
    raise UserError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
