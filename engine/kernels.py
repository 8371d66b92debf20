"""Numba simulation kernel: T bars x N columns of target positions -> fills, trades,
equity and metrics. Pure functions over arrays; the pandas layer is engine.simulation.

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

from engine.stats_nb import (
    A_FEES,
    A_OPEN,
    A_SIZE,
    N_STATS,
    acc_bar,
    acc_finish,
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
def stop_fill_price(side, entry_price, peak, sl, tp, trail, o, h, low, tie):
    """Price and reason of the stop that fires on bar (o, h, low) for a position on
    ``side`` (+1/-1), or (NaN, -1). Distances are fractions of the entry fill price
    (trailing: of the best price since entry); NaN disables a stop."""
    # The protective level: fixed SL or trailing SL, whichever is tighter.
    prot = np.nan
    prot_reason = REASON_SL
    if not np.isnan(sl):
        prot = entry_price * (1.0 - sl) if side > 0 else entry_price * (1.0 + sl)
    if not np.isnan(trail):
        tl = peak * (1.0 - trail) if side > 0 else peak * (1.0 + trail)
        if np.isnan(prot) or (side > 0 and tl > prot) or (side < 0 and tl < prot):
            prot = tl
            prot_reason = REASON_TRAIL
    prof = np.nan
    if not np.isnan(tp):
        prof = entry_price * (1.0 + tp) if side > 0 else entry_price * (1.0 - tp)
    for k in range(2):
        check_prot = (k == 0) == (tie == TIE_SL)
        if check_prot and not np.isnan(prot):
            if side > 0:
                if o <= prot:
                    return o, prot_reason
                if low <= prot:
                    return prot, prot_reason
            else:
                if o >= prot:
                    return o, prot_reason
                if h >= prot:
                    return prot, prot_reason
        if not check_prot and not np.isnan(prof):
            if side > 0:
                if o >= prof:
                    return o, REASON_TP
                if h >= prof:
                    return prof, REASON_TP
            else:
                if o <= prof:
                    return o, REASON_TP
                if low <= prof:
                    return prof, REASON_TP
    return np.nan, -1


@njit(cache=True, nogil=True)
def count_entries_nb(target, reentry):
    """Upper bound on trades per column: fresh entry targets (any non-NaN nonzero
    target with ``reentry``)."""
    T, N = target.shape
    out = np.zeros(N, dtype=np.int64)
    for c in prange(N):
        prev = 0.0
        n = 0
        for i in range(T):
            v = target[i, c]
            if np.isnan(v):
                continue
            if v != 0.0 and (v != prev or reentry):
                n += 1
            prev = v
        out[c] = n
    return out


# Per-column state slots (a small float64 vector so helpers can update it in place).
S_CASH, S_POS, S_SIDE, S_ENTRY_BAR, S_ENTRY_PRICE, S_ENTRY_FEE = 0, 1, 2, 3, 4, 5
S_SL, S_TP, S_TRAIL, S_HOLD, S_PEAK, S_NTRADES = 6, 7, 8, 9, 10, 11
S_SIZE = 12


@njit(cache=True, nogil=True)
def fill_nb(
    st, acc, c, i, want, price, reason, dec_bar, size, sl, tp, trail, max_hold,
    fee, fixed_fee, slippage, lot, trades_out, trade_start,
):
    """Move column ``c`` to target side ``want`` with a fill at ``price`` on bar ``i``:
    close the open position if it is not on ``want`` (exit ``reason``), then open
    ``want`` (+1/-1) if flat, sized from the parameters of decision bar ``dec_bar``."""
    side = st[S_SIDE]
    slip = flex(slippage, i, c)
    f = flex(fee, i, c)
    ff = flex(fixed_fee, i, c)
    record = trades_out.shape[0] > 0
    if side != 0.0 and want != side:
        units = abs(st[S_POS])
        xp = price * (1.0 - slip) if side > 0.0 else price * (1.0 + slip)
        notional = units * xp
        xfee = notional * f + ff
        entry_value = units * st[S_ENTRY_PRICE]
        if side > 0.0:
            st[S_CASH] += notional - xfee
            pnl = (notional - entry_value) - st[S_ENTRY_FEE] - xfee
        else:
            st[S_CASH] -= notional + xfee
            pnl = (entry_value - notional) - st[S_ENTRY_FEE] - xfee
        ret = pnl / entry_value
        acc[A_FEES] += xfee
        acc_trade(acc, pnl, ret, i - st[S_ENTRY_BAR])
        if record:
            r = trade_start + np.int64(st[S_NTRADES])
            trades_out[r, T_EXIT_BAR] = i
            trades_out[r, T_EXIT_PRICE] = xp
            trades_out[r, T_EXIT_FEE] = xfee
            trades_out[r, T_PNL] = pnl
            trades_out[r, T_RETURN] = ret
            trades_out[r, T_REASON] = reason
        st[S_NTRADES] += 1.0
        st[S_POS] = 0.0
        st[S_SIDE] = 0.0
        side = 0.0
    if want == 0.0 or side != 0.0:
        return
    # Flat: commit size x equity (= cash) to notional plus fees.
    budget = flex(size, dec_bar, c) * st[S_CASH] - ff
    if budget <= 0.0:
        return
    ep = price * (1.0 + slip) if want > 0.0 else price * (1.0 - slip)
    units = budget / (1.0 + f) / ep
    lt = flex(lot, dec_bar, c)
    if lt > 0.0:
        units = np.floor(units / lt) * lt
    if units <= 0.0:
        return
    notional = units * ep
    efee = notional * f + ff
    if want > 0.0:
        st[S_CASH] -= notional + efee
        st[S_POS] = units
    else:
        st[S_CASH] += notional - efee
        st[S_POS] = -units
    st[S_SIDE] = want
    acc[A_FEES] += efee
    st[S_ENTRY_BAR] = i
    st[S_ENTRY_PRICE] = ep
    st[S_ENTRY_FEE] = efee
    st[S_PEAK] = ep
    st[S_SL] = flex(sl, dec_bar, c)
    st[S_TP] = flex(tp, dec_bar, c)
    st[S_TRAIL] = flex(trail, dec_bar, c)
    st[S_HOLD] = flex(max_hold, dec_bar, c)
    if record:
        r = trade_start + np.int64(st[S_NTRADES])
        trades_out[r, T_COL] = c
        trades_out[r, T_SIDE] = want
        trades_out[r, T_ENTRY_BAR] = i
        trades_out[r, T_SIZE] = units
        trades_out[r, T_ENTRY_PRICE] = ep
        trades_out[r, T_ENTRY_FEE] = efee


@njit(cache=True, nogil=True)
def simulate_column_nb(
    c, open_, high, low, close, target, size, sl, tp, trail, max_hold,
    fee, fixed_fee, slippage, lot, init_cash, fill_mode, stop_tie, reentry,
    equity_out, trades_out, trade_start, acc,
):
    """Simulate column ``c``; write its equity (if ``equity_out`` has rows) and its
    trades from row ``trade_start`` (if ``trades_out`` has rows).

    Returns (trades written, closed plus a final open one; first valid close; last
    valid close)."""
    T = target.shape[0]
    record_equity = equity_out.shape[0] > 0
    st = np.zeros(S_SIZE)
    st[S_CASH] = flex(init_cash, 0, c)
    acc_init(acc, st[S_CASH])
    tf = 0.0  # forward-filled target
    pending = False
    pend_target = 0.0
    pend_bar = -1
    last_close = np.nan
    first_close = np.nan
    args = (size, sl, tp, trail, max_hold, fee, fixed_fee, slippage, lot, trades_out, trade_start)

    for i in range(T):
        o = flex(open_, i, c)
        h = flex(high, i, c)
        lo = flex(low, i, c)
        cl = flex(close, i, c)
        valid = not (np.isnan(o) or np.isnan(h) or np.isnan(lo) or np.isnan(cl))
        forced = False
        if valid:
            side = st[S_SIDE]
            # 1. Stops, then max_hold, on a position armed before this bar.
            if side != 0.0 and st[S_ENTRY_BAR] < i:
                price, reason = stop_fill_price(
                    side, st[S_ENTRY_PRICE], st[S_PEAK], st[S_SL], st[S_TP],
                    st[S_TRAIL], o, h, lo, stop_tie,
                )
                if np.isnan(price) and i - st[S_ENTRY_BAR] >= st[S_HOLD]:
                    price = o if fill_mode == FILL_NEXT_OPEN else cl
                    reason = REASON_TIME
                if not np.isnan(price):
                    forced = True
                    pending = False
                    fill_nb(st, acc, c, i, 0.0, price, reason, -1, *args)
                elif side > 0.0 and h > st[S_PEAK]:
                    st[S_PEAK] = h  # trailing reference moves after the check
                elif side < 0.0 and lo < st[S_PEAK]:
                    st[S_PEAK] = lo
            # 2. The order decided at an earlier bar fills at this open.
            if fill_mode == FILL_NEXT_OPEN and pending:
                pending = False
                fill_nb(st, acc, c, i, pend_target, o, REASON_SIGNAL, pend_bar, *args)
        # 3. This bar's decision becomes the pending order.
        tv = target[i, c]
        if not np.isnan(tv):
            fresh = tv != tf or (reentry and tv != 0.0 and st[S_SIDE] == 0.0)
            tf = tv
            if fresh and not (forced and fill_mode == FILL_CLOSE):
                pending = True
                pend_target = tv
                pend_bar = i
        if valid:
            if fill_mode == FILL_CLOSE and pending:
                pending = False
                fill_nb(st, acc, c, i, pend_target, cl, REASON_SIGNAL, pend_bar, *args)
            last_close = cl
            if np.isnan(first_close):
                first_close = cl
        equity = st[S_CASH] + st[S_POS] * last_close if st[S_SIDE] != 0.0 else st[S_CASH]
        if record_equity:
            equity_out[i, c] = equity
        acc_bar(acc, i, equity, st[S_SIDE] != 0.0)

    # End of data: the open position is marked to market and reported as open.
    n_trades = np.int64(st[S_NTRADES])
    if st[S_SIDE] != 0.0:
        units = abs(st[S_POS])
        entry_value = units * st[S_ENTRY_PRICE]
        diff = units * last_close - entry_value
        pnl = (diff if st[S_SIDE] > 0.0 else -diff) - st[S_ENTRY_FEE]
        acc[A_OPEN] += 1.0
        if trades_out.shape[0] > 0:
            r = trade_start + n_trades
            trades_out[r, T_EXIT_BAR] = T - 1
            trades_out[r, T_EXIT_PRICE] = last_close
            trades_out[r, T_EXIT_FEE] = 0.0
            trades_out[r, T_PNL] = pnl
            trades_out[r, T_RETURN] = pnl / entry_value
            trades_out[r, T_REASON] = REASON_END
        n_trades += 1
    return n_trades, first_close, last_close


@njit(cache=True, nogil=True, parallel=True)
def simulate_nb(
    open_, high, low, close, target, size, sl, tp, trail, max_hold,
    fee, fixed_fee, slippage, lot, init_cash, fill_mode, stop_tie, reentry, ppy,
    record_equity, trade_offsets,
):
    """Simulate every column of ``target`` in parallel.

    ``trade_offsets`` (N + 1 cumulative capacities from count_entries_nb, or an
    empty array for sweep mode) selects where each column writes its trades.
    Returns (equity (T, N) or (0, N), trades (capacity, N_TRADE_FIELDS),
    trade counts (N,), stats (N, N_STATS)).
    """
    T, N = target.shape
    equity = np.empty((T if record_equity else 0, N), dtype=np.float64)
    capacity = trade_offsets[N] if trade_offsets.shape[0] > 0 else 0
    trades = np.full((capacity, N_TRADE_FIELDS), np.nan)
    counts = np.zeros(N, dtype=np.int64)
    stats = np.empty((N, N_STATS), dtype=np.float64)
    for k in prange(N):
        c = np.int64(k)  # prange indices are unsigned; flex() needs signed
        acc = np.empty(A_SIZE, dtype=np.float64)
        start = trade_offsets[c] if capacity > 0 else 0
        n, first_close, last_close = simulate_column_nb(
            c, open_, high, low, close, target, size, sl, tp, trail, max_hold,
            fee, fixed_fee, slippage, lot, init_cash, fill_mode, stop_tie, reentry,
            equity, trades, start, acc,
        )
        counts[c] = n
        bh = last_close / first_close - 1.0
        acc_finish(acc, stats[c], flex(init_cash, 0, c), ppy, bh)
    return equity, trades, counts, stats
