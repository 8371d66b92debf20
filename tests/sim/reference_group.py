"""A plain-Python reference simulator of shared cash (execution rules 14-16): the
columns of one group over one account, one bar at a time, written to be read against
the README's "Execution semantics". The group kernel must produce exactly the same
orders, trades and equity.

Each column is a dict; every price list is per column (its asset's prices).
"""

from __future__ import annotations

import math

NAN = float("nan")


def nan(x: float) -> bool:
    return x != x


class Column:
    """One column of the group: its prices, targets, per-bar settings and its state."""

    def __init__(self, o, h, lo, c, target, p):
        self.o, self.h, self.lo, self.c, self.target, self.p = o, h, lo, c, target, p
        self.pos = None          # dict while a position is open
        self.pending = None      # (target, decision bar)
        self.ffilled = NAN
        self.last_close = NAN
        self.trades = []


def levels(pos):
    """(protective level, its reason, take-profit level) of an open position."""
    long = pos["side"] > 0
    base = pos["first_price"]  # the levels are set from the first fill's price
    protective, reason = NAN, "sl"
    if not nan(pos["sl"]):
        protective = base * (1 - pos["sl"]) if long else base * (1 + pos["sl"])
    if not nan(pos["trail"]):
        level = pos["best"] * (1 - pos["trail"]) if long else pos["best"] * (1 + pos["trail"])
        if nan(protective) or (level > protective if long else level < protective):
            protective, reason = level, "trail"
    tp = NAN
    if not nan(pos["tp"]):
        tp = base * (1 + pos["tp"]) if long else base * (1 - pos["tp"])
    return protective, reason, tp


def stop_hit(pos, o, h, lo, tie):
    """Rules 5, 10: (price, reason) of the stop or liquidation of one position, or None."""
    long = pos["side"] > 0
    protective, reason, tp = levels(pos)
    liq = pos["liq"]
    if not nan(liq) and (o <= liq if long else o >= liq):
        return o, "liquidation"
    if not nan(protective) and (o <= protective if long else o >= protective):
        return o, reason
    if not nan(tp) and (o >= tp if long else o <= tp):
        return o, "tp"
    adverse, adverse_reason = protective, reason
    if not nan(liq) and (nan(protective) or (liq >= protective if long else liq <= protective)):
        adverse, adverse_reason = liq, "liquidation"
    hit_adverse = not nan(adverse) and (lo <= adverse if long else h >= adverse)
    hit_tp = not nan(tp) and (h >= tp if long else lo <= tp)
    if hit_adverse and (tie == "sl" or not hit_tp):
        return adverse, adverse_reason
    if hit_tp:
        return tp, "tp"
    return None


class Group:
    def __init__(self, columns, cash, *, fill, stop_tie, reentry, weights, skip, ppy):
        self.cols = columns
        self.cash = cash
        self.fill, self.tie, self.reentry = fill, stop_tie, reentry
        self.weights, self.skip, self.ppy = weights, skip, ppy
        self.orders = []  # (col, bar, signed units, price, fee, reason)
        self.bankrupt_bar = -1
        self.fees = self.funding = self.borrow = 0.0

    # -- the account -------------------------------------------------------------------
    def account(self, mark):
        """(equity, gross) with each position at ``mark[k]``, summed in column order."""
        equity, gross = self.cash, 0.0
        for k, col in enumerate(self.cols):
            if col.pos is not None:
                equity += col.pos["units"] * mark[k]
                gross += abs(col.pos["units"]) * mark[k]
        return equity, gross

    def n_open(self):
        return sum(col.pos is not None for col in self.cols)

    def liq_price(self, pos):
        """Rule 10: price at which cash + units x price = mmr x |units| x price."""
        units = abs(pos["units"])
        if pos["side"] > 0:
            return NAN if self.cash >= 0 else -self.cash / (units * (1 - pos["mmr"]))
        return self.cash / (units * (1 + pos["mmr"]))

    # -- fills -------------------------------------------------------------------------
    def close(self, k, col, i, price, reason, extra_fee=0.0):
        pos = col.pos
        p = col.p
        long = pos["side"] > 0
        fill = price * (1 - p["slippage"][i]) if long else price * (1 + p["slippage"][i])
        units = abs(pos["units"])
        notional = units * fill
        fee = notional * (p["fee"][i] + extra_fee) + p["fixed_fee"][i]
        self.cash += notional - fee if long else -(notional + fee)
        self.fees += fee
        exited, exit_value, exit_fee = pos["exited"] + units, pos["exit_value"] + notional, pos["exit_fee"] + fee
        gain = exit_value - pos["entry_value"]
        pnl = (gain if long else -gain) - pos["entry_fee"] - exit_fee - pos["carried"]
        average = fill if pos["exited"] == 0 else exit_value / exited
        col.trades.append(dict(side=pos["side"], entry_bar=pos["entry_bar"], exit_bar=i, size=pos["entered"],
                               entry_price=pos["entry_price"], exit_price=average, entry_fee=pos["entry_fee"],
                               exit_fee=exit_fee, pnl=pnl, ret=pnl / pos["entry_value"], reason=reason,
                               funding=pos["carried"]))
        self.orders.append((k, i, -pos["units"], fill, fee, reason))
        mmr = pos["mmr"]
        col.pos = None
        return mmr

    def open(self, k, col, i, side, units, fill, dec, liq_borrowed):
        p = col.p
        notional = units * fill
        fee = notional * p["fee"][i] + p["fixed_fee"][i]
        self.cash += -(notional + fee) if side > 0 else notional - fee
        self.fees += fee
        signed = units if side > 0 else -units
        col.pos = dict(side=side, units=signed, entry_bar=i, entry_price=fill, first_price=fill, entry_fee=fee,
                       carried=0.0,
                       entered=units, entry_value=notional, exited=0.0, exit_value=0.0, exit_fee=0.0,
                       sl=p["sl"][dec], tp=p["tp"][dec], trail=p["trail"][dec], max_hold=p["max_hold"][dec],
                       best=fill, mmr=p["mmr"][dec])
        if side > 0:
            col.pos["liq"] = -self.cash / (units * (1 - col.pos["mmr"])) if liq_borrowed and self.cash < 0 else NAN
        else:
            col.pos["liq"] = self.cash / (units * (1 + col.pos["mmr"]))
        self.orders.append((k, i, signed, fill, fee, "entry"))

    def change(self, k, col, i, units, fill, add):
        """Add ``units`` (positive) to the open position, or cut them (``add`` False)."""
        pos, p = col.pos, col.p
        long = pos["side"] > 0
        notional = units * fill
        fee = notional * p["fee"][i] + p["fixed_fee"][i]
        self.fees += fee
        buy = long == add
        self.cash += -(notional + fee) if buy else notional - fee
        if add:
            pos["entered"] += units
            pos["entry_value"] += notional
            pos["units"] += units if long else -units
            pos["entry_price"] = pos["entry_value"] / pos["entered"]
            pos["entry_fee"] += fee
        else:
            pos["units"] += -units if long else units
            pos["exited"] += units
            pos["exit_value"] += notional
            pos["exit_fee"] += fee
        self.orders.append((k, i, units if buy else -units, fill, fee, "rebalance"))

    # -- one bar ------------------------------------------------------------------------
    def forced_exits(self, i):  # noqa: C901 - the rules in the order they apply, on purpose
        held = [(k, col) for k, col in enumerate(self.cols) if col.pos is not None]
        forced = set()
        if len(held) >= 2:
            # Rule 14: every price moves together from its open toward its adverse
            # extreme; liquidate all where equity first meets maintenance margin.
            e0 = m0 = e1 = m1 = None
            e0, m0, e1, m1 = self.cash, 0.0, self.cash, 0.0
            path = {}
            for k, col in held:
                pos = col.pos
                pos["liq"] = NAN
                o = col.o[i]
                if nan(o):
                    o = x = col.last_close
                else:
                    x = col.lo[i] if pos["side"] > 0 else col.h[i]
                path[k] = (o, x)
                e0 += pos["units"] * o
                e1 += pos["units"] * x
                m0 += pos["mmr"] * abs(pos["units"]) * o
                m1 += pos["mmr"] * abs(pos["units"]) * x
            if e0 <= m0:
                move = 0.0
            elif e1 > m1:
                move = None
            else:
                move = (e0 - m0) / ((e0 - m0) - (e1 - m1))
            if move is not None:
                zero_margin = True
                for k, col in held:
                    o, x = path[k]
                    price = o if nan(col.o[i]) else o + move * (x - o)
                    zero_margin = zero_margin and col.pos["mmr"] == 0
                    self.close(k, col, i, price, "liquidation", col.p["liquidation_fee"][i])
                    col.pending = None
                    forced.add(k)
                if self.cash <= 0 or zero_margin:
                    self.bankrupt_bar = i
                return forced
        elif len(held) == 1:
            held[0][1].pos["liq"] = self.liq_price(held[0][1].pos)
        for k, col in held:
            pos = col.pos
            if pos["entry_bar"] >= i or nan(col.c[i]):
                continue
            o, h, lo, c = col.o[i], col.h[i], col.lo[i], col.c[i]
            due = i - pos["entry_bar"] >= pos["max_hold"]
            if due and self.fill == "next_open":
                hit = stop_hit(pos, o, o, o, self.tie) or (o, "time")
                if hit[1] == "time" and col.pending is not None and col.pending[0] != pos["side"]:
                    hit = None
            else:
                hit = stop_hit(pos, o, h, lo, self.tie)
                if hit is None and due:
                    hit = (c, "time")
            if hit is None:
                if not nan(pos["trail"]):
                    pos["best"] = max(pos["best"], h) if pos["side"] > 0 else min(pos["best"], lo)
                continue
            extra = col.p["liquidation_fee"][i] if hit[1] == "liquidation" else 0.0
            mmr = self.close(k, col, i, hit[0], hit[1], extra)
            col.pending = None
            forced.add(k)
            if self.n_open() == 0 and (self.cash <= 0 or (hit[1] == "liquidation" and mmr == 0)):
                self.bankrupt_bar = i
        return forced

    def fills(self, i, at_close):  # noqa: C901 - the rules in the order they apply, on purpose
        """Rule 1 and 15-16: the pending orders fill at this bar's open (or close):
        exits, reductions and reversals first, then entries and increases."""
        if not any(col.pending for col in self.cols):
            return
        mark = []
        for col in self.cols:
            price = col.c[i] if at_close else col.o[i]
            mark.append(col.last_close if nan(price) else price)
        equity0, _ = self.account(mark)
        for step in (0, 1):
            for k, col in enumerate(self.cols):
                if col.pending is None or nan(col.c[i]):
                    continue
                target, dec = col.pending
                p, price = col.p, mark[k]
                pos = col.pos
                slip = p["slippage"][i]
                if self.weights:
                    held = pos["units"] * price / equity0 if pos is not None and equity0 > 0 else 0.0
                    turning = held != 0 and (target == 0 or (target > 0) != (held > 0))
                    reducing = turning or abs(target) < abs(held)
                    if reducing != (step == 0):
                        continue
                    equity, _ = self.account(mark)
                    want = target * equity / price if equity > 0 else 0.0
                    lot = p["lot"][dec]
                    if equity > 0 and lot > 0:
                        want = math.trunc(want / lot) * lot
                    if step == 0 and pos is not None and (want == 0 or (want > 0) != (pos["side"] > 0)
                                                          or abs(pos["units"]) - abs(want) == abs(pos["units"])):
                        self.close(k, col, i, price, "signal")
                        pos = None
                        if self.n_open() == 0 and self.cash <= 0:
                            self.bankrupt_bar = i
                            return
                    elif step == 0 and abs(want) < abs(pos["units"]):
                        cut = abs(pos["units"]) - abs(want)
                        fill = price * (1 + slip) if pos["side"] < 0 else price * (1 - slip)
                        self.change(k, col, i, cut, fill, add=False)
                        col.pending = None
                        continue
                    col.pending = None
                    if want == 0:
                        continue
                    side = 1 if want > 0 else -1
                    units = abs(want) - (abs(pos["units"]) if pos is not None else 0.0)
                else:
                    if step == 0:
                        if pos is None or target == pos["side"]:
                            continue
                        self.close(k, col, i, price, "signal")
                        if target == 0:
                            col.pending = None
                        if self.n_open() == 0 and self.cash <= 0:
                            self.bankrupt_bar = i
                            return
                        continue
                    col.pending = None
                    if target == 0 or pos is not None:
                        continue
                    side = int(target)
                    fill = price * (1 + slip) if side > 0 else price * (1 - slip)
                    equity, _ = self.account(mark)
                    budget = p["size"][dec] * equity - p["fixed_fee"][i]
                    units = 0.0
                    if budget > 0:
                        units = budget / (1 + p["fee"][i]) / fill
                        if p["lot"][dec] > 0:
                            units = math.floor(units / p["lot"][dec]) * p["lot"][dec]
                        units = max(units, 0.0)
                equity, gross = self.account(mark)
                if units <= 0 or equity <= 0:
                    continue
                fill = price * (1 + slip) if side > 0 else price * (1 - slip)
                # Rule 15: gross exposure plus this fill's cost within leverage x equity.
                most = (p["leverage"][dec] * equity - gross - p["fixed_fee"][i]) / (fill * (1 + p["fee"][i]))
                if units > most * (1 + 1e-9):
                    lot = p["lot"][dec]
                    units = 0.0 if self.skip or most <= 0 else (math.floor(most / lot) * lot if lot > 0 else most)
                    if units <= 0:
                        continue
                if not units * fill > 0:
                    continue
                if pos is None:
                    self.open(k, col, i, side, units, fill, dec, p["size"][dec] > 1 or self.weights)
                else:
                    self.change(k, col, i, units, fill, add=True)

    def decide(self, i, forced):
        for k, col in enumerate(self.cols):
            t = col.target[i]
            if not nan(t):
                flat = col.pos is None
                fresh = t != col.ffilled if not nan(col.ffilled) else True
                if not self.weights and nan(col.ffilled):
                    fresh = t != 0.0
                fresh = fresh or (self.reentry and flat and t != 0)
                col.ffilled = t
                if fresh and not (k in forced and self.fill == "close"):
                    col.pending = (t, i)
            elif self.weights and not nan(col.ffilled) and col.pending is None:
                drift, c = col.p["drift"][i], col.c[i]
                if not nan(drift) and not nan(c) and col.pos is not None:
                    mark = [cc.c[i] if not nan(cc.c[i]) else cc.last_close for cc in self.cols]
                    equity, _ = self.account(mark)
                    if equity > 0 and abs(col.pos["units"] * c / equity - col.ffilled) > drift:
                        col.pending = (col.ffilled, i)

    def run(self, T):
        equity, cash = [], []
        for i in range(T):
            forced = set()
            if self.bankrupt_bar < 0 and self.n_open():
                for col in self.cols:  # rule 12: funding at the open
                    pos = col.pos
                    rate = col.p["funding_rate"][i]
                    if pos is not None and pos["entry_bar"] < i and not nan(col.c[i]) and not nan(rate):
                        amount = rate * pos["units"] * col.o[i]
                        self.cash -= amount
                        pos["carried"] += amount
                        self.funding += amount
                forced = self.forced_exits(i)
            if self.bankrupt_bar < 0 and self.fill == "next_open":
                self.fills(i, at_close=False)
            if self.bankrupt_bar < 0:
                self.decide(i, forced)
                if self.fill == "close":
                    self.fills(i, at_close=True)
            value = self.cash
            for col in self.cols:
                c = col.c[i]
                pos = col.pos
                if not nan(c):
                    if pos is not None and pos["side"] < 0 and not (self.fill == "close" and pos["entry_bar"] == i):
                        cost = col.p["borrow_rate"][i] / self.ppy * -pos["units"] * c
                        if cost != 0:  # rule 13: borrow at the close
                            self.cash -= cost
                            value -= cost
                            pos["carried"] += cost
                            self.borrow += cost
                    col.last_close = c
                if col.pos is not None:
                    value += col.pos["units"] * col.last_close
            equity.append(value)
            cash.append(self.cash)
        for col in self.cols:  # rule 9: open positions marked at the last close
            pos = col.pos
            if pos is None:
                continue
            rest = abs(pos["units"]) * col.last_close
            gain = pos["exit_value"] + rest - pos["entry_value"]
            pnl = (gain if pos["side"] > 0 else -gain) - pos["entry_fee"] - pos["exit_fee"] - pos["carried"]
            price = col.last_close if pos["exited"] == 0 else (pos["exit_value"] + rest) / (
                pos["exited"] + abs(pos["units"]))
            col.trades.append(dict(side=pos["side"], entry_bar=pos["entry_bar"], exit_bar=T - 1, size=pos["entered"],
                                   entry_price=pos["entry_price"], exit_price=price, entry_fee=pos["entry_fee"],
                                   exit_fee=pos["exit_fee"], pnl=pnl, ret=pnl / pos["entry_value"], reason="end",
                                   funding=pos["carried"]))
        return equity, cash
