"""Numba simulation kernel: T bars x N columns of target positions -> fills, trades,
equity and metrics. Pure functions over arrays; the pandas layer is mlbt.sim.simulation.

Array conventions
-----------------
Every per-bar or per-column input is a 2-D "flex" array of shape (1 or T, 1 or N):
a (T, 1) price array is shared by every column, a (1, N) fee array gives each column
its own fee, a (1, 1) array is a scalar. ``target`` is (T, N) float64 with values
+1, -1, 0 or NaN (keep).

Timing (bar i, for each column)
-------------------------------
1. If a position entered before bar i is open: stop-loss / trailing / take-profit
   are checked on bar i (a gap through the level fills at the open, else at the
   level; the first of SL and TP in ``stop_tie`` order wins), then ``max_hold``
   (exit at the open with next-open fills, at the close with close fills).
   A forced exit cancels the pending signal order.
2. ``FILL_NEXT_OPEN``: the order decided at an earlier bar fills at bar i's open.
3. Bar i's target is its decision; it becomes the pending order. With ``FILL_CLOSE``
   it fills at once at bar i's close, unless step 1 forced an exit on bar i (a stop
   beats the signal of its bar).
A NaN bar (any of open/high/low/close NaN) has no fills; orders and stops wait for
the next valid bar. Equity is cash + units x last valid close at every bar.

Entries need a fresh target: a change of the (NaN-forward-filled) target to +1 or
-1. With ``reentry`` an explicit non-NaN target of +1/-1 also enters while flat.
Stop distances, max_hold and size are read at the decision bar of the entry.
"""

import numpy as np
from numba import njit, prange

from mlbt.sim import stats_nb
from mlbt.sim.numba_cache import bind_sources
from mlbt.sim.stats_nb import (
    A_FEES,
    A_OPEN,
    A_SIZE,
    acc_bars,
    acc_finish,
    acc_flat,
    acc_init,
    acc_trade,
)

FILL_NEXT_OPEN = 0
FILL_CLOSE = 1
TIE_SL = 0
TIE_TP = 1

REASON_SIGNAL = 0
REASON_SL = 1
REASON_TP = 2
REASON_TRAIL = 3
REASON_TIME = 4
REASON_END = 5
REASON_NAMES = ("signal", "sl", "tp", "trail", "time", "end")

# Trade record fields (float64 matrix, one row per trade).
T_COL, T_SIDE, T_ENTRY_BAR, T_EXIT_BAR, T_SIZE = 0, 1, 2, 3, 4
T_ENTRY_PRICE, T_EXIT_PRICE, T_ENTRY_FEE, T_EXIT_FEE = 5, 6, 7, 8
T_PNL, T_RETURN, T_REASON = 9, 10, 11
N_TRADE_FIELDS = 12


@njit(cache=True, nogil=True, inline="always")
def flex(a, i, c):
    """Element (i, c) of a (1|T, 1|N) array broadcast to (T, N)."""
    return a[i if a.shape[0] > 1 else 0, c if a.shape[1] > 1 else 0]


@njit(cache=True, nogil=True)
def protective_level(side, sl_level, peak, trail):
    """Protective stop of a position on ``side`` (+1/-1): the fixed SL level or the
    trailing level (``trail`` away from the best price ``peak``), whichever is
    tighter, with its exit reason. NaN level when neither is set."""
    if not np.isnan(trail):
        tl = peak * (1.0 - trail) if side > 0 else peak * (1.0 + trail)
        if np.isnan(sl_level) or (side > 0 and tl > sl_level) or (side < 0 and tl < sl_level):
            return tl, REASON_TRAIL
    return sl_level, REASON_SL


@njit(cache=True, nogil=True)
def stop_fill_price(side, prot, prot_reason, prof, o, h, low, tie):
    """Price and reason of the stop that fires on bar (o, h, low) for a position on
    ``side`` (+1/-1) with protective level ``prot`` (SL or trailing) and take-profit
    level ``prof``, or (NaN, -1). A NaN level never fires. The open comes first: a
    bar that opens beyond either level fills that stop at the open. Only when both
    levels are touched within the bar does ``tie`` say which fires (its level)."""
    if side > 0:
        if o <= prot:
            return o, prot_reason
        if o >= prof:
            return o, REASON_TP
        hit_prot, hit_prof = low <= prot, h >= prof
    else:
        if o >= prot:
            return o, prot_reason
        if o <= prof:
            return o, REASON_TP
        hit_prot, hit_prof = h >= prot, low <= prof
    if hit_prot and (tie == TIE_SL or not hit_prof):
        return prot, prot_reason
    if hit_prof:
        return prof, REASON_TP
    return np.nan, -1


@njit(cache=True, nogil=True)
def count_entries_nb(target, c, reentry):
    """Upper bound on the trades of column ``c``: fresh entry targets (any non-NaN
    nonzero target with ``reentry``)."""
    prev = 0.0
    n = 0
    for i in range(target.shape[0]):
        v = target[i, c]
        if np.isnan(v):
            continue
        if v != 0.0 and (v != prev or reentry):
            n += 1
        prev = v
    return n


@njit(cache=True, nogil=True)
def fill_nb(
    c, i, want, price, reason, cash, pos, side, entry_bar, entry_price, entry_fee, n_trades,
    size, lt, f, ff, slip, acc, trades_out, trade_start,
):
    """Move column ``c`` to target side ``want`` with a fill at ``price`` on bar ``i``:
    close the open position (``pos`` signed units on ``side``) if it is not on
    ``want`` (exit ``reason``), then open ``want`` (+1/-1) if flat, committing
    ``size`` of equity rounded down to a multiple of ``lt`` units (0: no rounding).
    Every fill pays fee ``f`` x notional plus ``ff`` and moves by slippage ``slip``
    against the trader. Closed trades go to ``acc`` and, while there is room,
    ``trades_out``. The parameters are scalars, not flex arrays: this call is in
    the bar loop.

    Returns the new (cash, pos, side, entry_bar, entry_price, entry_fee, n_trades)."""
    # Trade rows are reserved by the caller from a bound; a row past the buffer is
    # not written (the caller checks the counts), so a wrong bound cannot corrupt memory.
    if side != 0.0 and want != side:
        units = abs(pos)
        xp = price * (1.0 - slip) if side > 0.0 else price * (1.0 + slip)
        notional = units * xp
        xfee = notional * f + ff
        entry_value = units * entry_price
        if side > 0.0:
            cash += notional - xfee
            pnl = (notional - entry_value) - entry_fee - xfee
        else:
            cash -= notional + xfee
            pnl = (entry_value - notional) - entry_fee - xfee
        ret = pnl / entry_value
        acc[A_FEES] += xfee
        acc_trade(acc, pnl, ret, i - entry_bar)
        r = trade_start + n_trades
        if r < trades_out.shape[0]:
            trades_out[r, T_EXIT_BAR] = i
            trades_out[r, T_EXIT_PRICE] = xp
            trades_out[r, T_EXIT_FEE] = xfee
            trades_out[r, T_PNL] = pnl
            trades_out[r, T_RETURN] = ret
            trades_out[r, T_REASON] = reason
        n_trades += 1
        pos = 0.0
        side = 0.0
    if want == 0.0 or side != 0.0:
        return cash, pos, side, entry_bar, entry_price, entry_fee, n_trades
    # Flat: commit size x equity (= cash) to notional plus fees.
    budget = size * cash - ff
    if budget <= 0.0:
        return cash, pos, side, entry_bar, entry_price, entry_fee, n_trades
    ep = price * (1.0 + slip) if want > 0.0 else price * (1.0 - slip)
    units = budget / (1.0 + f) / ep
    if lt > 0.0:
        units = np.floor(units / lt) * lt
    if units <= 0.0:
        return cash, pos, side, entry_bar, entry_price, entry_fee, n_trades
    notional = units * ep
    efee = notional * f + ff
    if want > 0.0:
        cash -= notional + efee
        pos = units
    else:
        cash += notional - efee
        pos = -units
    acc[A_FEES] += efee
    r = trade_start + n_trades
    if r < trades_out.shape[0]:
        trades_out[r, T_COL] = c
        trades_out[r, T_SIDE] = want
        trades_out[r, T_ENTRY_BAR] = i
        trades_out[r, T_SIZE] = units
        trades_out[r, T_ENTRY_PRICE] = ep
        trades_out[r, T_ENTRY_FEE] = efee
    return cash, pos, want, i, ep, efee, n_trades


@njit(cache=True, nogil=True)
def stop_levels_nb(side, entry_price, d_sl, d_tp):
    """Fixed SL and TP levels of a position entered on ``side`` at ``entry_price``
    with stop distances ``d_sl``, ``d_tp`` (fractions; NaN: no stop, NaN level)."""
    if side > 0.0:
        return entry_price * (1.0 - d_sl), entry_price * (1.0 + d_tp)
    return entry_price * (1.0 + d_sl), entry_price * (1.0 - d_tp)


@njit(cache=True, nogil=True)
def arm_stops_nb(side, entry_price, sl, tp, trail, max_hold, d, c):
    """Exit state of a position just entered on ``side`` at ``entry_price``, from the
    stop settings of its decision bar ``d`` in column ``c``: (peak, sl_level, prof,
    trail distance, trailing, hold, prot, prot_reason, lower, upper) as the
    simulation loop keeps them (peak = the entry price; lower/upper = the levels a
    bar must reach for a stop to fire, by side)."""
    sl_level, prof = stop_levels_nb(side, entry_price, flex(sl, d, c), flex(tp, d, c))
    trail_d = flex(trail, d, c)
    prot, prot_reason = protective_level(side, sl_level, entry_price, trail_d)
    lower, upper = (prot, prof) if side > 0.0 else (prof, prot)
    return (entry_price, sl_level, prof, trail_d, not np.isnan(trail_d), flex(max_hold, d, c), prot, prot_reason,
            lower, upper)


@njit(cache=True, nogil=True)
def next_entry_bar_nb(target, c, i, tf, reentry):
    """First bar >= ``i`` of column ``c`` whose target opens a position from flat
    with no order pending: a fresh nonzero target (a change of the forward-filled
    target ``tf``), or any nonzero target with ``reentry``. Bars before it change
    nothing but ``tf`` (a pending 0 while flat fills nothing). Returns (that bar or
    T, the forward-filled target just before it)."""
    for k in range(i, target.shape[0]):
        tv = target[k, c]
        if np.isnan(tv):
            continue
        if tv != 0.0 and (tv != tf or reentry):
            return k, tf
        tf = tv
    return target.shape[0], tf


@njit(cache=True, nogil=True)
def valid_closes_nb(open_, high, low, close, pc):
    """Closes of the first and the last bar of price column ``pc`` with no NaN
    price (NaN, NaN if there is none)."""
    T = close.shape[0]
    first = np.nan
    for i in range(T):
        if not (np.isnan(open_[i, pc]) or np.isnan(high[i, pc]) or np.isnan(low[i, pc]) or np.isnan(close[i, pc])):
            first = close[i, pc]
            break
    last = np.nan
    for i in range(T - 1, -1, -1):
        if not (np.isnan(open_[i, pc]) or np.isnan(high[i, pc]) or np.isnan(low[i, pc]) or np.isnan(close[i, pc])):
            last = close[i, pc]
            break
    return first, last


@njit(cache=True, nogil=True)
def flush_equity_nb(acc, buf, n, first_bar, exposed, equity_out, c):
    """Fold the ``n`` buffered equity values of bars ``first_bar``... into ``acc`` and,
    when recording, into row ``c`` of ``equity_out``."""
    if n == 0:
        return
    if equity_out.shape[1] > 0:
        for k in range(n):  # loops, not slice assignments: much faster to compile
            equity_out[c, first_bar + k] = buf[k]
    acc_bars(acc, first_bar, buf[:n], exposed)


CHUNK = 256  # bars of equity buffered before they are folded into the metrics


@njit(cache=True, nogil=True)
def simulate_column_nb(
    c, open_, high, low, close, target, size, sl, tp, trail, max_hold,
    fee, fixed_fee, slippage, lot, init_cash, fill_mode, stop_tie, reentry, ppy,
    equity_out, trades_out, trade_offsets, trade_counts, stats,
):
    """Simulate column ``c``: write its equity to row ``c`` of ``equity_out`` (N x T:
    a row per column, so each column writes memory of its own; N x 0: not
    recorded), its trades from row ``trade_offsets[c]`` (if ``trades_out`` has
    rows) and their number to ``trade_counts[c]``, and its metrics to ``stats[c]``.

    The column's state lives in local variables. While flat with no order pending,
    the loop jumps to the next entry target (next_entry_bar_nb): those bars keep
    equity at cash and go to the metrics at once (acc_flat). Other bars follow the
    timing in the module docstring; their equity is buffered CHUNK bars at a time
    and folded into the metrics by acc_bars.

    Trades written count the closed ones plus a final open one."""
    T = target.shape[0]
    pc = c if close.shape[1] > 1 else 0  # price column (prices are always (T, 1|N))
    trade_start = trade_offsets[c] if trades_out.shape[0] > 0 else 0
    acc = np.empty(A_SIZE, dtype=np.float64)
    cash = flex(init_cash, 0, c)
    acc_init(acc, cash)
    # The open position (side 0.0 when flat) and its stops.
    pos = 0.0  # signed units
    side = 0.0
    entry_bar = np.int64(-1)
    entry_price = 0.0
    entry_fee = 0.0
    peak = np.nan  # best price since entry (the trailing reference)
    sl_level = np.nan
    prot = np.nan  # protective level: fixed SL or trailing, whichever is tighter
    prot_reason = REASON_SL
    prof = np.nan  # take-profit level
    trail_d = np.nan
    trailing = False
    hold = np.nan
    lower = np.nan  # a stop may fire on a bar reaching these (the SL or TP level by side)
    upper = np.nan
    n_trades = np.int64(0)
    tf = 0.0  # forward-filled target
    pending = False
    pend_target = 0.0
    pend_bar = np.int64(-1)
    last_close = np.nan
    buf = np.empty(CHUNK)
    # Integers start as np.int64: a literal 0 or -1 would make numba compile the
    # helpers they are passed to once more, for that literal type.
    nb = np.int64(0)  # equity values buffered, of bars i - nb ... i - 1
    exposed = np.int64(0)
    signal = np.int64(REASON_SIGNAL)

    i = np.int64(0)
    while i < T:
        if side == 0.0 and not pending:
            j, tf = next_entry_bar_nb(target, c, i, tf, reentry)
            if j > i:
                flush_equity_nb(acc, buf, nb, i - nb, exposed, equity_out, c)
                nb = np.int64(0)
                exposed = np.int64(0)
                if equity_out.shape[1] > 0:
                    for k in range(i, j):
                        equity_out[c, k] = cash
                acc_flat(acc, i, j - i, cash)
                i = j
                if i == T:
                    break
        elif side != 0.0 and not pending and entry_bar < i:
            # In a position with no order pending, bars on which no stop level is
            # reached, max_hold is not due, the target is NaN and no price is NaN
            # change nothing but equity and the trailing reference: a short loop.
            start = i
            while i < T and nb < CHUNK:
                o = open_[i, pc]
                h = high[i, pc]
                lo = low[i, pc]
                cl = close[i, pc]
                if (o <= lower or lo <= lower or o >= upper or h >= upper or i - entry_bar >= hold
                        or not np.isnan(target[i, c]) or np.isnan(o + h + lo + cl)):
                    break
                if trailing and ((side > 0.0 and h > peak) or (side < 0.0 and lo < peak)):
                    peak = h if side > 0.0 else lo
                    prot, prot_reason = protective_level(side, sl_level, peak, trail_d)
                    lower, upper = (prot, prof) if side > 0.0 else (prof, prot)
                last_close = cl
                buf[nb] = cash + pos * cl
                nb += 1
                i += 1
            exposed += i - start
            if nb == CHUNK:
                flush_equity_nb(acc, buf, nb, i - nb, exposed, equity_out, c)
                nb = np.int64(0)
                exposed = np.int64(0)
                continue
            if i == T:
                break
        o = open_[i, pc]
        h = high[i, pc]
        lo = low[i, pc]
        cl = close[i, pc]
        valid = not (np.isnan(o) or np.isnan(h) or np.isnan(lo) or np.isnan(cl))
        forced = False
        if valid:
            # 1. Stops, then max_hold, on a position armed before this bar.
            price = np.nan
            want = 0.0
            reason = signal
            dec_bar = np.int64(-1)
            if side != 0.0 and entry_bar < i:
                due = i - entry_bar >= hold
                if due and fill_mode == FILL_NEXT_OPEN:
                    # The time exit fills at the open, before the rest of the bar: only a
                    # stop the open is already beyond fires instead (at the same price).
                    price, reason = stop_fill_price(side, prot, prot_reason, prof, o, o, o, stop_tie)
                    if np.isnan(price):
                        price = o
                        reason = REASON_TIME
                        if pending and pend_target != side:
                            price = np.nan  # the signal order at this open closes (or reverses) it
                else:
                    if o <= lower or lo <= lower or o >= upper or h >= upper:
                        price, reason = stop_fill_price(side, prot, prot_reason, prof, o, h, lo, stop_tie)
                    if np.isnan(price) and due:
                        price = cl
                        reason = REASON_TIME
                if not np.isnan(price):
                    forced = True
                    pending = False
                elif trailing and ((side > 0.0 and h > peak) or (side < 0.0 and lo < peak)):
                    # The trailing reference moves after the check (only a
                    # trailing stop reads it; new highs are too random to branch on).
                    peak = h if side > 0.0 else lo
                    prot, prot_reason = protective_level(side, sl_level, peak, trail_d)
                    lower, upper = (prot, prof) if side > 0.0 else (prof, prot)
            # 2. The order decided at an earlier bar fills at this open.
            if fill_mode == FILL_NEXT_OPEN and pending:
                pending = False
                price, want, reason, dec_bar = o, pend_target, signal, pend_bar
            if not np.isnan(price):
                d = max(dec_bar, 0)  # the decision bar (a forced exit has none, opens nothing)
                cash, pos, side, entry_bar, entry_price, entry_fee, n_trades = fill_nb(
                    c, i, want, price, reason, cash, pos, side, entry_bar, entry_price, entry_fee,
                    n_trades, flex(size, d, c), flex(lot, d, c), flex(fee, i, c),
                    flex(fixed_fee, i, c), flex(slippage, i, c), acc, trades_out, trade_start,
                )
                if side != 0.0 and entry_bar == i:  # entered: arm the stops
                    peak, sl_level, prof, trail_d, trailing, hold, prot, prot_reason, lower, upper = arm_stops_nb(
                        side, entry_price, sl, tp, trail, max_hold, d, c)
        # 3. This bar's decision becomes the pending order.
        tv = target[i, c]
        if not np.isnan(tv):
            fresh = tv != tf or (reentry and tv != 0.0 and side == 0.0)
            tf = tv
            if fresh and not (forced and fill_mode == FILL_CLOSE):
                pending = True
                pend_target = tv
                pend_bar = i
        if valid:
            if fill_mode == FILL_CLOSE and pending:
                pending = False
                d = pend_bar
                cash, pos, side, entry_bar, entry_price, entry_fee, n_trades = fill_nb(
                    c, i, pend_target, cl, signal, cash, pos, side, entry_bar, entry_price,
                    entry_fee, n_trades, flex(size, d, c), flex(lot, d, c), flex(fee, i, c),
                    flex(fixed_fee, i, c), flex(slippage, i, c), acc, trades_out, trade_start,
                )
                if side != 0.0 and entry_bar == i:  # entered: arm the stops
                    peak, sl_level, prof, trail_d, trailing, hold, prot, prot_reason, lower, upper = arm_stops_nb(
                        side, entry_price, sl, tp, trail, max_hold, d, c)
            last_close = cl
        # Equity: cash plus the position marked at the last valid close.
        if side != 0.0:
            buf[nb] = cash + pos * last_close
            exposed += 1
        else:
            buf[nb] = cash
        nb += 1
        i += 1
        if nb == CHUNK:
            flush_equity_nb(acc, buf, nb, i - nb, exposed, equity_out, c)
            nb = np.int64(0)
            exposed = np.int64(0)
    flush_equity_nb(acc, buf, nb, T - nb, exposed, equity_out, c)

    # End of data: the open position is marked to market and reported as open.
    if side != 0.0:
        units = abs(pos)
        entry_value = units * entry_price
        diff = units * last_close - entry_value
        pnl = (diff if side > 0.0 else -diff) - entry_fee
        acc[A_OPEN] += 1.0
        r = trade_start + n_trades
        if r < trades_out.shape[0]:
            trades_out[r, T_EXIT_BAR] = T - 1
            trades_out[r, T_EXIT_PRICE] = last_close
            trades_out[r, T_EXIT_FEE] = 0.0
            trades_out[r, T_PNL] = pnl
            trades_out[r, T_RETURN] = pnl / entry_value
            trades_out[r, T_REASON] = REASON_END
        n_trades += 1
    trade_counts[c] = n_trades
    first, last = valid_closes_nb(open_, high, low, close, pc)
    acc_finish(acc, stats[c], flex(init_cash, 0, c), ppy, last / first - 1.0)


@njit(cache=True, nogil=True, parallel=True)
def entry_bounds_nb(target, reentry):
    """count_entries_nb of every column, in parallel threads."""
    out = np.empty(target.shape[1], dtype=np.int64)
    for k in prange(target.shape[1]):
        out[k] = count_entries_nb(target, np.int64(k), reentry)
    return out


@njit(cache=True, nogil=True, parallel=True)
def simulate_nb(
    open_, high, low, close, target, size, sl, tp, trail, max_hold,
    fee, fixed_fee, slippage, lot, init_cash, fill_mode, stop_tie, reentry, ppy,
    equity_out, trades_out, trade_offsets, trade_counts, stats,
):
    """simulate_column_nb for every column of ``target``, in parallel threads.

    The caller allocates the outputs (numpy gives large arrays huge pages, which
    numba's allocator does not: a (200, 100k) equity array is ~5x faster to fill):
    equity_out (N, T) or (N, 0), trades_out with trade_offsets[c] rows reserved for
    column c (N + 1 cumulative starts, from count_entries_nb), trade_counts (N,)
    and stats (N, N_STATS).
    """
    for k in prange(target.shape[1]):
        simulate_column_nb(
            np.int64(k),  # prange indices are unsigned; flex() needs signed
            open_, high, low, close, target, size, sl, tp, trail, max_hold, fee, fixed_fee,
            slippage, lot, init_cash, fill_mode, stop_tie, reentry, ppy, equity_out, trades_out,
            trade_offsets, trade_counts, stats,
        )


# numba's cache does not notice a change to stats_nb.py, whose accumulators these
# kernels inline: make the cached code's freshness depend on both sources.
bind_sources([v for v in list(globals().values()) if hasattr(v, "_cache")], [__file__, stats_nb.__file__])
