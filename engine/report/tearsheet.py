"""Run and sweep reports as single self-contained HTML files.

``write_run_report(run, path)`` writes the tearsheet of a RunData (from ``bt run`` or a
directory saved with ``--save``); ``write_sweep_report(sweep_dir, path)`` the report
of a stored sweep. Both write under a temporary name beside ``path`` and rename it
into place, so a report is either complete or absent. plotly is imported here, not
by ``mlbt.report`` itself, so nothing loads it until a report is written.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlbt.io import write_text
from mlbt.report import analytics
from mlbt.report import ml_figures as mf
from mlbt.report import run_figures as rf
from mlbt.report.formatting import fmt
from mlbt.report.html import Block, Figure, Section, page, table
from mlbt.report.portfolio_sheet import portfolio_sections
from mlbt.report.rundata import RunData
from mlbt.report.sheet_blocks import account, calendar_section, header, performance_section, trades_section
from mlbt.report.sweep_figures import SweepData, sweep_report_html
from mlbt.strategy.twins import LEVEL


def default_report_name(strategy: str, when: float | None = None) -> str:
    """``<strategy>-YYYYmmdd-HHMMSS.html`` (local time), characters other than
    letters, digits, '-', '_' and '.' in the name replaced by '_'."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in strategy) or "report"
    return f"{safe}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}.html"


# -- run tearsheet ------------------------------------------------------------------

def run_sections(run: RunData) -> list[Section]:
    """The tearsheet's sections for ``run`` (a RunData; a universe's portfolio sheet
    when it is one)."""
    if run.is_universe:
        return portfolio_sections(run)
    cash, ppy = account(run)
    held = analytics.buy_and_hold(run.close, cash, ppy)
    price = Section("Trades on the price", [Figure("fig-price", rf.price_figure(run.close, run.trades))],
                    anchor="price")
    sections = [performance_section(run, held), skill_section(run), price, calendar_section(run, held),
                trades_section(run)]
    if run.funnel:
        sections.append(funnel_section(run.funnel))
    if run.has_model and run.actual is not None:
        sections.append(ml_section(run))
    return sections


def psr_verdict(psr: float | None) -> str:
    """The verdict of a probabilistic Sharpe ratio (the probability that the true Sharpe is > 0)."""
    if psr is None or not np.isfinite(psr):
        return "no verdict: the Sharpe ratio is undefined (the equity never moved)"
    return f"{'evidence' if psr >= 1 - LEVEL else 'no evidence'} of a positive Sharpe ratio at {LEVEL:.0%}"


def skill_section(run: RunData) -> Section:
    """'Is it skill?': one row per question, each with its test, figure and verdict: the
    model against its naive baseline, the strategy against its random-entry twins and
    the probabilistic Sharpe ratio; a question not asked says how to ask it."""
    rows = []
    skill = run.ml.get("skill") if isinstance(run.ml.get("skill"), dict) else None
    if skill is not None:
        rows.append(("Does the model beat its naive baseline?", f"{fmt(skill.get('test'))} vs "
                     f"{fmt(skill.get('baseline'))}", f"p = {fmt(skill.get('p_value'))}", fmt(skill.get("verdict"))))
    elif run.has_model:
        rows.append(("Does the model beat its naive baseline?", "-", "-", "the plugin reports no skill test"))
    t = run.twins
    if t and t.get("trades"):
        beats = t.get("percentile_sharpe")
        rows.append(("Does the timing beat random entries?", f"{t['n']:,} random-entry twins (same trades, holding "
                     f"times and sides; seed {t.get('seed')})",
                     f"Sharpe above {beats:.0f}% of them, p = {fmt(t.get('p_value'))}" if beats is not None else "-",
                     str(t.get("verdict", "")).rsplit(": ", 1)[-1]))
    else:
        rows.append(("Does the timing beat random entries?", "random-entry twins", "-",
                     fmt(t.get("verdict")) if t else "not run: add --twins 1000 to bt run"))
    psr = run.stats.get("psr")
    rows.append(("Is the Sharpe ratio above 0?", "probabilistic Sharpe ratio (Bailey and Lopez de Prado, 2012)",
                 f"PSR = {fmt(psr, 'psr')}", psr_verdict(psr)))
    note = ('<p class="note">Each row asks one question of this run and answers it at the 5% level; see the '
            "README's \"Is it skill?\" for the tests and their references.</p>")
    return Section("Is it skill?", [Block(note + table(["question", "test", "figure", "verdict"], rows))],
                   anchor="skill")


def funnel_section(funnel: dict[str, Any]) -> Section:
    """The signal funnel: per side, each condition of the rule with the bars it passes
    alone and the bars left once it and every condition above it hold."""
    blocks = []
    for side, rows in funnel.items():
        if side == "bars":
            continue
        body = [[r["condition"], fmt(r["alone"]), fmt(r["left"])] for r in rows]
        blocks.append(Block(f'<div style="min-width:420px">{table(["condition", "alone", "left"], body, caption=side)}'
                            "</div>"))
    note = (f'<p class="note">Bars of {fmt(funnel.get("bars"))} on which each condition of the signal rule holds '
            "(alone) and on which it and every condition above it hold (left), at this run's params.</p>")
    return Section("Signal funnel", [Block(note + '<div class="row">'), *blocks, Block("</div>")], anchor="funnel")


def ml_section(run: RunData) -> Section:
    """The ML panel: confusion matrix, ROC with AUC, predicted vs actual, per-fold table."""
    pred, actual = np.asarray(run.prediction, dtype="float64"), np.asarray(run.actual, dtype="float64")
    cm, labels = mf.confusion(pred, actual)
    items: list = []
    if run.ml:
        items.append(Block(table(["model metric (out of sample)", "value"],
                                 [(k, fmt(v, k)) for k, v in run.ml.items() if not isinstance(v, dict)],
                                 cls="metrics")))
    if isinstance(run.ml.get("skill"), dict):
        items.append(Block(skill_table(run.ml["skill"])))
    row = [Figure("fig-confusion", mf.confusion_figure(cm, labels))]
    r = mf.roc(pred, actual)
    if r is not None:
        row.append(Figure("fig-roc", mf.roc_figure(*r)))
    items.append(Block('<div class="row"><div style="width:440px">'))
    items.append(row[0])
    if len(row) > 1:
        items.append(Block('</div><div style="width:440px">'))
        items.append(row[1])
    items.append(Block("</div></div>"))
    if mf.is_direction(pred, actual):
        items.append(Figure("fig-pred-scatter", mf.scatter_figure(pred, actual)))
    if run.folds:
        ft = mf.fold_table(run.folds, pred, actual, run.fold, run.equity.index)
        keys = {"direction_acc": "direction_acc", "accuracy": "direction_accuracy"}
        items.append(Block(table(list(ft.columns), [[fmt(v, keys.get(c, c)) for c, v in zip(ft.columns, r,
                                                                                             strict=True)]
                                                    for r in ft.itertuples(index=False)],
                                 caption="Walk-forward folds (metrics on each fold's out-of-sample bars)")))
    return Section("Model (out of sample)", items, anchor="model")


#: The rows of the skill table after the five every test has: label and formatting key.
SKILL_ROWS = {"r2_oos": ("R² out of sample vs the baseline", "share"), "n": ("predictions", "count"),
              "horizon": ("horizon (bars)", "count"), "accuracy": ("accuracy", "accuracy"),
              "majority_class": ("majority class", ""), "majority_rate": ("majority-class rate", "accuracy"),
              "previous_accuracy": ("accuracy of the previous direction (latest known label)", "accuracy"),
              "auc": ("AUC", "roc_auc"), "auc_low": ("AUC, 95% CI low (DeLong)", "roc_auc"),
              "auc_high": ("AUC, 95% CI high (DeLong)", "roc_auc"),
              "auc_p_value": ("AUC p-value (Mann-Whitney, one-sided vs 0.5)", ""), "auc_verdict": ("AUC verdict", "")}


def skill_table(skill: dict[str, Any]) -> str:
    """'Is it skill?': the model against its naive baseline (``ml["skill"]``, from
    ``mlbt.models.skill``): test, baseline, statistic, p-value and verdict, then the rest."""
    rows = [("test", fmt(skill.get("test"))), ("baseline", fmt(skill.get("baseline"))),
            ("statistic", fmt(skill.get("statistic"), "change_correlation")), ("p-value", fmt(skill.get("p_value"))),
            ("verdict", fmt(skill.get("verdict")))]
    rows += [(label, fmt(skill[k], unit)) for k, (label, unit) in SKILL_ROWS.items() if k in skill]
    return table(["Is it skill?", ""], rows, cls="metrics")


def run_report_html(run: RunData) -> str:
    """The run tearsheet of ``run`` (a RunData) as an HTML string."""
    m = run.meta
    return page(f"bt: {m.get('strategy')} on {m.get('data')}", header(run), run_sections(run))


def write_run_report(run: RunData, path: str | os.PathLike) -> Path:
    """Write the run tearsheet of ``run`` (mlbt.report.RunData) to ``path`` atomically;
    returns the path."""
    return write_text(path, run_report_html(run))


# -- sweep report -------------------------------------------------------------------

def write_sweep_report(sweep_dir: str | os.PathLike | SweepData, path: str | os.PathLike, *,
                       metric: str | None = None, top: int = 20, dsr: dict[str, Any] | None = None) -> Path:
    """Write the report of the sweep stored in ``sweep_dir`` (``bt sweep --out``) to
    ``path`` atomically. ``metric`` ranks (default: the one stored with the sweep,
    else sharpe); ``dsr`` is the sweep's Deflated Sharpe Ratio when the caller has it
    (else the stored one, else an estimate from the table, labelled as such)."""
    return write_text(path, sweep_report_html(sweep_dir, metric=metric, top=top, dsr=dsr))
