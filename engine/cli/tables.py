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
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from mlbt.report.formatting import fmt, is_undefined, metric_groups, undefined

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
        rows = [(k, fmt(v, k, bar=bar), v) for k, v in ml.items() if not isinstance(v, Mapping)]  # skill: below
        grid.add_row(_pairs("", [("model (out of sample)", rows)]), "")
    return grid


def skill_lines(skill: Mapping[str, Any]) -> list[str]:
    """The model against its naive baselines (``ml["skill"]``, from ``mlbt.models.skill``)
    as lines: the test and its verdict, then the classifiers' other baseline and AUC."""
    classifier = "majority_rate" in skill
    base = skill.get("baseline")
    if classifier:
        base = f"{base} ({fmt(skill.get('majority_rate'), 'accuracy')})"
    stat = (f"accuracy {fmt(skill.get('statistic'), 'accuracy')}" if classifier
            else f"statistic {fmt(skill.get('statistic'), 'change_correlation')}")
    r2 = f", R² OOS {fmt(skill['r2_oos'], 'share')}" if "r2_oos" in skill else ""
    lines = [f"skill vs {base}: {skill.get('test')} {stat}{r2}: {skill.get('verdict')}"]
    if classifier and not is_undefined(skill.get("previous_accuracy")):
        lines.append(f"  vs previous direction (the latest known label): accuracy "
                     f"{fmt(skill.get('previous_accuracy'), 'accuracy')}")
    if not is_undefined(skill.get("auc")):
        lines.append(f"  AUC {fmt(skill.get('auc'), 'roc_auc')} (95% DeLong CI {fmt(skill.get('auc_low'), 'roc_auc')}"
                     f" to {fmt(skill.get('auc_high'), 'roc_auc')}), Mann-Whitney vs 0.5: {skill.get('auc_verdict')}")
    return lines


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
    # a Group: rich would join consecutive Texts into one line
    skill = [Group(*(Text(s) for s in skill_lines(ml["skill"])))] if isinstance(ml.get("skill"), Mapping) else []
    emit(metrics_table(stats, ml, bar=bar, index=index), *skill, *([Text(line, style="dim")] if line else []))


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
