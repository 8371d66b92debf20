"""The ``bt`` command line: ``bt run``, ``sweep``, ``report``, ``check``, ``signal``,
``train`` and ``data``."""

from mlbt.cli.main import main

__all__ = ["main"]
