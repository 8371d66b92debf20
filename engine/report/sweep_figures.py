"""The sweep report: top-N table, the metric against each swept param, 2-D heatmaps
for each pair of params, parallel coordinates for more than two params, and the
Deflated Sharpe Ratio of the best combination.

Input: a sweep directory (``bt sweep --out``: ``_manifest.json``, ``_combos.parquet``,
Parquet parts, and ``_report.json`` with the exact DSR when ``bt sweep`` stored it) or
a SweepData built in memory. A walk-forward sweep (a ``fold`` column) is summarized
per combination by the mean over folds.

Aggregation: where other params vary too, "metric vs param" draws, for each value of
the param, the best and the median metric over all combinations with that value; a
heatmap cell holds the best metric over the combinations with that pair of values.
"Best" is the highest value, the lowest for metrics where lower is better.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlbt.report.formatting import fmt, param_text
from mlbt.report.html import COMPACT_TOP, Block, Figure, Section, compact_title, esc, graph_objects, page, table
from mlbt.report.pbo_figures import is_oos_scatter, logit_histogram
from mlbt.sim import LOWER_IS_BETTER
from mlbt.sweep import Overfitting, table_overfitting
from mlbt.sweep.dsr import deflated_sharpe
from mlbt.sweep.store import COMBOS, MANIFEST, read_sweep

MAX_PAIRS = 6  # heatmaps drawn (pairs of params)
MAX_PARCOORDS_ROWS = 5000  # combinations drawn as lines (the best ones)

if TYPE_CHECKING:
    from plotly.graph_objects import Figure as PlotlyFigure


@dataclass
class SweepData:
    """A sweep's results: ``table`` (a row per combination: combo, params, metrics),
    ``combos`` (the combination list), its ``manifest``, ranking ``metric`` and, when
    known, the exact DSR as a dict (mlbt.sweep.dsr.DeflatedSharpe.to_dict()) and the
    probability of backtest overfitting (else computed from the table's block sums)."""

    table: pd.DataFrame
    combos: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    metric: str = "sharpe"
    dsr: dict[str, Any] | None = None
    pbo: Overfitting | None = None

    @property
    def params(self) -> list[str]:
        return [c for c in self.combos.columns if c in self.table.columns]


def load_sweep(path: str | os.PathLike, metric: str | None = None) -> SweepData:
    """A SweepData of the sweep directory ``path``; ValueError when it is not one or
    holds no finished chunk."""
    path = Path(path)
    if not (path / MANIFEST).is_file():
        raise ValueError(f"{path}: not a sweep directory (no {MANIFEST}); write one with bt sweep ... --out DIR")
    manifest = json.loads((path / MANIFEST).read_text())
    extras_path = path / "_report.json"
    extras = json.loads(extras_path.read_text()) if extras_path.is_file() else {}
    table = read_sweep(path)
    if table.empty:
        raise ValueError(f"{path}: the sweep has no stored results yet; finish it with bt sweep ... --resume")
    combos = pd.read_parquet(path / COMBOS) if (path / COMBOS).is_file() else pd.DataFrame()
    stored_metric = extras.get("metric") or "sharpe"
    dsr = extras.get("dsr") if (metric is None or metric == stored_metric) else None
    return SweepData(table=table, combos=combos, manifest=manifest, metric=metric or stored_metric, dsr=dsr)


def per_combo(data: SweepData) -> pd.DataFrame:
    """One row per combination (folds averaged for a walk-forward sweep)."""
    t = data.table
    if "fold" not in t.columns:
        return t
    params = data.params
    metrics = [c for c in t.columns if c not in ("combo", "fold", *params)]
    out = t.groupby("combo", sort=True)[metrics].mean(numeric_only=True)
    first = t.groupby("combo", sort=True)[params].first()
    return pd.concat([first, out], axis=1).reset_index()


def ranked(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Best first by ``metric`` (NaN last, ties by combination id)."""
    if metric not in frame.columns:
        raise ValueError(f"metric {metric!r} is not in the sweep's table; columns: {', '.join(frame.columns)}")
    asc = metric in LOWER_IS_BETTER
    return frame.sort_values([metric, "combo"], ascending=[asc, True], na_position="last", kind="stable")


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _axis_values(s: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """Numeric values of a param for plotting, or category codes with their labels."""
    if _is_numeric(s):
        return s.to_numpy(dtype="float64"), None
    labels = [str(v) for v in pd.unique(s.astype(str))]
    return s.astype(str).map({v: i for i, v in enumerate(labels)}).to_numpy(dtype="float64"), labels


def metric_vs_param_figure(frame: pd.DataFrame, param: str, metric: str) -> PlotlyFigure:
    """Best and median ``metric`` at each value of ``param``."""
    go = graph_objects()

    numeric = _is_numeric(frame[param])
    key = frame[param] if numeric else frame[param].astype(str)
    g = frame.groupby(key, sort=True, dropna=False)[metric]
    best = g.min() if metric in LOWER_IS_BETTER else g.max()
    med = g.median()
    x = best.index.to_numpy(dtype="float64") if numeric else [str(v) for v in best.index]
    mode = "lines+markers" if len(best) > 1 else "markers"
    fig = go.Figure([go.Scatter(x=x, y=best.to_numpy(dtype="float64"), mode=mode, name="best"),
                     go.Scatter(x=x, y=med.to_numpy(dtype="float64"), mode=mode, name="median",
                                line=dict(dash="dot"))])
    # the legend at the foot of the figure, below the x-axis title (not over it)
    fig.update_layout(title=compact_title(f"{metric} vs {param}"), height=360, width=420,
                      margin=dict(l=60, r=20, t=COMPACT_TOP, b=80),
                      legend=dict(orientation="h", x=0, y=0, xref="container", yref="container", yanchor="bottom"),
                      template="none", xaxis=dict(title=dict(text=param, standoff=8), automargin=True),
                      yaxis=dict(title=dict(text=metric, standoff=8), automargin=True))
    return fig


def heatmap_figure(frame: pd.DataFrame, a: str, b: str, metric: str) -> PlotlyFigure:
    """Best ``metric`` over each (a, b) pair of values: a across, b down."""
    go = graph_objects()

    ka, kb = frame[a].astype(str), frame[b].astype(str)
    g = frame.assign(_a=ka, _b=kb).groupby(["_b", "_a"], sort=False)[metric]
    agg = (g.min() if metric in LOWER_IS_BETTER else g.max()).unstack("_a")
    order = lambda vals, col: sorted(vals, key=lambda v: _sort_key(frame[col], v))
    agg = agg.reindex(index=order(agg.index, b), columns=order(agg.columns, a))
    fig = go.Figure(go.Heatmap(z=agg.to_numpy(dtype="float64"), x=list(agg.columns), y=list(agg.index),
                               colorscale="Viridis", colorbar=dict(title=dict(text=metric)), hoverongaps=False))
    # automargin: the margins grow to fit long category labels (0.0005, a rotated row of
    # them), and standoff keeps each axis title clear of its labels
    fig.update_layout(title=compact_title(f"best {metric} by {a} and {b}"), height=380, width=520,
                      margin=dict(l=60, r=20, t=COMPACT_TOP, b=40), template="none",
                      xaxis=dict(title=dict(text=a, standoff=8), type="category", automargin=True),
                      yaxis=dict(title=dict(text=b, standoff=8), type="category", automargin=True))
    return fig


def _sort_key(col: pd.Series, value: str):
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def parcoords_figure(frame: pd.DataFrame, params: list[str], metric: str,
                     max_rows: int = MAX_PARCOORDS_ROWS) -> PlotlyFigure:
    """Parallel coordinates of the params and the metric, coloured by the metric;
    at most ``max_rows`` combinations (the best ones)."""
    go = graph_objects()

    shown = ranked(frame, metric).head(max_rows)
    dims = []
    for p in params:
        vals, labels = _axis_values(shown[p])
        d = dict(label=p, values=vals)
        if labels is not None:
            d.update(tickvals=list(range(len(labels))), ticktext=labels)
        dims.append(d)
    m = shown[metric].to_numpy(dtype="float64")
    dims.append(dict(label=metric, values=m))
    fig = go.Figure(go.Parcoords(line=dict(color=np.nan_to_num(m, nan=np.nanmin(m) if np.isfinite(m).any() else 0),
                                           colorscale="Viridis", showscale=True), dimensions=dims))
    note = f" (best {len(shown):,} of {len(frame):,})" if len(shown) < len(frame) else ""
    fig.update_layout(title=dict(text=f"Parallel coordinates{note}"), height=420, margin=dict(l=60, r=60, t=80, b=30))
    return fig


def estimate_dsr(frame: pd.DataFrame, metric: str, manifest: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """(DSR of the best combination by ``metric`` from the table alone, whether it is
    exact). Per-bar Sharpe = annual Sharpe / sqrt(ppy), T = bars, with the best row's
    skew and kurtosis. Exact when the manifest records the sweep's ``periods_per_year``
    and the table has the moments (sweeps since format v2); otherwise ppy comes from the
    bars and date range and/or returns are taken as normal (skew 0, kurtosis 3), an
    estimate. (None, False) when not even that is possible."""
    bars = manifest.get("bars")
    if not bars or "sharpe" not in frame.columns:
        return None, False
    ppy = manifest.get("periods_per_year")
    if not ppy:
        try:
            start, end = pd.Timestamp(manifest["start"]), pd.Timestamp(manifest["end"])
        except (KeyError, ValueError, TypeError):
            return None, False
        years = (end - start).total_seconds() / (365.25 * 86400)
        if years <= 0:
            return None, False
        ppy = (bars - 1) / years
    best = ranked(frame, metric).iloc[0]
    if not np.isfinite(best["sharpe"]):
        return None, False
    moments = "skew" in frame.columns and "kurtosis" in frame.columns
    skew, kurt = (float(best["skew"]), float(best["kurtosis"]) + 3.0) if moments else (0.0, 3.0)
    scale = math.sqrt(ppy)
    d = deflated_sharpe(float(best["sharpe"]) / scale, frame["sharpe"].to_numpy(dtype="float64") / scale, int(bars),
                        skew, kurt)
    return d.to_dict(), moments and bool(manifest.get("periods_per_year"))


def _dsr_block(data: SweepData, frame: pd.DataFrame) -> str:
    d, exact = data.dsr, True
    if d is None:
        d, exact = estimate_dsr(frame, data.metric, data.manifest)
    if d is None:
        return '<p class="note">Deflated Sharpe Ratio: not available (no finite Sharpe ratio).</p>'
    how = ("from the best combination's returns (their skewness and kurtosis)" if exact else
           "ESTIMATE from the table alone (a sweep from before bt stored its annualization and return moments: "
           "periods per year from the dates, normal returns where skew and kurtosis are missing); rerun bt sweep "
           "to get the exact value")
    rows = [("DSR (probability the true Sharpe > 0 after selection)", _f(d.get("dsr"))),
            ("per-bar Sharpe of the best", _f(d.get("sharpe"))),
            ("expected best per-bar Sharpe of the trials under the null (SR0)", _f(d.get("sharpe_0"))),
            ("trials", _f(d.get("trials"))), ("variance of the trials' Sharpe", _f(d.get("trials_sharpe_var"))),
            ("observations (bars)", _f(d.get("observations"))), ("skewness", _f(d.get("skew"))),
            ("kurtosis (non-excess: 3 for normal returns)", _f(d.get("kurtosis")))]
    return (f'<p class="note">Deflated Sharpe Ratio (Bailey and López de Prado, 2014) of the best combination '
            f"by {esc(data.metric)}, {esc(how)}.</p>" + table(["", ""], rows, cls="kv"))


def _pbo_blocks(data: SweepData) -> list[Block | Figure]:
    """The probability of backtest overfitting of the sweep, from its table's per-block
    return sums (CSCV, ``mlbt.sweep.pbo``): a summary, the logit histogram and the IS vs
    OOS scatter; a note saying why when there is none."""
    m = data.manifest
    n_blocks = int(m.get("pbo_blocks") or 0)
    pbo = data.pbo
    if pbo is None and "fold" not in data.table:
        pbo = table_overfitting(data.table, n_blocks, int(m.get("bars") or 0))
    if pbo is None:
        why = ("a walk-forward sweep's table is in-sample per fold" if "fold" in data.table else
               "the sweep kept no per-block returns (--pbo-blocks 0, or a sweep from before bt kept them)"
               if not n_blocks and data.pbo is None else "fewer than two combinations")
        return [Block(f'<p class="note">Probability of backtest overfitting: not available ({esc(why)}).</p>')]
    g = pbo.degradation
    rows = [("PBO (share of splits where the in-sample best ranks at or below the out-of-sample median)",
             _f(pbo.pbo)), ("blocks S", _f(pbo.blocks)), ("splits C(S, S/2)", _f(pbo.combinations)),
            ("combinations", _f(pbo.columns)), ("slope of OOS on IS per-bar Sharpe", _f(g.slope)),
            ("intercept", _f(g.intercept)), ("share of splits with an OOS loss", _f(g.prob_oos_loss)),
            ("mean OOS relative rank of the IS best (0.5: the median)", _f(g.mean_relative_rank))]
    note = ('<p class="note">Probability of backtest overfitting (Bailey, Borwein, López de Prado and Zhu, 2017) of '
            "choosing the combination with the best Sharpe ratio, by combinatorially symmetric cross-validation "
            "over the bars cut into blocks.</p>")
    return [Block(note + table(["", ""], rows, cls="kv") + '<div class="row">'),
            Figure("fig-pbo-logits", logit_histogram(pbo)), Figure("fig-pbo-scatter", is_oos_scatter(pbo)),
            Block("</div>")]


def _f(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    return fmt(v)


def _header(data: SweepData, n_rows: int) -> str:
    m = data.manifest
    synthetic = " (SYNTHETIC data)" if "synthetic" in str(m.get("data", "")).lower() else ""
    rows = [("strategy", m.get("strategy", "")), ("plugin", m.get("plugin", "")),
            ("data", f"{m.get('data', '')}{synthetic}"),
            ("range", f"{m.get('start', '?')} .. {m.get('end', '?')} ({_f(m.get('bars'))} bars)"),
            ("grid", "; ".join(str(g) for g in m.get("grid") or []) or "-"),
            ("constraints", "; ".join(m.get("constraints") or []) or "-"),
            ("combinations", f"{n_rows:,} with results of {_f(m.get('combos'))}"
                             + ("" if m.get("complete", True) else " (sweep not complete)")),
            ("fixed params", ", ".join(f"{k}={v}" for k, v in (m.get("params") or {}).items()) or "-"),
            ("engine", ", ".join(f"{k}={v}" for k, v in (m.get("engine") or {}).items()) or "-"),
            ("walk-forward folds", m.get("walk_forward") or "-"),
            ("data fingerprint", m.get("data_fingerprint", "-")), ("plugin SHA-256", m.get("plugin_sha256", "-")),
            ("ranked by", data.metric)]
    return f"<h1>Sweep: {esc(m.get('strategy', ''))}{esc(synthetic)}</h1>" + table(["", ""], rows, cls="kv")


def sweep_sections(data: SweepData, top: int = 20) -> list[Section]:
    """The report's sections for ``data``."""
    frame = per_combo(data)
    metric, params = data.metric, data.params
    best = ranked(frame, metric)
    shown_metrics = list(dict.fromkeys([metric, "sharpe", "psr", "total_return", "cagr", "max_drawdown", "trades",
                                        "win_rate"]))
    shown_metrics = [c for c in shown_metrics if c in frame.columns]
    cols = ["combo", *params, *shown_metrics]
    rows = [[param_text(v) if c in params else fmt(v, c) for c, v in zip(cols, r, strict=True)]
            for r in best.head(top)[cols].itertuples(index=False)]
    wf = " (mean over walk-forward folds)" if "fold" in data.table.columns else ""
    sections = [Section("Is it skill? Deflated Sharpe Ratio and probability of backtest overfitting",
                        [Block(_dsr_block(data, frame)), *_pbo_blocks(data)], anchor="dsr"),
                Section(f"Top {min(top, len(frame))} by {metric}{wf}", [Block(table(cols, rows))], anchor="top")]
    varying = [p for p in params if frame[p].astype(str).nunique() > 1]
    if varying:
        sections.append(Section(f"{metric} vs each param", [
            Block('<div class="row">'),
            *[Figure(f"fig-vs-{i}", metric_vs_param_figure(frame, p, metric)) for i, p in enumerate(varying)],
            Block("</div>")], anchor="params"))
    pairs = list(itertools.combinations(varying, 2))
    if pairs:
        note = f" (first {MAX_PAIRS} of {len(pairs)} pairs)" if len(pairs) > MAX_PAIRS else ""
        sections.append(Section(f"Param pairs{note}", [
            Block('<div class="row">'),
            *[Figure(f"fig-pair-{i}", heatmap_figure(frame, a, b, metric)) for i, (a, b) in
              enumerate(pairs[:MAX_PAIRS])],
            Block("</div>")], anchor="pairs"))
    if len(varying) > 2:
        sections.append(Section("Parallel coordinates", [Figure("fig-parcoords",
                                                                parcoords_figure(frame, varying, metric))],
                                anchor="parcoords"))
    return sections


def sweep_report_html(source: str | os.PathLike | SweepData, *, metric: str | None = None, top: int = 20,
                      dsr: dict[str, Any] | None = None) -> str:
    """The sweep report of a sweep directory or a SweepData, as an HTML string."""
    data = source if isinstance(source, SweepData) else load_sweep(source, metric)
    if metric is not None:
        data.metric = metric
    if dsr is not None:
        data.dsr = dsr
    return page(f"bt sweep: {data.manifest.get('strategy', '')}", _header(data, len(per_combo(data))),
                sweep_sections(data, top))
