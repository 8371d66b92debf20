"""The simulation kernel: T bars x N columns of target positions -> fills, trades,
equity and metrics, as the sequence of the execution rules (``rules_nb``, numbered
as in the README). Pure numba functions over arrays; the pandas layer is
``mlbt.sim.simulation``.

Inputs are ``state.Prices``, the ``targets`` of each column (N, T): a row per column,
+1 long, -1 short, 0 flat, NaN keep; the transposed view of a (T, N) frame's values,
so a column is walked down its bars in memory order), the settings as flex arrays
(``state.SettingArrays``) and ``state.Rules``; outputs go to ``state.Outputs``.
"""

import numpy as np
from numba import njit, prange

from mlbt.sim import rules_nb, state, stats_nb
from mlbt.sim.numba_cache import bind_sources
from mlbt.sim.rules_nb import (
    arm,
    bankrupt_after,
    borrow_cost,
    carried,
    entry_fill,
    entry_terms,
    exit_fill,
    fill_costs,
    flat,
    flex,
    forced_exit,
    funding_payment,
    is_fresh,
    liquidation_price,
    marked_equity,
    next_entry_bar,
    open_trade_pnl,
    rearm_liquidation,
    stop_reached,
    time_exit_bar,
    trail_update,
)
from mlbt.sim.state import (
    END,
    FILL_CLOSE,
    FILL_NEXT_OPEN,
    LIQUIDATION,
    NO_REASON,
    SIGNAL,
    Bar,
    Code,
    Costs,
    EntryTerms,
    Exits,
    Order,
    Outputs,
    Position,
    Prices,
    Rules,
    SettingArrays,
)
from mlbt.sim.stats_nb import (
    Curve,
    TradeStats,
    add_bars,
    add_bars_blocked,
    add_carry,
    add_fee,
    add_flat,
    add_flat_blocked,
    add_open,
    add_trade,
    close_blocks,
    finish,
    new_curve,
    new_trade_stats,
)

CHUNK = 256  # bars of equity buffered before they are folded into the metrics


@njit(cache=True, nogil=True)
def no_exits() -> Exits:
    return Exits(np.nan, np.nan, np.nan, NO_REASON, np.nan, np.nan, np.nan, np.nan, 0.0, np.nan, np.nan)


@njit(cache=True, nogil=True)
def no_order() -> Order:
    return Order(False, 0.0, np.int64(-1))


@njit(cache=True, nogil=True)
def record_entry(trades: np.ndarray, row: int, c: int, position: Position) -> None:
    """Write the entry of ``position`` to trade record ``row`` (if the buffer has it: rows
    are reserved from a bound, and a row past the buffer is never written)."""
    if row < trades.shape[0]:
        t = trades[row]
        t["col"] = c
        t["side"] = np.int64(position.side)
        t["entry_bar"] = position.entry_bar
        t["units"] = abs(position.units)
        t["entry_price"] = position.entry_price
        t["entry_fee"] = position.entry_fee


@njit(cache=True, nogil=True)
def record_exit(trades: np.ndarray, row: int, bar: int, price: float, fee: float, pnl: float, ret: float,
                reason: int, funding: float) -> None:
    """Write the exit of the trade in record ``row`` (if the buffer has it)."""
    if row < trades.shape[0]:
        t = trades[row]
        t["funding"] = funding
        t["exit_bar"] = bar
        t["exit_price"] = price
        t["exit_fee"] = fee
        t["pnl"] = pnl
        t["return"] = ret
        t["reason"] = reason


@njit(cache=True, nogil=True, inline="always")
def fill(c: int, bar: int, want: float, price: float, reason: int, cash: float, position: Position, exits: Exits,
         stats: TradeStats, n_trades: int, costs: Costs, terms: EntryTerms, trades: np.ndarray,
         first_row: int) -> tuple[float, Position, Exits, TradeStats, int]:
    """Rules 2-5 and 10 at one fill: move column ``c`` to side ``want`` at ``price`` on
    ``bar``: close the open position when it is not on ``want`` (exit ``reason``; a
    liquidation also pays the liquidation fee), then open ``want`` (+1/-1) from flat
    with the ``terms`` of the entry's decision bar, and arm its exits and liquidation
    price. ``costs`` are those of ``bar``. Trades go to records ``first_row +
    n_trades``, ... of ``trades``.

    Returns (cash, position, exits, trade stats, trades written)."""
    fee, fixed_fee, slippage, liquidation_fee = costs
    if position.side != 0.0 and want != position.side:
        exit_fee = fee + liquidation_fee if reason == LIQUIDATION else fee
        cash_in, exit_price, fee_paid, pnl, ret = exit_fill(position, price, exit_fee, fixed_fee, slippage)
        cash = cash + cash_in
        stats = add_trade(add_fee(stats, fee_paid), pnl, ret, bar - position.entry_bar)
        record_exit(trades, first_row + n_trades, bar, exit_price, fee_paid, pnl, ret, reason, position.carried)
        n_trades += 1
        position = flat()
    if want != 0.0 and position.side == 0.0:
        cash_in, entered = entry_fill(cash, want, price, bar, terms.size, terms.lot, fee, fixed_fee, slippage)
        if entered.side != 0.0:
            cash = cash + cash_in
            position = entered
            stats = add_fee(stats, position.entry_fee)
            record_entry(trades, first_row + n_trades, c, position)
            exits = arm(want, position.entry_price, terms.sl, terms.tp, terms.trail, terms.max_hold,
                        liquidation_price(cash, position, terms.size > 1.0, terms.mmr), terms.mmr)
    return cash, position, exits, stats, n_trades


@njit(cache=True, nogil=True)
def pay_carry(amount: float, funding: bool, cash: float, position: Position, exits: Exits,
              stats: TradeStats) -> tuple[float, Position, Exits, TradeStats]:
    """Rules 12, 13: the open ``position`` pays ``amount`` of funding (``funding``) or
    borrow out of ``cash``; its liquidation price moves with the cash. (A call, not
    inlined: it runs only with carrying costs, and inlined twice it cost the bar loop
    registers.) Returns (cash, position, exits, trade stats)."""
    cash = cash - amount
    position = carried(position, amount)
    stats = add_carry(stats, amount, 0.0) if funding else add_carry(stats, 0.0, amount)
    return cash, position, rearm_liquidation(cash, position, exits), stats


@njit(cache=True, nogil=True, inline="always")  # inlined: passing its arrays to a call costs reference counting
def flush(curve: Curve, buf: np.ndarray, n: int, first_bar: int, exposed: int, equity_out: np.ndarray,
          c: int, blocks: np.ndarray, T: int) -> Curve:
    """Fold the ``n`` buffered equity values of bars ``first_bar``, ... into ``curve``
    (and the return blocks' running sums into row ``c`` of ``blocks``, ``out.blocks``,
    when it has columns; T: the bars) and, when recording, into row ``c`` of ``equity_out``."""
    if n == 0:
        return curve
    if equity_out.shape[1] > 0:
        for k in range(n):  # a loop, not a slice assignment: much faster to compile
            equity_out[c, first_bar + k] = buf[k]
    if blocks.shape[1] == 0:
        return add_bars(curve, first_bar, buf, n, exposed)
    return add_bars_blocked(curve, first_bar, buf, n, exposed, blocks[c], T)


@njit(cache=True, nogil=True, inline="always")  # inlined: passing its arrays to a call costs reference counting
def hold_cash(curve: Curve, start: int, end: int, cash: float, equity_out: np.ndarray, c: int, blocks: np.ndarray,
              T: int) -> Curve:
    """Bars ``start`` ... ``end`` - 1 of column ``c`` flat: their equity is ``cash``, folded
    into ``curve`` (and its return blocks, row ``c`` of ``blocks``, when it has columns)
    and, when recording, written to row ``c`` of ``equity_out``."""
    if equity_out.shape[1] > 0:
        for k in range(start, end):
            equity_out[c, k] = cash
    if blocks.shape[1] == 0:
        return add_flat(curve, start, end - start, cash)
    return add_flat_blocked(curve, start, end - start, cash, blocks[c], T)


@njit(cache=True, nogil=True)
# noqa reason: the rules of a bar run in one function body; moving the bar loop's blocks
# into calls costs reference counting of their array arguments on every call (measured:
# 2x slower on dense targets).
def simulate_column_nb(c: int, prices: Prices, targets: np.ndarray, settings: SettingArrays, rules: Rules,  # noqa: C901
                       out: Outputs, carry: bool | None) -> None:
    """Simulate column ``c``: its equity to row ``c`` of ``out.equity`` (if recorded), its
    trades from row ``out.trade_offsets[c]`` (if ``out.trades`` has rows) and their
    number to ``out.trade_counts[c]``, its metrics to ``out.stats[c]``.

    Bar by bar: while flat with no order pending, jump to the next bar whose target
    opens a position (rule 2; the bars in between keep equity at cash); while holding
    with nothing pending, run through the bars that only mark equity; any other bar applies, in this order, the forced
    exits (rules 5-7: stops, then max_hold), the fill of the earlier bar's order at this
    open (rule 1), this bar's decision (rules 1, 2) and, with close fills, its fill at
    this close; a NaN bar has no fills (rule 8); a bankrupt column (rule 11) decides
    nothing more and stays flat. Equity is buffered CHUNK bars at a time
    and folded into the metrics by ``stats_nb.add_bars``. At the end an open position
    is marked to market and reported as an open trade (rule 9).

    ``carry``: True when some bar has a funding or borrow rate (``rules.carry``), else
    None, which numba compiles as a type of its own with the code of rules 12 and 13
    pruned away (a run without carrying costs, the common case, pays nothing for them:
    their branches alone cost 2-3% of the kernel's instructions)."""
    T = targets.shape[1]
    pc = c if prices.close.shape[0] > 1 else 0  # price row: prices are (1, T) or (N, T)
    # The column's series as 1-D views: indexing them costs less than a 2-D index per bar.
    column = targets[c]
    opens_, highs, lows, closes = prices.open[pc], prices.high[pc], prices.low[pc], prices.close[pc]
    trades = out.trades
    first_row = out.trade_offsets[c] if trades.shape[0] > 0 else 0
    init_cash = flex(settings.cash, 0, c)
    cash = init_cash
    position = flat()
    exits = no_exits()
    order = no_order()
    curve = new_curve(init_cash)
    stats = new_trade_stats()
    n_trades = np.int64(0)
    ffilled = 0.0  # the forward-filled target
    last_close = np.nan
    buf = np.empty(CHUNK)
    # Integers start as np.int64: a literal 0 would make numba compile the helpers
    # they are passed to once more, for that literal type.
    n_buf = np.int64(0)  # equity values buffered, of bars i - n_buf ... i - 1
    exposed = np.int64(0)  # of them, bars that ended with a position
    signal = np.int64(SIGNAL)
    bankrupt_bar = np.int64(-1)  # rule 11: the bar the column went bankrupt (-1: never)
    i = np.int64(0)
    while i < T:
        if position.side == 0.0 and not order.pending:  # rule 2: flat until a target opens
            j, ffilled = next_entry_bar(column, i, ffilled, rules.reentry) if bankrupt_bar < 0 else (T, ffilled)
            if j > i:
                curve = flush(curve, buf, n_buf, i - n_buf, exposed, out.equity, c, out.blocks, T)
                n_buf, exposed = np.int64(0), np.int64(0)
                curve = hold_cash(curve, i, j, cash, out.equity, c, out.blocks, T)
                i = j
                if i == T:
                    break
        elif carry is None and not order.pending and position.entry_bar < i and column[i] != column[i]:
            # Holding with nothing pending (rules 5, 7, 8): bars on which no stop level
            # is reached, max_hold is not due, the target is NaN (keep) and the bar is
            # valid only mark equity and move the trailing reference. (A block, not a
            # function: passing the arrays to a call costs reference counting per call.)
            start = i
            limit = min(time_exit_bar(position, exits, T), i + CHUNK - n_buf)
            # One loop per kind of stretch, each with only the tests it needs (a test that
            # cannot fire still costs its branch on every bar).
            if exits.lower == exits.lower or exits.upper == exits.upper:  # a stop level to watch
                if exits.trail == exits.trail:  # and a trailing reference to move
                    while i < limit:
                        close = closes[i]
                        high, low = highs[i], lows[i]
                        if close != close or column[i] == column[i] or stop_reached(exits, high, low):
                            break
                        exits = trail_update(position.side, exits, high, low)
                        buf[n_buf] = marked_equity(cash, position, close)
                        n_buf += 1
                        i += 1
                else:
                    while i < limit:
                        close = closes[i]
                        if close != close or column[i] == column[i] or stop_reached(exits, highs[i], lows[i]):
                            break
                        buf[n_buf] = marked_equity(cash, position, close)
                        n_buf += 1
                        i += 1
            else:
                blocks = True  # after 16 quiet bars one at a time, 16 at a time with one branch-free test
                while i < limit:
                    if blocks and i - start >= 16 and i + 16 <= limit:
                        quiet = 0
                        for k in range(16):
                            quiet += (closes[i + k] == closes[i + k]) & (column[i + k] != column[i + k])
                        if quiet == 16:
                            for k in range(16):
                                buf[n_buf + k] = marked_equity(cash, position, closes[i + k])
                            n_buf += 16
                            i += 16
                            continue
                        blocks = False  # the stretch ends within these 16 bars
                    close = closes[i]
                    if close != close or column[i] == column[i]:
                        break
                    buf[n_buf] = marked_equity(cash, position, close)
                    n_buf += 1
                    i += 1
            if i > start:
                last_close = closes[i - 1]
            exposed += i - start
            if n_buf == CHUNK:
                curve = flush(curve, buf, n_buf, i - n_buf, exposed, out.equity, c, out.blocks, T)
                n_buf, exposed = np.int64(0), np.int64(0)
                continue
            if i == T:
                break
        close = closes[i]
        valid = close == close  # rule 8: a NaN bar has no fills
        forced = False
        if valid:
            open_, high, low = opens_[i], highs[i], lows[i]
            decision: Bar = np.int64(0)
            reason: Code = NO_REASON
            price, want = np.nan, 0.0
            if carry is not None and position.side != 0.0 and position.entry_bar < i:  # rule 12: funding at the open
                rate = flex(settings.funding_rate, i, c)
                if rate == rate:
                    cash, position, exits, stats = pay_carry(funding_payment(position, rate, open_), True, cash,
                                                             position, exits, stats)
            if position.side != 0.0 and position.entry_bar < i:  # rules 5-7, 10: forced exits come first
                price, reason = forced_exit(position, exits, i, open_, high, low, close, rules.fill_mode,
                                            rules.stop_tie, order.target if order.pending else np.nan)
                if price == price:
                    forced = True
                    order = no_order()  # a stop or time exit cancels the signal order of its bar
                elif exits.trail == exits.trail:
                    exits = trail_update(position.side, exits, high, low)
            if rules.fill_mode == FILL_NEXT_OPEN and order.pending:  # rule 1: the earlier decision fills here
                price, reason, want, decision = open_, signal, order.target, order.decision_bar
                order = no_order()
            if price == price:
                cash, position, exits, stats, n_trades = fill(c, i, want, price, reason, cash, position, exits, stats,
                                                              n_trades, fill_costs(settings, i, c),
                                                              entry_terms(settings, decision, c), trades, first_row)
                if position.side == 0.0 and bankrupt_after(cash, reason, exits.mmr):  # rule 11: it stops trading
                    bankrupt_bar = i
        value = column[i]
        if value == value and bankrupt_bar < 0:  # rules 1, 2: this bar's decision becomes the pending order
            fresh = is_fresh(value, ffilled, rules.reentry, position.side == 0.0)
            ffilled = value
            if fresh and not (forced and rules.fill_mode == FILL_CLOSE):  # a stop beats the signal of its bar
                order = Order(True, value, i)
        if valid:
            if rules.fill_mode == FILL_CLOSE and order.pending:  # rule 1: close fills
                cash, position, exits, stats, n_trades = fill(c, i, order.target, close, signal, cash, position, exits,
                                                              stats, n_trades, fill_costs(settings, i, c),
                                                              entry_terms(settings, order.decision_bar, c), trades,
                                                              first_row)
                order = no_order()
                if position.side == 0.0 and bankrupt_after(cash, signal, exits.mmr):  # rule 11
                    bankrupt_bar = i
            # rule 13: a short held over the bar pays its borrow at the close (not one entered at it)
            if carry is not None and position.side < 0.0 and not (rules.fill_mode == FILL_CLOSE
                                                                   and position.entry_bar == i):
                cost = borrow_cost(position, flex(settings.borrow_rate, i, c), rules.periods_per_year, close)
                if cost != 0.0:
                    cash, position, exits, stats = pay_carry(cost, False, cash, position, exits, stats)
            last_close = close
        buf[n_buf] = marked_equity(cash, position, last_close)
        n_buf += 1
        exposed += position.side != 0.0
        i += 1
        if n_buf == CHUNK:
            curve = flush(curve, buf, n_buf, i - n_buf, exposed, out.equity, c, out.blocks, T)
            n_buf, exposed = np.int64(0), np.int64(0)
    curve = flush(curve, buf, n_buf, T - n_buf, exposed, out.equity, c, out.blocks, T)
    if out.blocks.shape[1] > 0:
        close_blocks(curve, out.blocks[c], T)
    if position.side != 0.0:  # rule 9: the open position is marked at the last close
        pnl = open_trade_pnl(position, last_close)
        stats = add_open(stats)
        record_exit(trades, first_row + n_trades, T - 1, last_close, 0.0, pnl,
                    pnl / (abs(position.units) * position.entry_price), END, position.carried)
        n_trades += 1
    out.trade_counts[c] = n_trades
    first, last = valid_closes(closes)
    finish(curve, stats, out.stats[c], init_cash, rules.periods_per_year, last / first - 1.0, bankrupt_bar)


@njit(cache=True, nogil=True)
def valid_closes(closes: np.ndarray) -> tuple[float, float]:
    """The first and the last non-NaN of a column's ``closes`` (NaN, NaN if none): the
    buy-and-hold return of the data."""
    T = closes.shape[0]
    first = last = np.nan
    for i in range(T):
        if closes[i] == closes[i]:
            first = closes[i]
            break
    for i in range(T - 1, -1, -1):
        if closes[i] == closes[i]:
            last = closes[i]
            break
    return first, last


@njit(cache=True, nogil=True, parallel=True)
def entry_bounds_nb(targets: np.ndarray, reentry: bool) -> np.ndarray:
    """``rules_nb.count_entries`` of every column (a row of ``targets``), in parallel threads."""
    out = np.empty(targets.shape[0], dtype=np.int64)
    for k in prange(targets.shape[0]):
        out[k] = rules_nb.count_entries(targets[k], reentry)
    return out


@njit(cache=True, nogil=True, parallel=True)
def simulate_nb(prices: Prices, targets: np.ndarray, settings: SettingArrays, rules: Rules, out: Outputs,
                carry: bool | None) -> None:
    """``simulate_column_nb`` for every column (a row of ``targets``), in parallel threads."""
    for k in prange(targets.shape[0]):
        simulate_column_nb(np.int64(k), prices, targets, settings, rules, out, carry)  # prange indices are unsigned


# numba's cache keys a function on its own file only, but these kernels inline the
# rules, the metric accumulators and the codes of ``state``: make every cached function
# of the four modules stale when any of their sources changes.
KERNEL_SOURCES = [__file__, rules_nb.__file__, stats_nb.__file__, state.__file__]
bind_sources({id(v): v for m in (rules_nb, stats_nb, globals()) for v in (vars(m) if not isinstance(m, dict) else m)
              .values() if hasattr(v, "_cache")}.values(), KERNEL_SOURCES)
