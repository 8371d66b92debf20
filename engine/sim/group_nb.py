"""The shared-cash kernel: groups of columns with one cash account and one equity
curve (execution rules 14-16), bar after bar across each group's columns, reusing
the single-column rules of ``rules_nb``. Pure numba functions over arrays; the
pandas layer is ``mlbt.sim.simulation``.

Inputs are those of ``kernel_nb`` (prices with a row per asset, read through
``Group.asset``) and a ``state.Group``; outputs go to ``state.GroupOutputs``.

Within a bar, for the columns of a group in column order (the deterministic tie
order): funding at the open (rule 12); the forced exits (rule 14: the group's
liquidation, then each column's stops and time exit, rules 5-7); the fills of the
orders decided at the earlier bar's close (rule 1): first every exit, reduction and
reversal, then every entry and increase (rule 15 caps those); this bar's decisions;
with close fills their fills, in the same two passes; borrow at the close (rule 13).
"""

import numpy as np
from numba import njit, prange

from mlbt.sim.kernel_nb import CHUNK, KERNEL_SOURCES, no_exits, no_order, record_entry, record_exit, valid_closes
from mlbt.sim.numba_cache import bind_sources
from mlbt.sim.rules_nb import (
    affordable_units,
    arm,
    bankrupt_after,
    borrow_cost,
    carried,
    entry_units,
    envelope,
    fill_fee,
    fill_price,
    flat,
    flex,
    forced_exit,
    funding_payment,
    is_fresh,
    liquidation_fraction,
    liquidation_price,
    open_fill,
    stop_reached,
    time_exit_due,
    trail_update,
    weight_units,
)
from mlbt.sim.state import (
    END,
    ENTRY,
    FILL_CLOSE,
    FILL_NEXT_OPEN,
    LIQUIDATION,
    NO_REASON,
    REBALANCE,
    SIGNAL,
    Book,
    Exits,
    Group,
    GroupOutputs,
    Order,
    Position,
    Prices,
    Rules,
    SettingArrays,
)
from mlbt.sim.stats_nb import (
    TradeStats,
    add_bars_blocked,
    add_carry,
    add_fee,
    add_open,
    add_trade,
    close_blocks,
    finish,
    new_curve,
    new_trade_stats,
)

POSITION_FIELDS, BOOK_FIELDS, EXITS_FIELDS, ORDER_FIELDS = 6, 5, 11, 3


@njit(cache=True, nogil=True, inline="always")
def get_position(a: np.ndarray, k: int) -> Position:
    return Position(a[k, 0], a[k, 1], np.int64(a[k, 2]), a[k, 3], a[k, 4], a[k, 5])


@njit(cache=True, nogil=True, inline="always")
def put_position(a: np.ndarray, k: int, p: Position) -> None:
    a[k, 0], a[k, 1], a[k, 2], a[k, 3], a[k, 4], a[k, 5] = (p.side, p.units, p.entry_bar, p.entry_price,
                                                             p.entry_fee, p.carried)


@njit(cache=True, nogil=True, inline="always")
def get_book(a: np.ndarray, k: int) -> Book:
    return Book(a[k, 0], a[k, 1], a[k, 2], a[k, 3], a[k, 4])


@njit(cache=True, nogil=True, inline="always")
def put_book(a: np.ndarray, k: int, b: Book) -> None:
    a[k, 0], a[k, 1], a[k, 2], a[k, 3], a[k, 4] = b.entered, b.entry_value, b.exited, b.exit_value, b.exit_fee


@njit(cache=True, nogil=True, inline="always")
def get_exits(a: np.ndarray, k: int) -> Exits:
    return Exits(a[k, 0], a[k, 1], a[k, 2], int(a[k, 3]), a[k, 4], a[k, 5], a[k, 6], a[k, 7], a[k, 8],
                 a[k, 9], a[k, 10])


@njit(cache=True, nogil=True, inline="always")
def put_exits(a: np.ndarray, k: int, e: Exits) -> None:
    a[k, 0], a[k, 1], a[k, 2], a[k, 3], a[k, 4], a[k, 5] = (e.best, e.sl_level, e.protective, e.protective_reason,
                                                             e.take_profit, e.trail)
    a[k, 6], a[k, 7], a[k, 8], a[k, 9], a[k, 10] = e.max_hold, e.liquidation, e.mmr, e.lower, e.upper


@njit(cache=True, nogil=True, inline="always")
def get_order(a: np.ndarray, k: int) -> Order:
    return Order(a[k, 0] != 0.0, a[k, 1], np.int64(a[k, 2]))


@njit(cache=True, nogil=True, inline="always")
def put_order(a: np.ndarray, k: int, o: Order) -> None:
    a[k, 0], a[k, 1], a[k, 2] = 1.0 if o.pending else 0.0, o.target, o.decision_bar


@njit(cache=True, nogil=True)
def no_book() -> Book:
    return Book(0.0, 0.0, 0.0, 0.0, 0.0)


@njit(cache=True, nogil=True)
def opened_book(position: Position) -> Book:
    """The book of a position just opened by one fill."""
    return Book(abs(position.units), abs(position.units) * position.entry_price, 0.0, 0.0, 0.0)


@njit(cache=True, nogil=True)
def with_liquidation(side: float, exits: Exits, liquidation: float) -> Exits:
    """``exits`` with the liquidation price ``liquidation`` (NaN: the group's check,
    rule 14, watches the account instead)."""
    lower, upper = envelope(side, exits.protective, exits.take_profit, liquidation)
    return Exits(exits.best, exits.sl_level, exits.protective, exits.protective_reason, exits.take_profit,
                 exits.trail, exits.max_hold, liquidation, exits.mmr, lower, upper)


@njit(cache=True, nogil=True, inline="always")
def record_order(orders: np.ndarray, row: int, c: int, bar: int, units: float, price: float, fee: float,
                 reason: int, seq: int) -> None:
    """Write one fill, the group's ``seq``-th, to order record ``row`` (if the buffer has it)."""
    if row < orders.shape[0]:
        o = orders[row]
        o["seq"] = seq
        o["col"] = c
        o["bar"] = bar
        o["units"] = units
        o["price"] = price
        o["fee"] = fee
        o["reason"] = reason


@njit(cache=True, nogil=True, inline="always")
def record_close(trades: np.ndarray, row: int, position: Position, book: Book, bar: int, price: float, pnl: float,
                 ret: float, reason: int) -> None:
    """Write the close of the trade in record ``row`` (if the buffer has it), with the
    units entered, average entry price and entry fees of all its fills."""
    record_exit(trades, row, bar, price, book.exit_fee, pnl, ret, reason, position.carried)
    if row < trades.shape[0]:
        t = trades[row]
        t["units"] = book.entered
        t["entry_price"] = position.entry_price
        t["entry_fee"] = position.entry_fee


@njit(cache=True, nogil=True)
def close_fill(position: Position, book: Book, price: float, fee: float, fixed_fee: float,
               slippage: float) -> tuple[float, float, float, Book]:
    """Rule 3: close all of ``position`` at the bar's ``price``: (cash it adds (negative
    for a short's buy-back), fill price, fee, the book with the fill)."""
    units = abs(position.units)
    long = position.side > 0.0
    exit_price = fill_price(price, not long, slippage)
    notional = units * exit_price
    fee_paid = fill_fee(notional, fee, fixed_fee)
    cash_in = notional - fee_paid if long else -(notional + fee_paid)
    return cash_in, exit_price, fee_paid, Book(book.entered, book.entry_value, book.exited + units,
                                              book.exit_value + notional, book.exit_fee + fee_paid)


@njit(cache=True, nogil=True)
def trade_result(position: Position, book: Book, exit_price: float) -> tuple[float, float, float]:
    """A closed position as one trade: (average exit price (``exit_price`` when one
    fill closed it), pnl net of every fee, funding and borrow, return on the value
    entered)."""
    average = exit_price if book.exited == abs(position.units) or book.exited == 0.0 else (
        book.exit_value / book.exited)
    gain = book.exit_value - book.entry_value
    pnl = (gain if position.side > 0.0 else -gain) - position.entry_fee - book.exit_fee - position.carried
    return average, pnl, pnl / book.entry_value


@njit(cache=True, nogil=True, inline="always")  # in the bar loop: a call passing arrays costs reference counting
def close_trade(k: int, c: int, bar: int, position: Position, book: Book, price: float, fee: float, fixed_fee: float,
                slippage: float, reason: int, stats: TradeStats, n_fills: int, n_orders: np.ndarray,
                n_trades: np.ndarray, orders: np.ndarray, trades: np.ndarray,
                out: GroupOutputs) -> tuple[float, TradeStats, int]:
    """Close all of column ``c``'s ``position`` (the group's k-th column) at the bar's
    ``price`` with exit ``reason``: the fill (``close_fill``), its order record, the
    trade record and the trade statistics. Returns (the cash it adds, the trade
    statistics, the group's fills so far)."""
    cash_in, exit_price, fee_paid, book = close_fill(position, book, price, fee, fixed_fee, slippage)
    average, pnl, ret = trade_result(position, book, exit_price)
    stats = add_trade(add_fee(stats, fee_paid), pnl, ret, bar - position.entry_bar)
    record_order(orders, out.order_offsets[c] + n_orders[k], c, bar, -position.units, exit_price, fee_paid, reason,
                 n_fills)
    n_orders[k] += 1
    record_close(trades, out.trade_offsets[c] + n_trades[k], position, book, bar, average, pnl, ret, reason)
    n_trades[k] += 1
    return cash_in, stats, n_fills + 1


@njit(cache=True, nogil=True)
def add_units(position: Position, book: Book, units: float, price: float, fee: float,
              fixed_fee: float) -> tuple[float, Position, Book, float]:
    """Rule 16: ``units`` more (positive) on the side of the open ``position`` at fill
    ``price``: (cash, the position with its average entry price, book, fee)."""
    notional = units * price
    fee_paid = fill_fee(notional, fee, fixed_fee)
    cash_in = -(notional + fee_paid) if position.side > 0.0 else notional - fee_paid
    entered, value = book.entered + units, book.entry_value + notional
    signed = units if position.side > 0.0 else -units
    return cash_in, Position(position.side, position.units + signed, position.entry_bar, value / entered,
                             position.entry_fee + fee_paid, position.carried), Book(
        entered, value, book.exited, book.exit_value, book.exit_fee), fee_paid


@njit(cache=True, nogil=True)
def cut_units(position: Position, book: Book, units: float, price: float, fee: float,
              fixed_fee: float) -> tuple[float, Position, Book, float]:
    """Rule 16: close ``units`` (positive, fewer than held) of ``position`` at fill
    ``price``: (cash, position, book, fee)."""
    notional = units * price
    fee_paid = fill_fee(notional, fee, fixed_fee)
    cash_in = notional - fee_paid if position.side > 0.0 else -(notional + fee_paid)
    signed = -units if position.side > 0.0 else units
    return cash_in, Position(position.side, position.units + signed, position.entry_bar, position.entry_price,
                             position.entry_fee, position.carried), Book(
        book.entered, book.entry_value, book.exited + units, book.exit_value + notional,
        book.exit_fee + fee_paid), fee_paid


@njit(cache=True, nogil=True, inline="always")  # a call passing arrays costs reference counting
def set_marks(out: np.ndarray, prices: Prices, group: Group, cols: np.ndarray, i: int, at_close: bool,
              last_close: np.ndarray) -> np.ndarray:
    """``out``, set to the price each column of a group is marked at for a fill on bar
    ``i``: the bar's close (``at_close``) or open, the last close on a bar without
    prices. (A buffer the group reuses: an array allocated per bar costs more than
    the bar's rules.)"""
    for k in range(cols.shape[0]):
        a = group.asset[cols[k]]
        price = prices.close[i, a] if at_close else prices.open[i, a]
        out[k] = price if price == price else last_close[k]
    return out


@njit(cache=True, nogil=True, inline="always")
def account(cash: float, pos: np.ndarray, mark: np.ndarray) -> tuple[float, float]:
    """(equity, gross exposure) of a group: cash plus each position (rows of ``pos``)
    at ``mark``, and the sum of |units| x mark."""
    equity, gross = cash, 0.0
    for k in range(pos.shape[0]):
        u = pos[k, 1]
        if u != 0.0:
            equity += u * mark[k]
            gross += abs(u) * mark[k]
    return equity, gross


@njit(cache=True, nogil=True)
# noqa reason: the phases of a bar share the group's state; see the module docstring.
def simulate_group_nb(g: int, prices: Prices, targets: np.ndarray, settings: SettingArrays, rules: Rules,  # noqa: C901
                      group: Group, out: GroupOutputs) -> None:
    """Simulate group ``g``: its equity and cash to row ``g`` of ``out.equity`` and
    ``out.cash`` and each column's position value to its row of ``out.value`` (if
    recorded), trades and orders from each column's reserved rows, metrics to
    ``out.stats[g]`` (trades of all its columns; the buy-and-hold return is the mean
    of its assets')."""
    T = targets.shape[1]
    cols = group.cols[group.start[g]:group.start[g + 1]]
    n = cols.shape[0]
    init_cash = flex(settings.cash, 0, cols[0])
    cash = init_cash
    # The columns' state, a row each (lists of NamedTuples cost reference counting on
    # every access in a function this size: measured 3x slower).
    pos = np.zeros((n, POSITION_FIELDS))
    bks = np.zeros((n, BOOK_FIELDS))
    exs = np.zeros((n, EXITS_FIELDS))
    ords = np.zeros((n, ORDER_FIELDS))
    for k in range(n):
        put_position(pos, k, flat())
        put_book(bks, k, no_book())
        put_exits(exs, k, no_exits())
        put_order(ords, k, no_order())
    ffilled = np.zeros(n) if not group.weights else np.full(n, np.nan)
    last_close = np.full(n, np.nan)
    mark_buf = np.empty(n)
    assets = np.empty(n, dtype=np.int64)  # each column's row of the prices
    for k in range(n):
        assets[k] = group.asset[cols[k]]
    forced_at = np.full(n, -1, dtype=np.int64)  # the bar of each column's last forced exit
    # Kept from bar to bar rather than recounted: the open positions, the shorts among
    # them, whether a column may hold a liquidation price of its own (rule 10, set at
    # an entry or while one position is open) and whether an order may be pending.
    n_open, n_short = np.int64(0), np.int64(0)
    armed, maybe_pending = False, False
    n_trades = np.zeros(n, dtype=np.int64)
    n_orders = np.zeros(n, dtype=np.int64)
    trades, order_rows = out.trades, out.orders
    curve = new_curve(init_cash)
    stats = new_trade_stats()
    buf = np.empty(CHUNK)
    n_buf = np.int64(0)
    exposed = np.int64(0)
    bankrupt_bar = np.int64(-1)
    n_fills = np.int64(0)
    record = out.equity.shape[1] > 0
    for i in range(T):
        if bankrupt_bar < 0 and n_open > 0:
            # rule 12: funding at the open of each position held into the bar
            if rules.carry:
                for k in range(n):
                    c, a = cols[k], assets[k]
                    p = get_position(pos, k)
                    if p.side != 0.0 and p.entry_bar < i and prices.close[i, a] == prices.close[i, a]:
                        rate = flex(settings.funding_rate, i, c)
                        if rate == rate:
                            amount = funding_payment(p, rate, prices.open[i, a])
                            cash -= amount
                            put_position(pos, k, carried(p, amount))
                            stats = add_carry(stats, amount, 0.0)
            # rule 14: the group's liquidation (with one position, rule 10's price)
            liquidated = False
            # With cash at or above zero and longs only, equity stays above any margin: no check.
            if n_open >= 2 and (n_short > 0 or cash < 0.0):
                e0, m0, e1, m1 = cash, 0.0, cash, 0.0
                for k in range(n):
                    side, units = pos[k, 0], pos[k, 1]
                    if side != 0.0:
                        a = assets[k]
                        o = prices.open[i, a]
                        if o != o:  # no prices on this bar: fixed at the last close
                            o = x = last_close[k]
                        else:
                            x = prices.low[i, a] if side > 0.0 else prices.high[i, a]
                        e0 += units * o
                        e1 += units * x
                        mmr = exs[k, 8]
                        m0 += mmr * abs(units) * o
                        m1 += mmr * abs(units) * x
                        if armed and exs[k, 7] == exs[k, 7]:  # liquidation
                            put_exits(exs, k, with_liquidation(side, get_exits(exs, k), np.nan))
                armed = False
                move = liquidation_fraction(e0, m0, e1, m1)
                if move == move:
                    liquidated = True
                    zero_margin = True
                    for k in range(n):
                        p = get_position(pos, k)
                        if p.side == 0.0:
                            continue
                        c, a = cols[k], assets[k]
                        o = prices.open[i, a]
                        if o != o:
                            price = last_close[k]
                        else:
                            x = prices.low[i, a] if p.side > 0.0 else prices.high[i, a]
                            price = o + move * (x - o)
                        zero_margin = zero_margin and get_exits(exs, k).mmr == 0.0
                        fee_, fixed_, slip_ = flex(settings.fee, i, c), flex(settings.fixed_fee, i, c), \
                            flex(settings.slippage, i, c)
                        cash_in, stats, n_fills = close_trade(
                            k, c, i, p, get_book(bks, k), price, fee_ + flex(settings.liquidation_fee, i, c), fixed_,
                            slip_, LIQUIDATION, stats, n_fills, n_orders, n_trades, order_rows, trades, out)
                        cash += cash_in
                        put_position(pos, k, flat())
                        put_book(bks, k, no_book())
                        put_order(ords, k, no_order())
                        forced_at[k] = i
                    n_open, n_short = np.int64(0), np.int64(0)
                    if cash <= 0.0 or zero_margin:  # rule 11
                        bankrupt_bar = np.int64(i)
            elif n_open >= 2:
                if armed:
                    for k in range(n):
                        if pos[k, 0] != 0.0 and exs[k, 7] == exs[k, 7]:  # side, liquidation
                            put_exits(exs, k, with_liquidation(pos[k, 0], get_exits(exs, k), np.nan))
                    armed = False
            elif n_open == 1:
                for k in range(n):
                    p = get_position(pos, k)
                    if p.side != 0.0:
                        put_exits(exs, k, with_liquidation(p.side, get_exits(exs, k),
                                                           liquidation_price(cash, p, True, exs[k, 8])))
                armed = True
            # rules 5-7, 10: each column's stops and time exit
            if not liquidated:
                for k in range(n):
                    # flat, or no stop, trailing reference or max_hold to watch (exits: trail, max_hold, lower, upper)
                    if pos[k, 0] == 0.0 or (exs[k, 5] != exs[k, 5] and exs[k, 6] != exs[k, 6] and exs[k, 9] != exs[k, 9]
                                            and exs[k, 10] != exs[k, 10]):
                        continue
                    p = get_position(pos, k)
                    c, a = cols[k], assets[k]
                    close = prices.close[i, a]
                    if p.entry_bar >= i or close != close:
                        continue
                    high, low = prices.high[i, a], prices.low[i, a]
                    ex = get_exits(exs, k)
                    order = get_order(ords, k)
                    price, reason = np.nan, NO_REASON
                    if stop_reached(ex, high, low) or time_exit_due(i, p, ex):
                        price, reason = forced_exit(p, ex, i, prices.open[i, a], high, low, close, rules.fill_mode,
                                                    rules.stop_tie, order.target if order.pending else np.nan)
                    if price != price:
                        if get_exits(exs, k).trail == get_exits(exs, k).trail:
                            put_exits(exs, k, trail_update(p.side, get_exits(exs, k), high, low))
                        continue
                    fee_ = flex(settings.fee, i, c) + (flex(settings.liquidation_fee, i, c)
                                                       if reason == LIQUIDATION else 0.0)
                    cash_in, stats, n_fills = close_trade(
                        k, c, i, p, get_book(bks, k), price, fee_, flex(settings.fixed_fee, i, c),
                        flex(settings.slippage, i, c), reason, stats, n_fills, n_orders, n_trades, order_rows, trades,
                        out)
                    cash += cash_in
                    mmr = get_exits(exs, k).mmr
                    put_position(pos, k, flat())
                    put_book(bks, k, no_book())
                    put_order(ords, k, no_order())
                    forced_at[k] = i
                    n_open -= 1
                    n_short -= p.side < 0.0
                    if n_open == 0 and bankrupt_after(cash, reason, mmr):  # rule 11
                        bankrupt_bar = np.int64(i)
        # rule 1: the orders decided at the earlier close fill at this open; then this bar's decisions
        for phase in range(2):
            fills = (phase == 0) == (rules.fill_mode == FILL_NEXT_OPEN)
            if phase == 1 and bankrupt_bar < 0:
                maybe_pending = False
                for k in range(n):
                    c, a = cols[k], assets[k]
                    value = targets[c, i]
                    if value == value:
                        fresh = is_fresh(value, ffilled[k], rules.reentry, get_position(pos, k).side == 0.0)
                        ffilled[k] = value
                        if fresh and not (forced_at[k] == i and rules.fill_mode == FILL_CLOSE):
                            put_order(ords, k, Order(True, value, np.int64(i)))
                    elif group.weights and ffilled[k] == ffilled[k] and not get_order(ords, k).pending:
                        drift = flex(group.drift, i, c)
                        close = prices.close[i, a]
                        if drift == drift and close == close and get_position(pos, k).side != 0.0:
                            mark = set_marks(mark_buf, prices, group, cols, i, True, last_close)
                            equity, _ = account(cash, pos, mark)
                            if equity > 0.0 and abs(get_position(pos, k).units * close / equity - ffilled[k]) > drift:
                                put_order(ords, k, Order(True, ffilled[k], np.int64(i)))
                    maybe_pending = maybe_pending or ords[k, 0] != 0.0  # pending
            # (forced exits only cancel orders: none is pending unless the last decisions left one)
            if not fills or bankrupt_bar >= 0 or not maybe_pending:
                continue
            at_close = phase == 1
            mark = set_marks(mark_buf, prices, group, cols, i, at_close, last_close)
            equity, _ = account(cash, pos, mark)
            for step in range(2):  # exits, reductions and reversals; then entries and increases
                for k in range(n):
                    if ords[k, 0] == 0.0:  # not pending
                        continue
                    order = get_order(ords, k)
                    c, a = cols[k], assets[k]
                    if prices.close[i, a] != prices.close[i, a]:
                        continue
                    p = get_position(pos, k)
                    price = mark[k]
                    fee_, fixed_, slip_ = flex(settings.fee, i, c), flex(settings.fixed_fee, i, c), \
                        flex(settings.slippage, i, c)
                    d = order.decision_bar
                    if group.weights:
                        held = p.units * price / equity if equity > 0.0 else 0.0
                        w = order.target
                        reducing = (held != 0.0 and (w == 0.0 or (w > 0.0) != (held > 0.0))) or abs(w) < abs(held)
                        if reducing != (step == 0):
                            continue
                        now_equity, gross = account(cash, pos, mark)
                        want = weight_units(w, now_equity, price, flex(settings.lot, d, c)) if now_equity > 0.0 \
                            else 0.0
                    else:
                        reducing = p.side != 0.0 and order.target != p.side
                        if step == 0 and not reducing:
                            continue
                        want = 0.0
                    # a weight that leaves nothing of the position (or turns it) closes it
                    if step == 0 and p.side != 0.0 and (want == 0.0 or (want > 0.0) != (p.side > 0.0)
                                                        or abs(p.units) - abs(want) == abs(p.units)):
                        cash_in, stats, n_fills = close_trade(
                            k, c, i, p, get_book(bks, k), price, fee_, fixed_, slip_, SIGNAL, stats, n_fills,
                            n_orders, n_trades, order_rows, trades, out)
                        cash += cash_in
                        put_position(pos, k, flat())
                        put_book(bks, k, no_book())
                        n_open -= 1
                        n_short -= p.side < 0.0
                        p = get_position(pos, k)
                        if n_open == 0 and bankrupt_after(cash, SIGNAL, 0.0):  # rule 11
                            bankrupt_bar = np.int64(i)
                            break
                    elif step == 0 and group.weights and abs(want) < abs(p.units):  # a reduction
                        cut = abs(p.units) - abs(want)
                        q = fill_price(price, p.side < 0.0, slip_)
                        cash_in, cut_to, cut_book, fee_paid = cut_units(p, get_book(bks, k), cut, q, fee_, fixed_)
                        put_position(pos, k, cut_to)
                        put_book(bks, k, cut_book)
                        cash += cash_in
                        stats = add_fee(stats, fee_paid)
                        record_order(order_rows, out.order_offsets[c] + n_orders[k], c, i,
                                     cut if p.side < 0.0 else -cut, q, fee_paid, REBALANCE, n_fills)
                        n_orders[k] += 1
                        n_fills += 1
                        put_order(ords, k, no_order())
                        continue
                    if step == 0 and not (group.weights and want != 0.0):
                        if order.target == 0.0 or group.weights:
                            put_order(ords, k, no_order())
                        continue
                    # an entry or increase (step 1; a reversal's entry right after its exit)
                    put_order(ords, k, no_order())
                    now_equity, gross = account(cash, pos, mark)
                    if group.weights:
                        side = 1.0 if want > 0.0 else -1.0
                        units = abs(want) - abs(p.units)
                    else:
                        side = order.target
                        if side == 0.0 or p.side != 0.0:
                            continue
                        q = fill_price(price, side > 0.0, slip_)
                        units = entry_units(now_equity, flex(settings.size, d, c), q, fee_, fixed_,
                                            flex(settings.lot, d, c))
                    if units <= 0.0 or now_equity <= 0.0:
                        continue
                    q = fill_price(price, side > 0.0, slip_)
                    most = affordable_units(units, q, fee_, fixed_, flex(group.leverage, d, c), now_equity, gross)
                    if most < units:  # rule 15: over the exposure cap
                        lot = flex(settings.lot, d, c)
                        units = 0.0 if group.skip else (np.floor(most / lot) * lot if lot > 0.0 else most)
                        if units <= 0.0:
                            continue
                    if not units * q > 0.0:  # nothing worth a fill (a weight too small to value)
                        continue
                    if p.side == 0.0:
                        cash_in, p = open_fill(side, units, q, i, fee_, fixed_)
                        if p.side == 0.0:
                            continue
                        cash += cash_in
                        put_position(pos, k, p)
                        put_book(bks, k, opened_book(p))
                        stats = add_fee(stats, p.entry_fee)
                        record_entry(trades, out.trade_offsets[c] + n_trades[k], c, p)
                        record_order(order_rows, out.order_offsets[c] + n_orders[k], c, i, p.units, q, p.entry_fee,
                                     ENTRY, n_fills)
                        n_orders[k] += 1
                        n_fills += 1
                        n_open += 1
                        n_short += side < 0.0
                        armed = True
                        mmr = flex(settings.mmr, d, c)
                        liquidation = liquidation_price(cash, p, flex(settings.size, d, c) > 1.0 or group.weights, mmr)
                        put_exits(exs, k, arm(side, q, flex(settings.sl, d, c), flex(settings.tp, d, c),
                                              flex(settings.trail, d, c), flex(settings.max_hold, d, c), liquidation,
                                              mmr))
                    else:
                        cash_in, added, added_book, fee_paid = add_units(p, get_book(bks, k), units, q, fee_, fixed_)
                        put_position(pos, k, added)
                        put_book(bks, k, added_book)
                        cash += cash_in
                        stats = add_fee(stats, fee_paid)
                        record_order(order_rows, out.order_offsets[c] + n_orders[k], c, i,
                                     units if side > 0.0 else -units, q, fee_paid, REBALANCE, n_fills)
                        n_orders[k] += 1
                        n_fills += 1
                if bankrupt_bar >= 0:
                    break
        # rule 13: borrow at the close of each short held over the bar; then the bar's equity
        equity = cash
        for k in range(n):
            c, a = cols[k], assets[k]
            close = prices.close[i, a]
            p = get_position(pos, k)
            if close == close:
                if rules.carry and p.side < 0.0 and not (rules.fill_mode == FILL_CLOSE and p.entry_bar == i):
                    cost = borrow_cost(p, flex(settings.borrow_rate, i, c), rules.periods_per_year, close)
                    if cost != 0.0:
                        cash -= cost
                        equity -= cost
                        put_position(pos, k, carried(p, cost))
                        stats = add_carry(stats, 0.0, cost)
                last_close[k] = close
            value = get_position(pos, k).units * last_close[k] if get_position(pos, k).side != 0.0 else 0.0
            equity += value
            if record:
                out.value[c, i] = value
        if record:
            out.equity[g, i] = equity
            out.cash[g, i] = cash
        buf[n_buf] = equity
        n_buf += 1
        exposed += n_open > 0
        if n_buf == CHUNK:
            curve = add_bars_blocked(curve, i + 1 - n_buf, buf, n_buf, exposed, out.blocks[g], T)
            n_buf, exposed = np.int64(0), np.int64(0)
    curve = add_bars_blocked(curve, T - n_buf, buf, n_buf, exposed, out.blocks[g], T) if n_buf > 0 else curve
    close_blocks(curve, out.blocks[g], T)
    buy_hold = 0.0
    for k in range(n):  # rule 9: open positions are marked at the last close
        c = cols[k]
        p = get_position(pos, k)
        if p.side != 0.0:
            book = get_book(bks, k)
            rest = abs(p.units) * last_close[k]
            gain = book.exit_value + rest - book.entry_value
            pnl = (gain if p.side > 0.0 else -gain) - p.entry_fee - book.exit_fee - p.carried
            stats = add_open(stats)
            price = last_close[k] if book.exited == 0.0 else (book.exit_value + rest) / (book.exited + abs(p.units))
            record_close(trades, out.trade_offsets[c] + n_trades[k], p, book, T - 1, price, pnl,
                         pnl / book.entry_value, END)
            n_trades[k] += 1
        out.trade_counts[c] = n_trades[k]
        out.order_counts[c] = n_orders[k]
        first, last = valid_closes(prices.close[:, group.asset[c]])
        buy_hold += (last / first - 1.0) / n
    finish(curve, stats, out.stats[g], init_cash, rules.periods_per_year, buy_hold, bankrupt_bar)


@njit(cache=True, nogil=True, parallel=True)
def simulate_groups_nb(prices: Prices, targets: np.ndarray, settings: SettingArrays, rules: Rules, group: Group,
                       out: GroupOutputs) -> None:
    """``simulate_group_nb`` for every group, in parallel threads."""
    for g in prange(group.start.shape[0] - 1):
        simulate_group_nb(np.int64(g), prices, targets, settings, rules, group, out)


# The group kernel inlines the rules, the accumulators, the column kernel's helpers
# and the codes of ``state``: its cache goes stale when any of their sources changes.
bind_sources([v for v in list(globals().values()) if hasattr(v, "_cache") and v.py_func.__module__ == __name__],
             [__file__, *KERNEL_SOURCES])
