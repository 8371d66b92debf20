"""The engine settings, each declared once: name, type, default, valid range and doc.

``backtest()`` takes its keyword defaults from this table and validates every value
with it; the sweep grid accepts the settings marked ``sweep`` as per-column
dimensions and checks their values with the same rule; the ``bt run`` and ``bt sweep``
options and their help texts are generated from it; a sweep's manifest records the
settings it ran with as ``EngineSettings(...).to_dict()``. So a value is refused with
the same words wherever it enters, and before any data is loaded or model trained.

Pure Python (no numpy): the command line reads this table when it starts. ``Setting.valid``
works on plain numbers and on numpy arrays alike, since it only compares.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One engine setting.

    kind: the type of one value (float, int or str). default: its value when not given
    (None: off, e.g. no stop). low/high: the valid range, excluded where ``low_open`` /
    ``high_open``; ``whole``: whole numbers only; ``choices``: the valid strings.
    optional: None (NaN in arrays, ``none`` in a grid) is valid and means ``none`` ("no stop").
    when: which bar's value applies when it varies by bar: "fill" (the fill's bar),
    "entry" (the entry's decision bar), "bar" (each bar), "" (one value per column or
    per run).
    sweep: a sweep may give each column its own value (a switch or a choice: each of its
    values in an engine pass of its own, ``PER_PASS``). cli: an option of ``bt run`` and
    ``bt sweep``. (Which settings a plugin may also set per bar are the fields of
    ``Signals``.)
    """

    name: str
    kind: type
    default: Any
    doc: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    whole: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False
    none: str = ""
    when: str = ""
    sweep: bool = True
    cli: bool = True

    @property
    def option(self) -> str:
        """The command-line option: ``--fixed-fee`` for ``fixed_fee``."""
        return "--" + self.name.replace("_", "-")

    @property
    def rule(self) -> str:
        """What a valid value is, in words: "a fraction of notional in [0, 1)"."""
        return self.valid_range + (f" (none = {self.none})" if self.optional else "")

    @property
    def valid_range(self) -> str:
        """The rule without what None means: "a fraction of the entry price in (0, 1)"."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        interval = f"{left}{lo}, {hi}{right}"
        return f"{self.unit} in {interval}" if self.unit else f"in {interval}"

    def valid(self, value: Any) -> Any:
        """Whether ``value`` (a number or a numpy array of them) is in range: a bool or a
        boolean array; NaN is never valid here (``optional`` settings allow it apart)."""
        ok = value == value  # NaN fails
        if self.low is not None:
            ok = ok & ((value > self.low) if self.low_open else (value >= self.low))
        if self.high is not None:
            ok = ok & ((value < self.high) if self.high_open else (value <= self.high))
        else:
            ok = ok & (value < math.inf)
        if self.whole:
            ok = ok & (value == value // 1)
        return ok

    def refusal(self, value: Any, at: str = "") -> str:
        """The one-line message for an invalid ``value`` (found ``at`` a position)."""
        shown = repr(value) if isinstance(value, str) or self.choices else f"{value!s}"
        return f"{self.name} = {shown}{' at ' + at if at else ''}: {self.name} is {self.rule}"

    def check(self, value: Any) -> Any:
        """``value`` (a number, a string from the command line or a grid, or None) as
        this setting's type; ValueError with ``refusal`` when it is not valid."""
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "nan")):
            if self.optional or self.default is None:
                return None
            raise ValueError(f"{self.name} = none: {self.name} is {self.rule}; it cannot be off")
        if self.kind is bool:
            words = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False,
                     "0": False}
            if isinstance(value, bool) or type(value).__name__ == "bool_":
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in words:
                return words[value.strip().lower()]
            raise ValueError(f"{self.name} = {value!r}: {self.name} is true or false")
        if self.choices:
            if value not in self.choices:
                raise ValueError(self.refusal(value))
            return value
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{self.name} = {value!r}: {self.name} is a number, {self.rule}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{self.name} = {value!r}: not a number; {self.name} is {self.rule}") from None
        if not self.valid(number):
            raise ValueError(self.refusal(number))
        return int(number) if self.kind is int else number


# Descriptions read after "<name> is ...".
SETTINGS: tuple[Setting, ...] = (
    Setting("fee", float, 0.0, "Fee per fill, a fraction of its notional.", "a fraction of notional",
            low=0.0, high=1.0, high_open=True, when="fill"),
    Setting("fixed_fee", float, 0.0, "Fee per fill in the cash currency.", "currency per fill", low=0.0,
            when="fill"),
    Setting("slippage", float, 0.0, "How far every fill (stops included) moves against the trader, a fraction "
            "of the price.", "a fraction of the price", low=0.0, high=1.0, high_open=True, when="fill"),
    Setting("size", float, 1.0, "Fraction of equity committed on each entry, fees included; above 1 the "
            "entry borrows, up to leverage.", "a fraction of equity", low=0.0, low_open=True, when="entry"),
    Setting("lot", float, None, "Round each entry's units down to a multiple of this (1 = whole units).",
            "a number of units", low=0.0, low_open=True, optional=True, none="no rounding", when="entry"),
    Setting("sl", float, None, "Stop-loss distance below (long) or above (short) the entry fill price.",
            "a fraction of the entry price", low=0.0, high=1.0, low_open=True, high_open=True, optional=True,
            none="no stop", when="entry"),
    Setting("tp", float, None, "Take-profit distance from the entry fill price.", "a fraction of the entry price",
            low=0.0, low_open=True, optional=True, none="no take-profit", when="entry"),
    Setting("trail", float, None, "Trailing stop distance from the best price since entry (a number), or "
            "True to make sl trailing.", "a fraction of the best price", low=0.0, high=1.0, low_open=True,
            high_open=True, optional=True, none="no trailing stop", when="entry"),
    Setting("max_hold", int, None, "Close a trade at the first fill this many bars after its entry bar.",
            "a whole number of bars", low=1.0, whole=True, optional=True, none="no limit", when="entry"),
    Setting("leverage", float, 1.0, "The most gross exposure an entry may take, as a multiple of equity: size "
            "may go up to it.", "a multiple of equity", low=1.0, when="entry"),
    Setting("mmr", float, 0.0, "Maintenance margin rate: a position is liquidated when equity at the bar's "
            "adverse extreme falls to this fraction of its notional (0: when equity reaches zero).",
            "a fraction of notional", low=0.0, high=1.0, high_open=True, when="entry"),
    Setting("liquidation_fee", float, 0.0, "Extra fee of a liquidation fill, a fraction of its notional.",
            "a fraction of notional", low=0.0, high=1.0, high_open=True, when="fill"),
    Setting("funding_rate", float, None, "Funding rate of a perpetual future at each funding time: a position "
            "held into a bar pays rate x its notional at the bar's open (shorts receive a positive rate). A "
            "number applies to every bar; a per-bar series (or the name of a bars column) has NaN on bars "
            "without funding.", "a fraction of notional", low=-1.0, high=1.0, low_open=True, high_open=True,
            optional=True, none="no funding", when="bar"),
    Setting("borrow_rate", float, 0.0, "Annual cost of borrowing a short position, accrued on each bar it is "
            "held over: rate / periods_per_year x its notional at the bar's close.", "an annual fraction of notional",
            low=0.0, when="bar"),
    Setting("cash", float, 100_000.0, "Initial cash of each column (with cash_sharing, of each group: the "
            "columns of a group must agree).", "an amount of currency", low=0.0, low_open=True),
    Setting("cash_sharing", bool, False, "The columns of a group (group_by; by default the assets of one "
            "parameter combination) share one cash account and one equity curve."),
    Setting("size_type", str, "entry_fraction", "What the target is: 'entry_fraction' (+1/-1/0 enters with size "
            "x equity) or 'target_weight' (the weight of group equity to hold in each column, NaN keep).",
            choices=("entry_fraction", "target_weight")),
    Setting("rebalance_drift", float, None, "With target weights, also rebalance when a column's weight at a "
            "close has drifted from its target by more than this.", "a weight difference", low=0.0,
            optional=True, none="rebalance only when the target changes", when="bar"),
    Setting("insufficient_cash", str, "reduce", "An entry or rebalance that would take gross exposure above "
            "leverage x equity is 'reduce'd to what the account can afford, or 'skip'ped.",
            choices=("reduce", "skip")),
    Setting("fill", str, "next_open", "Where a decision at bar t fills: 'next_open' (bar t+1's open) or "
            "'close' (bar t's close; optimistic, opt-in).", choices=("next_open", "close"), sweep=False),
    Setting("stop_tie", str, "sl", "Which stop fills when the protective stop and the take-profit are both "
            "touched within one bar: 'sl' (pessimistic) or 'tp'.", choices=("sl", "tp"), sweep=False),
    Setting("periods_per_year", float, None, "Bars per year for annualized metrics; inferred from the index "
            "when not given.", "a number of bars", low=0.0, low_open=True, optional=True,
            none="inferred from the index", sweep=False),
)

#: Rules between settings, as (name, at most, name): the first may not exceed the second.
AT_MOST: tuple[tuple[str, str], ...] = (("size", "leverage"),)


def over_limit(values: Mapping[str, Any]) -> tuple[str, str, Any] | None:
    """The first rule of ``AT_MOST`` that ``values`` (numbers, or numpy arrays that
    broadcast together) break, as (name, limit name, the first offending position: a
    flat index into the broadcast arrays, None for numbers); None when all hold. A
    setting missing from ``values`` is at its default; None (off) values are skipped."""
    for name, limit in AT_MOST:
        value, cap = values.get(name, DEFAULTS[name]), values.get(limit, DEFAULTS[limit])
        if value is None or cap is None:
            continue
        over = value > cap
        if getattr(over, "ndim", 0):
            if over.any():
                return name, limit, int(over.argmax())
        elif over:
            return name, limit, None
    return None


def limit_refusal(name: str, limit: str, value: Any, cap: Any, at: str = "") -> str:
    """The one-line message for ``name`` = ``value`` above ``limit`` = ``cap``."""
    return (f"{name} = {value:g}{' at ' + at if at else ''} is above {limit} = {cap:g}: {name} may go up to "
            f"{limit}; raise {limit} (--{limit.replace('_', '-')}) or lower {name}")


#: Settings by name.
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
#: Default of every setting, by name.
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
#: Settings a sweep may vary per column (``--grid NAME=...``).
SWEEPABLE: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.sweep)
#: Of those, the ones that hold for a whole engine pass (a switch or a choice, not a
#: number per column): a sweep runs one pass per combination of their values.
PER_PASS: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.sweep and (s.kind is bool or s.choices))


def trailing_stops(sl: Any, trail: Any) -> tuple[Any, Any]:
    """(sl, trail) as distances: ``trail=True`` makes the ``sl`` distance trailing (sl
    becomes None), ``trail=False`` means no trailing stop. ValueError for trail=True
    without sl."""
    if trail is True:
        if sl is None:
            raise ValueError("trail = True makes sl trailing, so it needs sl (the trailing distance)")
        return None, sl
    return sl, None if trail is False else trail


def setting(name: str) -> Setting:
    """The setting ``name``; KeyError listing the settings when there is none."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no engine setting {name!r}; settings: {', '.join(BY_NAME)}") from None


class EngineSettings(Mapping[str, Any]):
    """One value per engine setting: the given ones checked (ValueError with the
    setting's refusal), the others at their defaults. A read-only mapping in table
    order; ``to_dict()`` is what a sweep's manifest records.

    ``trail`` may also be True or False: True makes ``sl`` trailing (it needs ``sl``).
    """

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(BY_NAME))
        if unknown:
            raise ValueError(f"unknown engine setting(s) {', '.join(unknown)}; settings: {', '.join(BY_NAME)}")
        checked = {}
        for s in SETTINGS:
            value = values.get(s.name, s.default)
            if s.name == "trail" and isinstance(value, bool):
                checked[s.name] = value
                continue
            checked[s.name] = s.default if value is None and s.default is not None else s.check(value)
        trailing_stops(checked["sl"], checked["trail"])  # trail=True needs sl
        broken = over_limit(checked)
        if broken:
            name, limit, _ = broken
            raise ValueError(limit_refusal(name, limit, checked[name], checked[limit]))
        self._values = checked

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    def __repr__(self) -> str:
        changed = ", ".join(f"{k}={v!r}" for k, v in self._values.items() if v != DEFAULTS[k])
        return f"EngineSettings({changed})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def replace(self, **values: Any) -> EngineSettings:
        """A copy with ``values`` changed (checked)."""
        return EngineSettings(**{**self._values, **values})


def settings_text(values: Mapping[str, Any]) -> str:
    """Every engine setting of ``values`` (``EngineSettings.to_dict()``; a run's record
    of them) as ``name=value`` in the table's order, ``none`` where unset: the line a
    run prints and its tearsheet shows, so a result carries what produced it."""
    def text(v: Any) -> str:
        return "none" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))

    return ", ".join(f"{s.name}={text(values.get(s.name, s.default))}" for s in SETTINGS if s.cli)


def help_text(s: Setting, plugin_default: bool = False) -> str:
    """The help of setting ``s``: its doc, valid range and default (``plugin_default``: a
    plugin may declare its own)."""
    default = f"none ({s.none})" if s.default is None else f"{s.default:g}" if s.kind is float else s.default
    valid = "" if s.choices else f" Valid: {s.valid_range}."
    return f"{s.doc}{valid} Default: {'the plugin' + chr(39) + 's, else ' if plugin_default else ''}{default}."


def settings_doc(indent: int = 0) -> str:
    """The table as docstring text: one paragraph per setting (for ``backtest()``)."""
    pad = " " * indent
    when = {"fill": " Read at each fill's bar.", "entry": " Read at each entry's decision bar.",
            "bar": " Read at each bar."}
    return ("\n" + pad).join(
        textwrap.fill(f"{s.name}: {help_text(s)}{when.get(s.when, '')}", width=88 - indent,
                      subsequent_indent="    ").replace("\n", "\n" + pad)
        for s in SETTINGS)
