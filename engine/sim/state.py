"""The kernel's named state and records: what one column carries from bar to bar,
and the layout of a trade record. Plain Python and numpy: the kernel (numba) and the
pandas layer (``Result``) read the same names.

Numba compiles the NamedTuples below into value types: a function that "changes"
a position returns a new one, and the optimizer keeps it in registers.
"""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

import numpy as np

#: A bar number, or an integer code (an exit reason): the kernel passes numpy integers
#: (np.int64), Python code plain ints.
Bar: TypeAlias = "int | np.integer"
Code: TypeAlias = "int | np.integer"

# Kernel codes of the ``fill`` and ``stop_tie`` settings.
FILL_NEXT_OPEN, FILL_CLOSE = 0, 1
FILL_MODES = {"next_open": FILL_NEXT_OPEN, "close": FILL_CLOSE}
TIE_SL, TIE_TP = 0, 1
STOP_TIES = {"sl": TIE_SL, "tp": TIE_TP}

# Exit reasons, the ``reason`` codes of trade records (index into REASON_NAMES).
SIGNAL, STOP_LOSS, TAKE_PROFIT, TRAILING_STOP, TIME, END, LIQUIDATION = 0, 1, 2, 3, 4, 5, 6
REASON_NAMES = ("signal", "sl", "tp", "trail", "time", "end", "liquidation")
NO_REASON = -1
# What an order record did besides an exit (its ``reason``): opened a position, or
# changed a held one toward its target weight (index into ORDER_KINDS).
ENTRY, REBALANCE = 7, 8
ORDER_KINDS = (*REASON_NAMES, "entry", "rebalance")

#: One fill of a column in a shared-cash group. ``price`` includes slippage; ``units``
#: is signed: + bought, - sold.
ORDER_DTYPE = np.dtype([
    ("col", np.int64),
    ("bar", np.int64),
    ("units", np.float64),
    ("price", np.float64),
    ("fee", np.float64),      # every fee of the fill (a liquidation's fee included)
    ("reason", np.int64),     # ORDER_KINDS code
    ("seq", np.int64),        # the fill's number within its group: the order of fills within a bar
], align=True)

#: One trade: entered at ``entry_bar``, closed at ``exit_bar`` (the last bar and reason
#: ``end`` while still open). Prices include slippage; ``pnl`` is net of both fees and
#: of the funding and borrow paid while open,
#: ``return`` = pnl / (units x entry_price).
TRADE_DTYPE = np.dtype([
    ("col", np.int64),           # signal column
    ("side", np.int64),          # +1 long, -1 short
    ("entry_bar", np.int64),
    ("exit_bar", np.int64),
    ("units", np.float64),       # units held (always positive)
    ("entry_price", np.float64),
    ("exit_price", np.float64),
    ("entry_fee", np.float64),
    ("exit_fee", np.float64),
    ("funding", np.float64),     # funding and borrow paid while open (negative: received), cash currency
    ("pnl", np.float64),         # cash currency, net of fees, funding and borrow
    ("return", np.float64),
    ("reason", np.int64),        # exit reason code
], align=True)


class Position(NamedTuple):
    """The open position of a column (``side`` 0.0 when flat)."""

    side: float          # +1.0 long, -1.0 short, 0.0 flat
    units: float         # signed units held: negative for a short
    entry_bar: Bar       # bar of the entry fill (-1 when flat)
    entry_price: float   # entry fill price, slippage included
    entry_fee: float     # fee paid on the entry fill
    carried: float       # funding and borrow paid since the entry (negative: received), rules 12, 13


class Book(NamedTuple):
    """What the open position of a column in a shared-cash group has traded since it
    opened: several fills with target weights (a trade record is then the whole
    position: units entered, average prices)."""

    entered: float      # units bought (long) or sold short, summed
    entry_value: float  # their value at their fill prices
    exited: float       # units closed so far
    exit_value: float   # their value at their fill prices
    exit_fee: float     # fees of those fills


class Exits(NamedTuple):
    """The exit levels of the open position (execution rules 5 and 7), set when it is
    entered from the settings of its decision bar. NaN levels never fire."""

    best: float              # best price since entry: the trailing reference
    sl_level: float          # fixed stop-loss level
    protective: float        # the tighter of sl_level and the trailing level
    protective_reason: int   # STOP_LOSS or TRAILING_STOP, whichever is tighter
    take_profit: float       # take-profit level
    trail: float             # trailing distance, a fraction of ``best``
    max_hold: float          # bars after the entry bar until the time exit
    liquidation: float       # price at which equity falls to maintenance margin (NaN: none, rule 10)
    mmr: float               # the maintenance margin rate it was computed with
    lower: float             # a bar whose low reaches this level may force an exit (long: SL, liquidation; short: TP)
    upper: float             # a bar whose high reaches this level may force an exit (long: TP; short: SL, liquidation)


class Order(NamedTuple):
    """The signal order waiting for its fill (execution rule 1)."""

    pending: bool
    target: float         # +1, -1 or 0
    decision_bar: Bar     # the bar whose close decided it (settings of entries are read there)


class Costs(NamedTuple):
    """The costs of one fill (execution rule 3), the settings of the fill's bar."""

    fee: float        # fraction of the notional
    fixed_fee: float  # currency
    slippage: float   # fraction of the price, against the trader
    liquidation_fee: float  # fraction of the notional, on a liquidation fill only


class EntryTerms(NamedTuple):
    """The per-entry settings (execution rules 4, 5 and 7), read at the entry's
    decision bar."""

    size: float       # fraction of equity
    lot: float        # units (0: no rounding)
    sl: float         # fractions of the entry price (NaN: none)
    tp: float
    trail: float
    max_hold: float   # bars (NaN: none)
    mmr: float        # maintenance margin rate, a fraction of the notional


class Prices(NamedTuple):
    """The bars' prices as (1, T) rows shared by every column, or (N, T) with a row per
    column's asset (the transposed views of (T, 1) / (T, N) price arrays). A bar is
    complete or entirely NaN (the inputs are checked for it)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


class SettingArrays(NamedTuple):
    """The engine settings as (1|T, 1|N) float64 arrays (``rules_nb.flex``): per-entry
    ones are read at the entry's decision bar, per-fill ones at the fill's bar."""

    size: np.ndarray       # per entry, fraction of equity
    lot: np.ndarray        # per entry, units (0: no rounding)
    sl: np.ndarray         # per entry, fraction (NaN: none)
    tp: np.ndarray         # per entry, fraction (NaN: none)
    trail: np.ndarray      # per entry, fraction (NaN: none)
    max_hold: np.ndarray   # per entry, bars (NaN: none)
    fee: np.ndarray        # per fill, fraction of notional
    fixed_fee: np.ndarray  # per fill, currency
    slippage: np.ndarray   # per fill, fraction of the price
    mmr: np.ndarray        # per entry, maintenance margin rate
    liquidation_fee: np.ndarray  # per fill (a liquidation), fraction of notional
    funding_rate: np.ndarray  # per bar, fraction of the notional at the open (NaN: no funding)
    borrow_rate: np.ndarray   # per bar, annual fraction of short notional
    cash: np.ndarray       # per column (1, 1|N), initial cash


class Rules(NamedTuple):
    """The settings that are one value per run."""

    fill_mode: int          # FILL_NEXT_OPEN or FILL_CLOSE
    stop_tie: int           # TIE_SL or TIE_TP
    reentry: bool           # rule 2: +1/-1 re-enters while flat after a forced exit
    periods_per_year: float
    carry: bool             # rules 12, 13: some bar has a funding rate or a borrow rate


class Group(NamedTuple):
    """Which columns share cash (rules 14-16), and the settings only groups read."""

    cols: np.ndarray        # (N,) int64: the columns, group after group (each group's in column order)
    start: np.ndarray       # (G + 1,) int64: group g is cols[start[g]:start[g + 1]]
    asset: np.ndarray       # (N,) int64: each column's row of the prices
    leverage: np.ndarray    # flex (1|T, 1|N): gross exposure cap, a multiple of group equity (read at the fill)
    drift: np.ndarray       # flex (1|T, 1|N): rebalance when the weight drifts by more (NaN: never)
    weights: bool           # the targets are weights of group equity (else +1/-1/0 entries)
    skip: bool              # an order over the exposure cap is skipped (else reduced)


class GroupOutputs(NamedTuple):
    """What the group kernel writes, allocated by the caller."""

    equity: np.ndarray        # (G, T): a row per group, or (G, 0) when not recorded
    cash: np.ndarray          # (G, T|0)
    value: np.ndarray         # (N, T|0): each column's position value at the close (units x last close)
    trades: np.ndarray        # TRADE_DTYPE records, trade_offsets[c] ... reserved for column c
    trade_offsets: np.ndarray  # (N + 1,)
    trade_counts: np.ndarray  # (N,)
    orders: np.ndarray        # ORDER_DTYPE records, order_offsets[c] ... reserved for column c
    order_offsets: np.ndarray  # (N + 1,)
    order_counts: np.ndarray  # (N,)
    stats: np.ndarray         # (G, N_STATS)
    blocks: np.ndarray        # (G, 2 S): each group's running sums of r and r^2 at its return blocks' ends, or (G, 0)


class Outputs(NamedTuple):
    """What the kernel writes, allocated by the caller (numpy gives large arrays huge
    pages, which numba's allocator does not)."""

    equity: np.ndarray        # (N, T): a row per column, or (N, 0) when not recorded
    trades: np.ndarray        # TRADE_DTYPE records: trade_offsets[c] ... reserved for column c
    trade_offsets: np.ndarray  # (N + 1,) int64 first row of each column
    trade_counts: np.ndarray  # (N,) int64 trades each column wrote
    stats: np.ndarray         # (N, N_STATS) metrics, in STAT_NAMES order
    blocks: np.ndarray        # (N, 2 S): each column's running sums of r and r^2 at its S return blocks' ends
                              # (stats_nb.snap_blocks), or (N, 0) when not accumulated
