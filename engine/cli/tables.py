"""Tables on the terminal, drawn by rich: the metrics of a run in their groups beside
the model's, and ranked rows (a sweep, a universe's assets). Cells are formatted by
``mlbt.report.formatting``, the same rules as the tearsheets. Colour only on a
terminal, and never when ``NO_COLOR`` is set (rich's own rules); plain text otherwise."""

from __future__ import annotations

import io
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlbt.report.formatting import fmt, metric_groups, undefined

PLAIN_WIDTH = 200  # columns when stdout is not a terminal: a table is never wrapped into a pipe or a file
#: Metrics whose sign is the news: green when positive, red when negative (on a terminal).
SIGNED = {"total_return", "cagr", "buy_hold_return"}


def emit(*renderables: Any) -> None:
    """Print ``renderables`` on the current stdout (which a test may have replaced): in
    colour on a terminal, else as plain text whose lines carry no trailing blanks."""
    out = sys.stdout
    if out.isatty():
        Console(file=out, highlight=False, emoji=False, markup=False).print(*renderables)
        return
    buffer = io.StringIO()
    Console(file=buffer, width=PLAIN_WIDTH, color_system=None, highlight=False, emoji=False, markup=False,
            soft_wrap=True).print(*renderables)
    out.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))
    out.flush()


def _value(key: str, text: str, raw: Any) -> Text:
    style = ""
    if key in SIGNED and isinstance(raw, int | float) and raw == raw:
        style = "green" if raw > 0 else "red" if raw < 0 else ""
    return Text(text, style=style or ("dim" if text == "-" else ""))


def _pairs(title: str, groups: Sequence[tuple[str, Sequence[tuple[str, str, Any]]]]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    if title:
        table.add_row(Text(title, style="bold underline"), "")
    for name, rows in groups:
        if name:
            table.add_row(Text(name, style="bold"), "")
        for key, text, raw in rows:
            table.add_row(Text(f"  {key}" if name else key), _value(key, text, raw))
    return table


def metrics_table(stats: Mapping[str, Any], ml: Mapping[str, Any], *, bar: pd.Timedelta | None,
                  index: pd.Index | None = None) -> Table:
    """The trading metrics in their groups, in two columns (return and risk; trades,
    costs and buy-and-hold); the model's out-of-sample metrics below them."""
    groups = [(name, [(r.key, r.text, stats[r.key]) for r in rows])
              for name, rows in metric_groups(stats, bar=bar, index=index)]
    half = next((i for i, (name, _) in enumerate(groups) if name == "trades"), len(groups))
    grid = Table.grid(padding=(0, 6))
    grid.add_row(_pairs("", groups[:half]), _pairs("", groups[half:]))
    if ml:
        grid.add_row("", "")
        grid.add_row(_pairs("", [("model (out of sample)", [(k, fmt(v, k, bar=bar), v) for k, v in ml.items()])]),
                     "")
    return grid


def undefined_line(stats: Mapping[str, Any]) -> str:
    """One line saying why each metric shown as '-' is undefined ('' when none is)."""
    by_reason: dict[str, list[str]] = {}
    for key, reason in undefined(stats).items():
        by_reason.setdefault(reason, []).append(key)
    if not by_reason:
        return ""
    return "-: " + "; ".join(f"{', '.join(keys)} ({reason})" for reason, keys in by_reason.items())


def print_metrics(stats: Mapping[str, Any], ml: Mapping[str, Any], *, bar: pd.Timedelta | None,
                  index: pd.Index | None = None) -> None:
    """Print a run's metrics table and the line that explains its '-' cells."""
    line = undefined_line(stats)
    emit(metrics_table(stats, ml, bar=bar, index=index), *([Text(line, style="dim")] if line else []))


def rows_table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> Table:
    """A table of formatted cells under bold headers; the first ``left`` columns are
    left-aligned (names), the rest right-aligned (numbers)."""
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold")
    for i, c in enumerate(columns):
        table.add_column(Text(c), justify="left" if i < left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(v, style="dim" if v == "-" else "") for v in row))
    return table


def print_table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> None:
    emit(rows_table(columns, rows, left=left))
