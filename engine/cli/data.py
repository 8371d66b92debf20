"""``bt data list`` and ``bt data show``: what data bt has and what is in a source."""

from __future__ import annotations

import json
import warnings
from typing import Any

import click
import pandas as pd

from mlbt.cli.errors import UserError, fail
from mlbt.cli.options import json_option, output_options, selection_options, symbols_option
from mlbt.data import check, fingerprint, load, load_assets, source_symbols
from mlbt.data.samples import SAMPLES
from mlbt.data.synthetic import is_synthetic
from mlbt.data.universe import assets, combine
from mlbt.data.validate import Report, spacing, step_name
from mlbt.io import json_safe


@click.group("data")
def data_group() -> None:
    """Inspect embedded samples and data files."""


@data_group.command("list")
@json_option("the samples")
@output_options
def list_samples(as_json: bool, quiet: bool, debug: bool) -> None:
    """The embedded real-data samples: name, instrument, symbols, frequency, bars, range
    (--quiet is accepted as on every command: it has no progress to silence)."""
    rows: list[dict[str, Any]] = []
    for name, sample in sorted(SAMPLES.items()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bars = load(name, symbols="all")
        except Exception as exc:  # fail() re-raises bt's own bugs
            fail(debug, exc)
        rows.append({"name": name, "instrument": sample.instrument, "symbols": assets(bars),
                     "frequency": sample.frequency, "bars": len(bars), "start": str(bars.index[0]),
                     "end": str(bars.index[-1]), "columns": list(dict.fromkeys(bars.columns.get_level_values(0))),
                     "origin": sample.origin})
    if as_json:
        click.echo(json.dumps(json_safe(rows), default=str))
        return
    header = ("name", "instrument", "symbols", "frequency", "bars", "range (UTC)")
    table = [(r["name"], r["instrument"], ",".join(r["symbols"]), r["frequency"], f"{r['bars']:,}",
              f"{r['start'][:16]} .. {r['end'][:16]}") for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table, strict=True)]
    for row in (header, *table):
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())


def _problems(report: Report) -> list[dict[str, Any]]:
    return [{"severity": p.severity, "check": p.check, "column": p.column, "count": p.count, "message": p.message}
            for p in report.problems]


def _close(bars: pd.DataFrame) -> dict[str, float]:
    close = bars["close"]
    return {"first": float(close.iloc[0]), "last": float(close.iloc[-1]), "min": float(close.min()),
            "max": float(close.max())}


@data_group.command("show")
@click.argument("source")
@selection_options
@symbols_option
@json_option("the summary and the validation report")
@output_options
def show(source: str, symbol: str | None, start: str | None, end: str | None, timeframe: str | None,
         date_format: str | None, repair: tuple[str, ...], symbols: str | None, as_json: bool, quiet: bool,
         debug: bool) -> None:
    """Summary and validation report of SOURCE (sample name, file path, directory of one
    file per symbol, or synthetic: spec); a universe gets a line per asset. A source of
    several symbols is shown whole unless --symbol picks one.

    Exits 2 when the data has errors (every error is listed). --quiet is accepted as on
    every command (the report is the output)."""
    selection: dict[str, Any] = {"start": start, "end": end, "timeframe": timeframe, "repair": tuple(repair),
                                 "date_format": date_format, "warn": False, "validate": False}
    try:
        if symbols is None and symbol is None and len(source_symbols(source)) > 1:
            symbols = "all"
        if symbols is None:
            bars = load(source, symbol=symbol, **selection)
            reports: dict[str | None, Report] = {None: check(bars, source=bars.attrs["source"])}
            frames: dict[str, pd.DataFrame] = {}
        else:
            if symbol is not None:
                raise UserError(f"{source}: give --symbol (one) or --symbols (several), not both")
            frames = load_assets(source, symbols, **selection)
            bars = combine(frames)
            reports = {a: check(f, source=f.attrs["source"]) for a, f in frames.items()}
    except (ValueError, OSError) as exc:
        fail(debug, exc)
    problems = [p for r in reports.values() for p in r.problems]
    errors = sum(len(r.errors) for r in reports.values())
    warned = sum(len(r.warnings) for r in reports.values())
    synthetic = bool(is_synthetic(source))
    summary: dict[str, Any] = {
        "source": source, "synthetic": synthetic, "bars": len(bars),
        "start": str(bars.index[0]) if len(bars) else None, "end": str(bars.index[-1]) if len(bars) else None,
        "spacing": step_name(spacing(bars.index)) if len(bars) > 2 else None,
        "columns": list(dict.fromkeys(bars.columns.get_level_values(0))), "fingerprint": fingerprint(bars),
        "problems": [q for r in reports.values() for q in _problems(r)],
    }
    if frames:
        summary["symbols"] = list(frames)
        summary["assets"] = [{"symbol": a, "bars": len(f), "start": str(f.index[0]) if len(f) else None,
                              "end": str(f.index[-1]) if len(f) else None,
                              **({"close": _close(f)} if len(f) else {}), "problems": _problems(reports[a])}
                             for a, f in frames.items()]
    elif len(bars) and "close" in bars:
        summary["close"] = _close(bars)
    if as_json:
        click.echo(json.dumps(json_safe(summary), default=str))
    else:
        label = "  (SYNTHETIC data, not market prices)" if synthetic else ""
        click.echo(f"source       {source}{label}")
        if frames:
            more = " ..." if len(frames) > 12 else ""
            click.echo(f"symbols      {len(frames)}: {', '.join(list(frames)[:12])}{more}")
        for key in ("bars", "start", "end", "spacing"):
            value = summary[key]
            click.echo(f"{key:<12} {value:,}" if isinstance(value, int) else f"{key:<12} {value}")
        click.echo(f"columns      {', '.join(summary['columns'])}")
        if "close" in summary:
            c = summary["close"]
            click.echo(f"close        first {c['first']:,.4f}  last {c['last']:,.4f}  "
                       f"min {c['min']:,.4f}  max {c['max']:,.4f}")
        click.echo(f"fingerprint  {summary['fingerprint'][:16]}")
        if frames:
            header = ("asset", "bars", "first bar", "last bar", "first close", "last close", "problems")
            table = [(a["symbol"], f"{a['bars']:,}", str(a["start"])[:16], str(a["end"])[:16],
                      f"{a['close']['first']:,.4f}" if "close" in a else "", f"{a['close']['last']:,.4f}"
                      if "close" in a else "", str(len(a["problems"]))) for a in summary["assets"]]
            widths = [max(len(str(x)) for x in col) for col in zip(header, *table, strict=True)]
            for row in (header, *table):
                click.echo("  " + "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
        click.echo("validation   " + ("ok" if not problems else f"{errors} error(s), {warned} warning(s)"))
        for p in problems:
            click.echo(f"  {p.severity}: {p.message}")
    if errors:
        raise UserError(f"{source}: {errors} data error(s); see the report above")
