"""Progress on stderr. Library code reports through ``logging`` (loggers under
``mlbt``: INFO for progress, WARNING for problems it works around); the commands show
those records here, and ``--quiet`` keeps only the warnings. A record logged with
``extra={"progress": True}`` is a counter that rewrites its own line on a terminal."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class StderrProgress(logging.Handler):
    """Writes each record's message as one line on the current ``sys.stderr``."""

    def __init__(self) -> None:
        super().__init__()
        self._open_line = False  # a progress counter is on the line (terminal only)

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr
        text = record.getMessage()
        if record.levelno >= logging.WARNING and not text.startswith("warning"):
            text = f"warning: {text}"
        counter = getattr(record, "progress", False) and stream.isatty()
        if counter:
            stream.write("\r" + text)
            self._open_line = True
        else:
            stream.write(("\n" if self._open_line else "") + text + "\n")
            self._open_line = False
        stream.flush()

    def close(self) -> None:
        if self._open_line:
            sys.stderr.write("\n")
            self._open_line = False
        super().close()


@contextmanager
def reporting(quiet: bool) -> Iterator[None]:
    """Show mlbt's log records on stderr while the block runs: progress and warnings,
    or only warnings when ``quiet``."""
    logger = logging.getLogger("mlbt")
    handler = StderrProgress()
    before, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False  # shown here once, not again by a root handler
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(before)
        logger.propagate = propagate
