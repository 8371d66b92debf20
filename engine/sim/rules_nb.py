"""The execution rules, one small numba function each, tagged with its number in the
README's "Execution semantics" (and ``docs/design.md``). The kernel
(``kernel_nb.simulate_column_nb``) applies them bar by bar; the plain-Python reference
simulator in the tests restates them independently.

Conventions: ``side`` is +1.0 (long), -1.0 (short) or 0.0 (flat); prices are floats,
NaN where a level is not set (a NaN level never fires).
"""

import numpy as np
from numba import njit

from mlbt.sim.state import (
    FILL_NEXT_OPEN,
    LIQUIDATION,
    NO_REASON,
    STOP_LOSS,
    TAKE_PROFIT,
    TIE_SL,
    TIME,
    TRAILING_STOP,
    Bar,
    Costs,
    EntryTerms,
    Exits,
    Position,
    SettingArrays,
)


@njit(cache=True, nogil=True, inline="always")
def flex(a: np.ndarray, i: int, c: int) -> float:
    """Element (i, c) of a (1|T, 1|N) array broadcast to (T, N): a setting given as a
    scalar, per column, per bar, or per bar and column."""
    return a[i if a.shape[0] > 1 else 0, c if a.shape[1] > 1 else 0]


# Scalars out of the settings, read once per fill: a function that takes the settings
# tuple itself, when inlined in the kernel's bar loop, increments and decrements the
# reference count of each of its arrays on every call (measured: 1.4x slower kernel
# on a target per bar).


@njit(cache=True, nogil=True, inline="always")
def fill_costs(settings: SettingArrays, bar: int, c: int) -> Costs:
    """Rule 3: the fee, fixed fee and slippage of a fill of column ``c`` on ``bar``."""
    s = settings
    return Costs(flex(s.fee, bar, c), flex(s.fixed_fee, bar, c), flex(s.slippage, bar, c),
                 flex(s.liquidation_fee, bar, c))


@njit(cache=True, nogil=True, inline="always")
def entry_terms(settings: SettingArrays, decision: int, c: int) -> EntryTerms:
    """Rules 4, 5, 7 and 10: the size, lot, stop distances, max_hold and maintenance
    margin rate of an entry of column ``c`` decided on bar ``decision``."""
    s = settings
    return EntryTerms(flex(s.size, decision, c), flex(s.lot, decision, c), flex(s.sl, decision, c),
                      flex(s.tp, decision, c), flex(s.trail, decision, c), flex(s.max_hold, decision, c),
                      flex(s.mmr, decision, c))


# -- rule 2: targets -------------------------------------------------------------------


@njit(cache=True, nogil=True)
def is_fresh(target: float, ffilled: float, reentry: bool, flat: bool) -> bool:
    """Rule 2: whether the non-NaN ``target`` of a bar is a new decision, given the
    forward-filled target before it: a change of it, or with ``reentry`` any +1/-1
    while ``flat`` (so a flat position re-enters after a forced exit)."""
    return target != ffilled or (reentry and flat and target != 0.0)


@njit(cache=True, nogil=True)
def opens(target: float, ffilled: float, reentry: bool) -> bool:
    """Rule 2: whether ``target`` opens a position from flat (a fresh +1 or -1)."""
    return target != 0.0 and is_fresh(target, ffilled, reentry, True)


@njit(cache=True, nogil=True)
def next_decision(targets: np.ndarray, i: int) -> int:
    """The first bar >= ``i`` with a non-NaN target (a decision), or T. After 16 bars
    one at a time (decisions are often close), blocks of 16 all-NaN bars are skipped
    with one branch-free test each (SIMD)."""
    T = targets.shape[0]
    stop = min(T, i + 16)
    while i < stop:
        if targets[i] == targets[i]:
            return i
        i += 1
    while i + 16 <= T:
        decided = 0
        for k in range(16):
            decided += targets[i + k] == targets[i + k]
        if decided:
            break
        i += 16
    while i < T and targets[i] != targets[i]:
        i += 1
    return i


@njit(cache=True, nogil=True)
def next_entry_bar(targets: np.ndarray, i: int, ffilled: float, reentry: bool) -> tuple[int, float]:
    """Rule 2 while flat with no order pending: the first bar >= ``i`` whose target (of
    the column's ``targets``, one per bar) opens a position, or T. Bars before it
    change nothing but the forward-filled target (a 0 while flat fills nothing).
    Returns (that bar, the forward-filled target just before it)."""
    T = targets.shape[0]
    k = i
    while k < T:
        value = targets[k]
        if value != value:  # NaN: keep; skip the run of them
            k = next_decision(targets, k)
            continue
        if opens(value, ffilled, reentry):
            return k, ffilled
        ffilled = value
        k += 1
    return T, ffilled


@njit(cache=True, nogil=True)
def count_entries(targets: np.ndarray, reentry: bool) -> int:
    """Rule 2: the entries a column with these ``targets`` (one per bar) can make at
    most (every target that would open from flat), a bound on its trades."""
    ffilled = 0.0
    n = 0
    for i in range(targets.shape[0]):
        value = targets[i]
        if value != value:
            continue
        n += opens(value, ffilled, reentry)
        ffilled = value
    return n


# -- rule 3: fees and slippage ---------------------------------------------------------


@njit(cache=True, nogil=True)
def fill_price(price: float, buy: bool, slippage: float) -> float:
    """Rule 3: a fill moves against the trader: buys at price x (1 + s), sells at
    price x (1 - s)."""
    return price * (1.0 + slippage) if buy else price * (1.0 - slippage)


@njit(cache=True, nogil=True)
def fill_fee(notional: float, fee: float, fixed_fee: float) -> float:
    """Rule 3: ``fee`` x notional plus ``fixed_fee`` on every fill."""
    return notional * fee + fixed_fee


# -- rule 4: sizing --------------------------------------------------------------------


@njit(cache=True, nogil=True)
def entry_units(cash: float, size: float, price: float, fee: float, fixed_fee: float, lot: float) -> float:
    """Rule 4: units bought or sold short on entry from flat (equity = cash): ``size`` x
    cash pays for the notional and both fees, rounded down to a multiple of ``lot``
    (0: no rounding); 0 when that leaves nothing."""
    budget = size * cash - fixed_fee
    if budget <= 0.0:
        return 0.0
    units = budget / (1.0 + fee) / price
    if lot > 0.0:
        units = np.floor(units / lot) * lot
    return units if units > 0.0 else 0.0


# -- rule 5: stops ---------------------------------------------------------------------


@njit(cache=True, nogil=True)
def protective_level(side: float, sl_level: float, best: float, trail: float) -> tuple[float, int]:
    """Rule 5: the protective stop of a position on ``side``: the fixed SL level or the
    trailing level (``trail`` away from the best price ``best``), whichever is tighter,
    with its exit reason."""
    if trail == trail:
        level = best * (1.0 - trail) if side > 0 else best * (1.0 + trail)
        if sl_level != sl_level or (side > 0 and level > sl_level) or (side < 0 and level < sl_level):
            return level, TRAILING_STOP
    return sl_level, STOP_LOSS


@njit(cache=True, nogil=True)
def tighter(side: float, a: float, b: float) -> float:
    """Of two adverse levels of a position on ``side`` (NaN: none), the one the price
    reaches first: the higher for a long, the lower for a short."""
    if a != a:
        return b
    if b != b:
        return a
    return max(a, b) if side > 0.0 else min(a, b)


@njit(cache=True, nogil=True)
def envelope(side: float, protective: float, take_profit: float, liquidation: float) -> tuple[float, float]:
    """Rules 5 and 10: (lower, upper): a bar whose low reaches ``lower`` or whose high
    reaches ``upper`` may force an exit of a position on ``side``."""
    adverse = tighter(side, protective, liquidation)
    return (adverse, take_profit) if side > 0.0 else (take_profit, adverse)


@njit(cache=True, nogil=True)
def arm(side: float, entry_price: float, sl: float, tp: float, trail: float, max_hold: float,
        liquidation: float, mmr: float) -> Exits:
    """Rules 5, 7 and 10: the exits of a position just entered on ``side`` at
    ``entry_price`` with the stop distances (fractions; NaN: none) and ``max_hold`` of
    its decision bar, and its ``liquidation`` price (NaN: none) with the ``mmr`` it
    was computed with. They are first checked on the next bar."""
    if side > 0.0:
        sl_level, take_profit = entry_price * (1.0 - sl), entry_price * (1.0 + tp)
    else:
        sl_level, take_profit = entry_price * (1.0 + sl), entry_price * (1.0 - tp)
    protective, reason = protective_level(side, sl_level, entry_price, trail)
    lower, upper = envelope(side, protective, take_profit, liquidation)
    return Exits(entry_price, sl_level, protective, reason, take_profit, trail, max_hold, liquidation, mmr, lower,
                 upper)


@njit(cache=True, nogil=True)
def stop_reached(exits: Exits, high: float, low: float) -> bool:
    """Rule 5: whether a bar with this ``high`` and ``low`` reaches a stop level (the
    open lies between them, so a gap beyond a level reaches it too)."""
    return low <= exits.lower or high >= exits.upper


@njit(cache=True, nogil=True)
def stop_fill(side: float, exits: Exits, open_: float, high: float, low: float, tie: int) -> tuple[float, int]:
    """Rules 5 and 10: price and reason of the stop or liquidation that fires on a bar,
    or (NaN, NO_REASON). The open comes first: a bar that opens beyond the liquidation
    price liquidates there, one that opens beyond a stop level fills that stop there.
    Otherwise the adverse level the price reaches first (the protective stop or the
    liquidation price, whichever is tighter) fills at that level when touched, and when
    it and the TP are both touched the ``tie`` rule says which: the adverse one (TIE_SL,
    pessimistic) or the TP."""
    protective, take_profit, liquidation = exits.protective, exits.take_profit, exits.liquidation
    adverse, adverse_reason = protective, exits.protective_reason
    if liquidation == liquidation and tighter(side, protective, liquidation) == liquidation:
        adverse, adverse_reason = liquidation, LIQUIDATION
    if side > 0:
        if open_ <= liquidation:
            return open_, LIQUIDATION
        if open_ <= protective:
            return open_, exits.protective_reason
        if open_ >= take_profit:
            return open_, TAKE_PROFIT
        hit_adverse, hit_profit = low <= adverse, high >= take_profit
    else:
        if open_ >= liquidation:
            return open_, LIQUIDATION
        if open_ >= protective:
            return open_, exits.protective_reason
        if open_ <= take_profit:
            return open_, TAKE_PROFIT
        hit_adverse, hit_profit = high >= adverse, low <= take_profit
    if hit_adverse and (tie == TIE_SL or not hit_profit):
        return adverse, adverse_reason
    if hit_profit:
        return take_profit, TAKE_PROFIT
    return np.nan, NO_REASON


@njit(cache=True, nogil=True, inline="always")  # called in the bar loop: a call passes Exits through memory
def trail_update(side: float, exits: Exits, high: float, low: float) -> Exits:
    """Rule 5: after a bar's check the trailing reference moves with its high (low for
    a short), and the protective level with it."""
    if exits.trail != exits.trail:
        return exits
    best = max(exits.best, high) if side > 0.0 else min(exits.best, low)
    if best == exits.best:
        return exits
    protective, reason = protective_level(side, exits.sl_level, best, exits.trail)
    lower, upper = envelope(side, protective, exits.take_profit, exits.liquidation)
    return Exits(best, exits.sl_level, protective, reason, exits.take_profit, exits.trail, exits.max_hold,
                 exits.liquidation, exits.mmr, lower, upper)


# -- rules 6 and 7: forced exits and their priority --------------------------------------


@njit(cache=True, nogil=True)
def time_exit_due(bar: int, position: Position, exits: Exits) -> bool:
    """Rule 7: ``max_hold`` bars have passed since the entry bar."""
    return bar - position.entry_bar >= exits.max_hold


@njit(cache=True, nogil=True)
def time_exit_bar(position: Position, exits: Exits, T: int) -> Bar:
    """Rule 7: the first bar on which the time exit is due, at most T (none without
    ``max_hold``)."""
    if exits.max_hold != exits.max_hold:
        return T
    return min(T, position.entry_bar + np.int64(exits.max_hold))


@njit(cache=True, nogil=True, inline="always")  # called in the bar loop: a call passes Exits through memory
def forced_exit(position: Position, exits: Exits, bar: int, open_: float, high: float, low: float, close: float,
                fill_mode: int, tie: int, signal_side: float) -> tuple[float, int]:
    """Rules 5, 6 and 7 on a bar of a position entered before it: the price and reason
    of a stop or time exit, or (NaN, NO_REASON). Stops come before ``max_hold``. With
    next-open fills a due time exit is at the open, before anything within the bar: only
    a stop the open is already beyond fires instead (at the same price), and when the
    signal order filling at that open (``signal_side``: its target, NaN if none) goes to
    another side, the signal closes the position itself."""
    side = position.side
    due = time_exit_due(bar, position, exits)
    if due and fill_mode == FILL_NEXT_OPEN:
        price, reason = stop_fill(side, exits, open_, open_, open_, tie)
        if price != price:
            if signal_side == signal_side and signal_side != side:
                return np.nan, NO_REASON
            return open_, TIME
        return price, reason
    price, reason = np.nan, NO_REASON
    if stop_reached(exits, high, low):
        price, reason = stop_fill(side, exits, open_, high, low, tie)
    if price != price and due:
        return close, TIME
    return price, reason


# -- rules 3, 4 and 9: fills and marking -----------------------------------------------


@njit(cache=True, nogil=True)
def flat() -> Position:
    """No position."""
    return Position(0.0, 0.0, np.int64(-1), 0.0, 0.0, 0.0)


@njit(cache=True, nogil=True)
def exit_fill(position: Position, price: float, fee: float, fixed_fee: float,
              slippage: float) -> tuple[float, float, float, float, float]:
    """Rules 3: the exit of ``position`` at ``price``: (cash it adds (negative for a
    short's buy-back), fill price, fee, pnl net of both fees and of the funding and
    borrow it paid, return on the entry value)."""
    units = abs(position.units)
    long = position.side > 0.0
    exit_price = fill_price(price, not long, slippage)
    notional = units * exit_price
    fee_paid = fill_fee(notional, fee, fixed_fee)
    entry_value = units * position.entry_price
    if long:
        cash_in = notional - fee_paid
        pnl = (notional - entry_value) - position.entry_fee - fee_paid - position.carried
    else:
        cash_in = -(notional + fee_paid)
        pnl = (entry_value - notional) - position.entry_fee - fee_paid - position.carried
    return cash_in, exit_price, fee_paid, pnl, pnl / entry_value


@njit(cache=True, nogil=True)
def entry_fill(cash: float, side: float, price: float, bar: int, size: float, lot: float, fee: float, fixed_fee: float,
               slippage: float) -> tuple[float, Position]:
    """Rules 3 and 4: the entry from flat on ``side`` at ``price`` with ``cash``: (cash
    it adds (a short's proceeds) or takes, the new Position); the position is flat
    when the size leaves nothing to buy. Shorts are cash-accounted as in vectorbt."""
    entry_price = fill_price(price, side > 0.0, slippage)
    return open_fill(side, entry_units(cash, size, entry_price, fee, fixed_fee, lot), entry_price, bar, fee, fixed_fee)


@njit(cache=True, nogil=True)
def open_fill(side: float, units: float, entry_price: float, bar: int, fee: float,
              fixed_fee: float) -> tuple[float, Position]:
    """Rule 3: open ``units`` (positive) on ``side`` at fill price ``entry_price``: (the
    cash it adds or takes, the Position; flat when ``units`` is 0)."""
    if units <= 0.0:
        return 0.0, flat()
    notional = units * entry_price
    fee_paid = fill_fee(notional, fee, fixed_fee)
    if side > 0.0:
        return -(notional + fee_paid), Position(side, units, bar, entry_price, fee_paid, 0.0)
    return notional - fee_paid, Position(side, -units, bar, entry_price, fee_paid, 0.0)


# -- rules 10 and 11: margin, liquidation and bankruptcy -----------------------------------


@njit(cache=True, nogil=True)
def liquidation_price(cash: float, position: Position, borrowed: bool, mmr: float) -> float:
    """Rule 10: the price at which the equity of ``position`` (cash + units x price)
    falls to ``mmr`` x its notional (NaN: at no positive price). Long: -cash / (units x
    (1 - mmr)), only when the long is ``borrowed`` (an entry with size above 1, or cash
    that carrying costs took below zero): bought with its own cash, a long's equity
    units x price stays above mmr x units x price. Short: cash / (units x (1 + mmr))."""
    units = abs(position.units)
    if position.side > 0.0:
        if not borrowed or cash >= 0.0:
            return np.nan
        return -cash / (units * (1.0 - mmr))
    return cash / (units * (1.0 + mmr))


@njit(cache=True, nogil=True, inline="always")
def rearm_liquidation(cash: float, position: Position, exits: Exits) -> Exits:
    """Rule 10 after cash changed while holding (funding, borrow): ``exits`` with the
    liquidation price of the new cash."""
    liquidation = liquidation_price(cash, position, True, exits.mmr)
    lower, upper = envelope(position.side, exits.protective, exits.take_profit, liquidation)
    return Exits(exits.best, exits.sl_level, exits.protective, exits.protective_reason, exits.take_profit,
                 exits.trail, exits.max_hold, liquidation, exits.mmr, lower, upper)


# -- rules 12 and 13: funding and borrow --------------------------------------------------


@njit(cache=True, nogil=True)
def funding_payment(position: Position, rate: float, open_: float) -> float:
    """Rule 12: what a position held into a bar stamped with funding ``rate`` pays at
    its open (negative: receives): rate x units x open, with a short's negative units,
    so longs pay a positive rate and shorts receive it."""
    return rate * position.units * open_


@njit(cache=True, nogil=True)
def borrow_cost(position: Position, annual_rate: float, periods_per_year: float, close: float) -> float:
    """Rule 13: what a short held at a bar's close pays for borrowing for that bar:
    annual_rate / periods_per_year x units x close (0 for a long)."""
    if position.side >= 0.0:
        return 0.0
    return annual_rate / periods_per_year * -position.units * close


@njit(cache=True, nogil=True, inline="always")
def carried(position: Position, amount: float) -> Position:
    """``position`` having paid ``amount`` more in funding or borrow."""
    return Position(position.side, position.units, position.entry_bar, position.entry_price, position.entry_fee,
                    position.carried + amount)


@njit(cache=True, nogil=True)
def bankrupt_after(cash: float, reason: int, mmr: float) -> bool:
    """Rule 11: whether a column that has just closed its position (exit ``reason``,
    ``cash`` after it) is bankrupt: its equity is at or below zero, or a liquidation
    with no maintenance margin (mmr 0 liquidates at zero equity, whatever the rounding
    of the fill leaves)."""
    return cash <= 0.0 or (reason == LIQUIDATION and mmr == 0.0)


@njit(cache=True, nogil=True)
def marked_equity(cash: float, position: Position, close: float) -> float:
    """Rule 8: equity marked at the last valid close: cash plus the units held (a short's
    negative units) at that price."""
    return cash + position.units * close if position.side != 0.0 else cash


@njit(cache=True, nogil=True)
def open_trade_pnl(position: Position, close: float) -> float:
    """Rule 9: an open position at the end, marked at the last close (no exit fee; net
    of the funding and borrow it paid)."""
    units = abs(position.units)
    diff = units * close - units * position.entry_price
    return (diff if position.side > 0.0 else -diff) - position.entry_fee - position.carried


# -- rules 14-16: shared cash -------------------------------------------------------------


@njit(cache=True, nogil=True)
def liquidation_fraction(equity_open: float, margin_open: float, equity_adverse: float,
                         margin_adverse: float) -> float:
    """Rule 14: how far (0 at the open, 1 at the adverse extremes) every price of a
    group moves, all together on the straight line from its open to its adverse
    extreme, before the group's equity falls to its maintenance margin: 0 when it is
    there at the open already, NaN when it is not even at the extremes. Equity and
    margin are linear along the line, so this is one division."""
    if equity_open <= margin_open:
        return 0.0
    if equity_adverse > margin_adverse:
        return np.nan
    room_open, room_adverse = equity_open - margin_open, equity_adverse - margin_adverse
    return room_open / (room_open - room_adverse)


@njit(cache=True, nogil=True)
def affordable_units(units: float, price: float, fee: float, fixed_fee: float, leverage: float, equity: float,
                     gross: float) -> float:
    """Rule 15: the units (positive) of a buy or short sale of ``units`` at fill
    ``price`` that the group can afford: the gross exposure it holds (``gross``: the
    sum of |units| x the bar's price over its positions) plus what this fill costs
    (notional and fees) stays at most ``leverage`` x its ``equity`` before the fill.
    ``units`` itself when they fit (within 1e-9 relative: rule 4's sizing lands on the
    bound exactly), else the most that fit (0: none). From flat this is rule 4's
    size <= leverage; with leverage 1 and longs only, cash never goes below zero."""
    most = (leverage * equity - gross - fixed_fee) / (price * (1.0 + fee))
    if units <= most * (1.0 + 1e-9):
        return units
    return most if most > 0.0 else 0.0


@njit(cache=True, nogil=True)
def weight_units(weight: float, equity: float, price: float, lot: float) -> float:
    """Rule 16: the signed units that hold ``weight`` of the group's ``equity`` at the
    bar's ``price`` (before slippage and fees, as vectorbt's targetpercent), rounded
    toward zero to a multiple of ``lot`` (0: no rounding)."""
    units = weight * equity / price
    if lot > 0.0:
        units = np.trunc(units / lot) * lot
    return units
