"""Progress on stderr, drawn by rich. Library code reports through ``logging`` (loggers
under ``mlbt``: INFO for what it did, WARNING for problems it works around), never by
printing; the commands show those records here, and ``--quiet`` keeps only the
warnings.

A record logged with ``extra={"progress": {"task": NAME, "done": D, "total": T}}`` is
a step of the task NAME (a training fold's epochs, a sweep's chunks, the files of a
universe, an audit's cuts): on a terminal it moves that task's bar (its message
beside the bar, the elapsed time and an ETA), and the bar goes when D reaches T. Off
a terminal only the last step's message is written, as a line, so a log file gets
milestones and not one line per epoch (none with ``"line": False``, for a task whose
caller logs its own summary line). Other records are lines.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


def bars(console: Console) -> Progress:
    """The progress display: task, bar, steps, message, elapsed time and ETA."""
    return Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=console, transient=True, refresh_per_second=4)


class ProgressDisplay(logging.Handler):
    """Shows mlbt's records on ``stream`` (the current ``sys.stderr`` by default): live
    bars for progress steps on a terminal, lines otherwise."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self.console = Console(file=self.stream, highlight=False, markup=False, emoji=False)
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def _line(self, text: str, warning: bool) -> None:
        if self.progress is not None:  # above the bars
            self.progress.console.print(Text(text, style="yellow" if warning else ""))
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _step(self, event: dict[str, Any], text: str) -> None:
        name, done, total = str(event["task"]), float(event["done"]), event.get("total")
        finished = total is not None and done >= float(total)
        if not self.live:
            if finished and event.get("line", True):
                self._line(text, False)
            return
        if self.progress is None:
            self.progress = bars(self.console)
            self.progress.start()
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=None if total is None else float(total), info="")
        task = self.tasks[name]
        self.progress.update(task, completed=done, info=text)
        if finished:
            self.progress.remove_task(self.tasks.pop(name))
            if not self.tasks:  # no bar left: lines (and the command's own output) print plainly again
                self.progress.stop()
                self.progress = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            warning = record.levelno >= logging.WARNING
            if warning and not text.startswith("warning"):
                text = f"warning: {text}"
            event = getattr(record, "progress", None)
            if isinstance(event, dict) and not warning:
                self._step(event, text)
            else:
                self._line(text, warning)
        except Exception:  # a display must never break the run it shows
            self.handleError(record)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
            self.tasks.clear()
        super().close()


@contextmanager
def reporting(quiet: bool) -> Iterator[None]:
    """Show mlbt's log records on stderr while the block runs: progress and warnings,
    or only warnings when ``quiet``."""
    logger = logging.getLogger("mlbt")
    handler = ProgressDisplay()
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


def quiet_for(quiet: bool, as_json: bool) -> bool:
    """Whether a command's progress is silenced: ``--quiet``, or ``--json`` when stderr
    is not a terminal (a pipeline reads one clean JSON document and no chatter)."""
    return quiet or (as_json and not sys.stderr.isatty())
