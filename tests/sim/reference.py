"""A plain-Python reference simulator: one column, one bar at a time, written to be
read against the execution semantics in the README. The numba kernel must produce
exactly the same trades and equity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Position:
    side: int  # +1 long, -1 short
    units: float
    entry_bar: int
    entry_price: float
    entry_fee: float
    sl: float
    tp: float
    trail: float
    max_hold: float
    best: float  # best price since entry, for the trailing stop
    liq: float = float("nan")  # liquidation price (NaN: none)
    mmr: float = 0.0
    carried: float = 0.0  # funding and borrow paid since the entry


@dataclass
class Account:
    cash: float
    position: Position | None = None
    trades: list = field(default_factory=list)
    fees: float = 0.0
    bankrupt_bar: int = -1
    funding: float = 0.0
    borrow: float = 0.0


def is_nan(x: float) -> bool:
    return x != x


def stop_exit(pos: Position, o: float, h: float, low: float, stop_tie: str):
    """(price, reason) of a stop triggered on this bar, else None."""
    long = pos.side > 0
    candidates = []  # in priority order
    protective = None
    if not is_nan(pos.sl):
        level = pos.entry_price * (1 - pos.sl) if long else pos.entry_price * (1 + pos.sl)
        protective = (level, "sl")
    if not is_nan(pos.trail):
        level = pos.best * (1 - pos.trail) if long else pos.best * (1 + pos.trail)
        tighter = protective is None or (level > protective[0] if long else level < protective[0])
        if tighter:
            protective = (level, "trail")
    profit = None
    if not is_nan(pos.tp):
        level = pos.entry_price * (1 + pos.tp) if long else pos.entry_price * (1 - pos.tp)
        profit = (level, "tp")
    def falls_to(reason: str) -> bool:  # long SL and short TP trigger on the way down
        return long == (reason != "tp")

    # The open is the bar's first price: beyond the liquidation price it liquidates
    # there; a stop level it is already beyond fills there.
    if not is_nan(pos.liq) and ((o <= pos.liq) if long else (o >= pos.liq)):
        return o, "liquidation"
    for level, reason in [c for c in ([protective, profit] if stop_tie == "sl" else [profit, protective]) if c]:
        if (o <= level) if falls_to(reason) else (o >= level):
            return o, reason
    # Within the bar the adverse level met first is the tighter of the protective stop
    # and the liquidation price.
    if not is_nan(pos.liq) and (protective is None or (pos.liq >= protective[0] if long
                                                       else pos.liq <= protective[0])):
        protective = (pos.liq, "liquidation")
    candidates = [c for c in ([protective, profit] if stop_tie == "sl" else [profit, protective]) if c]
    # Within the bar the order is unknown: stop_tie decides when both levels are touched.
    for level, reason in candidates:
        if (low <= level) if falls_to(reason) else (h >= level):
            return level, reason
    return None


def close_position(acc: Account, bar: int, price: float, reason: str, fee: float, fixed: float, slip: float):
    pos = acc.position
    if pos.side > 0:
        fill = price * (1 - slip)  # selling: slippage lowers the price
    else:
        fill = price * (1 + slip)  # buying back: slippage raises it
    notional = pos.units * fill
    exit_fee = notional * fee + fixed  # (a liquidation's fee rate includes the liquidation fee)
    entry_value = pos.units * pos.entry_price
    if pos.side > 0:
        acc.cash += notional - exit_fee
        pnl = (notional - entry_value) - pos.entry_fee - exit_fee - pos.carried
    else:
        acc.cash -= notional + exit_fee
        pnl = (entry_value - notional) - pos.entry_fee - exit_fee - pos.carried
    acc.fees += exit_fee
    acc.trades.append(dict(
        side=pos.side, entry_bar=pos.entry_bar, exit_bar=bar, size=pos.units,
        entry_price=pos.entry_price, exit_price=fill, entry_fee=pos.entry_fee,
        exit_fee=exit_fee, pnl=pnl, ret=pnl / entry_value, reason=reason, funding=pos.carried,
    ))
    acc.position = None


def open_position(acc: Account, bar: int, side: int, price: float, p: dict, dec: int):
    """Commit size x equity (all cash when flat) to notional + fees."""
    fee, fixed, slip = p["fee"][bar], p["fixed_fee"][bar], p["slippage"][bar]
    budget = p["size"][dec] * acc.cash - fixed
    if budget <= 0:
        return
    fill = price * (1 + slip) if side > 0 else price * (1 - slip)
    units = budget / (1 + fee) / fill
    lot = p["lot"][dec]
    if lot > 0:
        units = math.floor(units / lot) * lot
    if units <= 0:
        return
    notional = units * fill
    entry_fee = notional * fee + fixed
    if side > 0:
        acc.cash -= notional + entry_fee
    else:
        acc.cash += notional - entry_fee
    acc.fees += entry_fee
    # The price at which equity = cash + signed units x price falls to mmr x notional:
    # a long only when it borrowed (size above 1), a short always.
    mmr = p["mmr"][dec]
    if side > 0:
        liq = -acc.cash / (units * (1 - mmr)) if p["size"][dec] > 1 and acc.cash < 0 else float("nan")
    else:
        liq = acc.cash / (units * (1 + mmr))
    acc.position = Position(side, units, bar, fill, entry_fee, p["sl"][dec], p["tp"][dec],
                            p["trail"][dec], p["max_hold"][dec], fill, liq, mmr)


def pay_carry(acc: Account, amount: float, kind: str):
    """Cash pays ``amount`` of funding or borrow for the open position, whose
    liquidation price moves with the cash (a long now counts as borrowed)."""
    pos = acc.position
    acc.cash -= amount
    pos.carried += amount
    setattr(acc, kind, getattr(acc, kind) + amount)
    if pos.side > 0:
        pos.liq = -acc.cash / (pos.units * (1 - pos.mmr)) if acc.cash < 0 else float("nan")
    else:
        pos.liq = acc.cash / (pos.units * (1 + pos.mmr))


def execute(acc: Account, bar: int, want: float, price: float, reason: str, p: dict, dec: int):
    """Bring the account to target side ``want`` with fills at ``price``."""
    pos = acc.position
    if pos is not None and pos.side != want:
        fee = p["fee"][bar] + (p["liquidation_fee"][bar] if reason == "liquidation" else 0.0)
        close_position(acc, bar, price, reason, fee, p["fixed_fee"][bar], p["slippage"][bar])
        # Bankrupt: equity at or below zero once flat, or liquidated with no maintenance
        # margin (that liquidates at zero equity); it trades no more.
        if acc.cash <= 0 or (reason == "liquidation" and pos.mmr == 0):
            acc.bankrupt_bar = bar
            return
    if want != 0 and acc.position is None:
        open_position(acc, bar, int(want), price, p, dec)


def simulate(opens, highs, lows, closes, targets, p, *, cash, fill="next_open",  # noqa: C901 - one loop anyone can read, on purpose
             stop_tie="sl", reentry=False, periods_per_year=8760.0):
    """Simulate one column. ``p`` maps size, sl, tp, trail, max_hold, lot, fee,
    fixed_fee, slippage to per-bar lists (NaN = unset for stops/max_hold, 0 = no
    lot; mmr, liquidation_fee; funding_rate (NaN: none on that bar), borrow_rate,
    annual). Returns (trades, equity per bar, fees paid, the bar it went bankrupt or
    -1, funding paid, borrow paid)."""
    acc = Account(cash=cash)
    equity = []
    last_target = 0.0
    pending = None  # (target side, decision bar)
    last_close = float("nan")
    for i in range(len(closes)):
        o, h, low, c = opens[i], highs[i], lows[i], closes[i]
        valid = not any(is_nan(x) for x in (o, h, low, c))
        forced = False
        if valid:
            pos = acc.position
            # Funding: a position held into a bar stamped with a rate pays rate x its
            # signed units x the open (a short receives a positive rate).
            if pos is not None and pos.entry_bar < i and not is_nan(p["funding_rate"][i]):
                units = pos.units if pos.side > 0 else -pos.units
                pay_carry(acc, p["funding_rate"][i] * units * o, "funding")
            if pos is not None and pos.entry_bar < i:
                due = i - pos.entry_bar >= pos.max_hold  # NaN compares False
                if due and fill == "next_open":
                    # the time exit fills at the open, before the rest of the bar: only a stop
                    # the open is already beyond fires instead, at the same price
                    hit = stop_exit(pos, o, o, o, stop_tie) or (o, "time")
                    if hit[1] == "time" and pending is not None and pending[0] != pos.side:
                        hit = None  # the signal order at this same open closes (or reverses) it
                else:
                    hit = stop_exit(pos, o, h, low, stop_tie)
                    if hit is None and due:
                        hit = (c, "time")
                if hit is not None:
                    forced = True
                    pending = None  # a forced exit beats the pending signal
                    execute(acc, i, 0, hit[0], hit[1], p, -1)
                else:
                    if pos.side > 0:
                        pos.best = max(pos.best, h)
                    else:
                        pos.best = min(pos.best, low)
            if fill == "next_open" and pending is not None:
                execute(acc, i, pending[0], o, "signal", p, pending[1])
                pending = None
        t = targets[i]
        if not is_nan(t) and acc.bankrupt_bar < 0:
            fresh = t != last_target or (reentry and t != 0 and acc.position is None)
            last_target = t
            if fresh and not (forced and fill == "close"):
                pending = (t, i)
        if valid:
            if fill == "close" and pending is not None:
                execute(acc, i, pending[0], c, "signal", p, pending[1])
                pending = None
            # Borrow: a short held over this bar pays rate / ppy x notional at the close.
            pos = acc.position
            if pos is not None and pos.side < 0 and not (fill == "close" and pos.entry_bar == i):
                cost = p["borrow_rate"][i] / periods_per_year * pos.units * c
                if cost != 0:
                    pay_carry(acc, cost, "borrow")
            last_close = c
        pos = acc.position
        if pos is None:
            equity.append(acc.cash)
        else:
            units = pos.units if pos.side > 0 else -pos.units
            equity.append(acc.cash + units * last_close)
    pos = acc.position
    if pos is not None:
        entry_value = pos.units * pos.entry_price
        diff = pos.units * last_close - entry_value
        pnl = (diff if pos.side > 0 else -diff) - pos.entry_fee - pos.carried
        acc.trades.append(dict(
            side=pos.side, entry_bar=pos.entry_bar, exit_bar=len(closes) - 1, size=pos.units,
            entry_price=pos.entry_price, exit_price=last_close, entry_fee=pos.entry_fee,
            exit_fee=0.0, pnl=pnl, ret=pnl / entry_value, reason="end", funding=pos.carried,
        ))
    return acc.trades, equity, acc.fees, acc.bankrupt_bar, acc.funding, acc.borrow


def return_moments(returns: np.ndarray) -> tuple[float, float, float, int]:
    """(per-bar Sharpe with std ddof 1, skewness, non-excess kurtosis, count) of the
    finite ``returns``, from scipy's population moments: the independent reference
    for the engine's streaming moments."""
    from scipy import stats

    r = np.asarray(returns, dtype="float64")
    r = r[np.isfinite(r)]
    if len(r) < 2:
        return math.nan, math.nan, math.nan, len(r)
    sd = r.std(ddof=1)
    return (float(r.mean() / sd) if sd > 0 else math.nan, float(stats.skew(r)),
            float(stats.kurtosis(r, fisher=False)), len(r))
