"""The options several ``bt`` commands share, each defined once, and what turns them
into inputs: the plugin with its ``--set`` params, the engine settings (generated
from ``mlbt.settings``, so their names, ranges and help are the table's), and the
bars with their data warnings."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import click
import pandas as pd

from mlbt.data import DataWarning, load
from mlbt.settings import SETTINGS, EngineSettings, Setting, help_text
from mlbt.strategy import ALLOCATIONS, VOL_WINDOW, Strategy, is_cross_sectional, load_strategy

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def apply(*decorators: Decorator) -> Decorator:
    """One decorator applying ``decorators`` so that their options appear in the order given."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return wrap


plugin_argument = click.argument("plugin", type=click.Path())

#: What part of a source to use, and how to repair it (every command that loads data).
selection_options = apply(
    click.option("--symbol", default=None, help="Symbol to select in a multi-symbol file or a SQLite candles table."),
    click.option("--start", default=None, help="First timestamp to use (inclusive; a date includes its whole day)."),
    click.option("--end", default=None, help="Last timestamp to use (inclusive)."),
    click.option("--timeframe", default=None, help="Aggregate the bars first, e.g. 4h, 1D."),
    click.option("--date-format", default=None, metavar="FORMAT",
                 help="How the file's text timestamps read when they are not ISO 8601: dayfirst (01/07/2017 is 1 "
                      "July), monthfirst (7 January; the default for slash dates) or a strptime format such as "
                      "'%d/%m/%Y %I:%M %p'."),
    click.option("--repair", multiple=True, type=click.Choice(["duplicates", "gaps"]),
                 help="Repair the data first: duplicates keeps the last row of a repeated timestamp, gaps inserts "
                      "flat zero-volume bars (repeat for both)."),
)

#: Several symbols as one universe (the commands that take a universe so far).
symbols_option = click.option(
    "--symbols", default=None, metavar="SYMBOLS",
    help="Several symbols as one universe: BTC,ETH,LTC, or all (every symbol of the source; bt data show lists them).")

#: How a universe's entries share group equity (``mlbt.strategy.ALLOCATIONS``).
allocation_option = click.option(
    "--allocation", type=click.Choice(ALLOCATIONS), default=None,
    help="A universe's share of group equity per asset entry: equal (1/n, the default), inverse_vol (in "
         f"proportion to 1 / the asset's {VOL_WINDOW}-bar volatility) or plugin (the plugin's own sizes; a plugin "
         "with weights() always).")

#: The data a plugin runs on: ``--data`` and the selection options.
data_options = apply(
    click.option("--data", "source", default=None, metavar="SOURCE",
                 help="Embedded sample name (bt data list), a file (.csv, .csv.gz, .parquet, .feather, .sqlite) or a "
                      "synthetic: spec such as synthetic:gbm?bars=100000&seed=1; default: the plugin's."),
    selection_options,
)

set_option = click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                          help="Set a plugin param (repeatable).")

model_options = apply(
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
                 help="Where the model trains and predicts."),
    click.option("--profile", type=click.Choice(["auto", "fast", "full"]), default="auto", show_default=True,
                 help="Network sizes: the seed system's (full) or CPU-friendly (fast); auto = full on CUDA."),
)

cache_option = click.option("--cache-dir", default=None,
                            help="Model/prediction cache (default $BT_CACHE_DIR or ~/.cache/bt).")

retrain_option = click.option("--retrain", is_flag=True, help="Ignore cached models and predictions; train again.")

output_options = apply(
    click.option("--quiet", is_flag=True, help="No progress output."),
    click.option("--debug", is_flag=True, help="Show tracebacks."),
)


def json_option(what: str) -> Decorator:
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as one JSON document.")


_METAVAR = {float: "NUMBER", int: "BARS"}


def _setting_option(s: Setting) -> Decorator:
    if s.name == "trail":  # a distance, or the bare flag: make --sl trailing
        return click.option("--trail", "trail", is_flag=False, flag_value="sl", default=None, metavar="[FRACTION]",
                            help=help_text(s).replace("True to make sl trailing", "--trail alone to make --sl "
                                                                                   "trailing"))
    if s.kind is bool:  # a switch: --name on, --no-name off, unset: the plugin's or the table's default
        return click.option(f"{s.option}/--no-{s.option[2:]}", s.name, default=None, help=help_text(s))
    metavar = "|".join(s.choices) if s.choices else _METAVAR.get(s.kind, "VALUE")
    return click.option(s.option, s.name, default=None, metavar=metavar,
                        help=help_text(s, plugin_default=hasattr(Strategy, s.name)))


#: One option per engine setting of the table (``--fee``, ``--fixed-fee``, ... ``--periods-per-year``).
engine_options = apply(*(_setting_option(s) for s in SETTINGS if s.cli))

#: The names the engine options pass to a command.
ENGINE_NAMES: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.cli)


def given_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The engine settings among a command's ``options`` that the user gave (text as
    typed; ``--trail`` alone is True)."""
    given = {name: options[name] for name in ENGINE_NAMES if options.get(name) is not None}
    if given.get("trail") == "sl":
        given["trail"] = True
    return given


def engine_settings(strategy: Strategy, given: dict[str, Any]) -> EngineSettings:
    """The run's engine settings: ``given`` over the plugin's own defaults (its class
    attributes named like a setting, e.g. ``fee``) over the table's, every value
    checked: ValueError with the setting's refusal, before any data is loaded."""
    own = {s.name: getattr(strategy, s.name) for s in SETTINGS if hasattr(type(strategy), s.name)}
    return EngineSettings(**{**own, **given})


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` options as a dict of strings (each Param converts its own)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def plugin_with_sets(plugin: str, sets: Sequence[str]) -> Strategy:
    """The plugin file loaded with its ``--set`` params (PluginError / ValueError)."""
    return load_strategy(plugin, **parse_sets(sets))


def load_bars(source: str, *, symbol: str | None = None, start: str | None = None, end: str | None = None,
              timeframe: str | None = None, repair: Sequence[str] = (), symbols: str | None = None,
              date_format: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """``mlbt.data.load``, with its DataWarnings collected as strings (the caller prints
    them once the command has succeeded, so an error stays the only line on failure);
    a universe with ``symbols``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        bars = load(source, symbol=symbol, symbols=symbols, start=start, end=end, timeframe=timeframe,
                    repair=tuple(repair), date_format=date_format)
    return bars, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def plugin_bars(strategy: Strategy, options: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """``load_bars`` of a command's data options (``--data``, else the plugin's
    source): a universe with ``--symbols``, and every symbol of the source for a plugin
    that ranks assets (``weights``) when neither ``--symbol`` nor ``--symbols`` is given."""
    symbols = options.get("symbols")
    if symbols is None and options.get("symbol") is None and is_cross_sectional(strategy):
        symbols = "all"
    return load_bars(options["source"] or strategy.data, symbol=options["symbol"], start=options["start"],
                     end=options["end"], timeframe=options["timeframe"], repair=options["repair"], symbols=symbols,
                     date_format=options.get("date_format"))
