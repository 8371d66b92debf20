"""``bt data list`` and ``bt data show``: what data bt has and what is in a source."""

from __future__ import annotations

import json
import warnings
from typing import Any

import click

from mlbt.cli.errors import UserError, fail
from mlbt.cli.options import json_option, selection_options
from mlbt.data import check, fingerprint, load
from mlbt.data.samples import SAMPLES
from mlbt.data.validate import spacing, step_name
from mlbt.io import json_safe


@click.group("data")
def data_group() -> None:
    """Inspect embedded samples and data files."""


@data_group.command("list")
@json_option("the samples")
def list_samples(as_json: bool) -> None:
    """The embedded real-data samples: name, instrument, frequency, bars, range."""
    rows: list[dict[str, Any]] = []
    for name, sample in sorted(SAMPLES.items()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bars = load(name)
        rows.append({"name": name, "instrument": sample.instrument, "frequency": sample.frequency,
                     "bars": len(bars), "start": str(bars.index[0]), "end": str(bars.index[-1]),
                     "columns": list(bars.columns), "origin": sample.origin})
    if as_json:
        click.echo(json.dumps(json_safe(rows), default=str))
        return
    header = ("name", "instrument", "frequency", "bars", "range (UTC)")
    table = [(r["name"], r["instrument"], r["frequency"], f"{r['bars']:,}", f"{r['start'][:16]} .. {r['end'][:16]}")
             for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table, strict=True)]
    for row in (header, *table):
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())


@data_group.command("show")
@click.argument("source")
@selection_options
@json_option("the summary and the validation report")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def show(source: str, symbol: str | None, start: str | None, end: str | None, timeframe: str | None,
         repair: tuple[str, ...], as_json: bool, debug: bool) -> None:
    """Summary and validation report of SOURCE (sample name, file path or synthetic: spec).

    Exits 2 when the data has errors (every error is listed)."""
    try:
        bars = load(source, symbol=symbol, start=start, end=end, timeframe=timeframe, repair=tuple(repair),
                    warn=False, validate=False)
        report = check(bars, source=source)
    except (ValueError, OSError) as exc:
        fail(debug, exc)
    synthetic = bool(bars.attrs.get("synthetic"))
    summary: dict[str, Any] = {
        "source": source, "synthetic": synthetic, "bars": len(bars),
        "start": str(bars.index[0]) if len(bars) else None, "end": str(bars.index[-1]) if len(bars) else None,
        "spacing": step_name(spacing(bars.index)) if len(bars) > 2 else None, "columns": list(bars.columns),
        "fingerprint": fingerprint(bars),
        "problems": [{"severity": p.severity, "check": p.check, "column": p.column, "count": p.count,
                      "message": p.message} for p in report.problems],
    }
    if len(bars) and "close" in bars:
        close = bars["close"]
        summary["close"] = {"first": float(close.iloc[0]), "last": float(close.iloc[-1]),
                            "min": float(close.min()), "max": float(close.max())}
    if as_json:
        click.echo(json.dumps(json_safe(summary), default=str))
    else:
        label = "  (SYNTHETIC data, not market prices)" if synthetic else ""
        click.echo(f"source       {source}{label}")
        for key in ("bars", "start", "end", "spacing"):
            value = summary[key]
            click.echo(f"{key:<12} {value:,}" if isinstance(value, int) else f"{key:<12} {value}")
        click.echo(f"columns      {', '.join(summary['columns'])}")
        if "close" in summary:
            c = summary["close"]
            click.echo(f"close        first {c['first']:,.4f}  last {c['last']:,.4f}  "
                       f"min {c['min']:,.4f}  max {c['max']:,.4f}")
        click.echo(f"fingerprint  {summary['fingerprint'][:16]}")
        click.echo("validation   " + ("ok" if not report.problems else f"{len(report.errors)} error(s), "
                                       f"{len(report.warnings)} warning(s)"))
        for p in report.problems:
            click.echo(f"  {p.severity}: {p.message}")
    if report.errors:
        raise UserError(f"{source}: {len(report.errors)} data error(s); see the report above")
