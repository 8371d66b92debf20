"""PortfolioResult: what a shared-cash (or target-weight) backtest returns: per group
equity, cash and metrics; per column position value and weight; every fill; trades
with their group and asset; each column's contribution to its group's return."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlbt.sim.result import Result
from mlbt.sim.state import ORDER_KINDS

_KINDS = pd.CategoricalDtype(list(ORDER_KINDS))


class PortfolioResult(Result):
    """A Result whose rows (``stats``, ``equity``) are groups: ``groups`` labels them,
    ``signal_columns`` are the columns traded, ``group_of`` gives each column's group
    number and ``asset_of`` its asset label.

    equity, cash: per group and bar, at the close. value: each column's position
    value at the bar's close (units x last close; negative for a short). weight:
    value / its group's equity. orders: every fill, in time order (within a bar, in
    the order the group filled them). trades: as ``Result.trades`` plus ``group`` and
    ``asset``; a position changed by several fills (target weights) is one trade with
    average prices. contributions: each column's trades' pnl over its group's initial
    cash (they add up to the group's total return)."""

    def __init__(self, *, signal_columns: pd.Index, group_of: np.ndarray, asset_of: pd.Index,
                 cash: np.ndarray | None, value: np.ndarray | None, orders: np.ndarray | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.signal_columns = signal_columns
        self.group_of = group_of
        self.asset_of = asset_of
        self._cash = cash
        self._value = value
        self._orders = orders

    @property
    def groups(self) -> pd.Index:
        return self.columns

    def __repr__(self) -> str:
        n_trades = "?" if self._trades is None else len(self._trades)
        return (f"PortfolioResult({len(self.index)} bars x {len(self.signal_columns)} columns in "
                f"{len(self.columns)} groups, {n_trades} trades)")

    def _recorded(self, a: np.ndarray | None, what: str) -> np.ndarray:
        if a is None:
            raise ValueError(f"{what} was not recorded: run backtest(..., record=True)")
        return a

    @property
    def cash(self) -> pd.Series | pd.DataFrame:
        """Cash per group and bar, at the close."""
        return self._one(pd.DataFrame(self._recorded(self._cash, "cash"), index=self.index, columns=self.columns))

    @property
    def value(self) -> pd.DataFrame:
        """Each column's position value at each close (units x last close)."""
        return pd.DataFrame(self._recorded(self._value, "value"), index=self.index, columns=self.signal_columns)

    @property
    def weight(self) -> pd.DataFrame:
        """Each column's value over its group's equity at each close."""
        equity = self._recorded(self._equity, "equity")
        return pd.DataFrame(self._recorded(self._value, "value") / equity[:, self.group_of], index=self.index,
                            columns=self.signal_columns)

    @property
    def trades(self) -> pd.DataFrame:
        frame = Result(index=self.index, columns=self.signal_columns, stats=self._stats, equity=None,
                       trades=self._trades, init_cash=self.init_cash, settings=self.settings).trades
        col = frame["col"].to_numpy()
        frame.insert(2, "group", self.columns.take(self.group_of[col]) if len(col) else [])
        frame.insert(3, "asset", self.asset_of.take(col) if len(col) else [])
        return frame

    @property
    def orders(self) -> pd.DataFrame:
        """Every fill: col, column, group, asset, bar, time, side (buy/sell), size
        (units, positive), price (slippage included), fee, reason (entry, rebalance,
        or the exit reason)."""
        o = self._recorded(self._orders, "orders")
        col, bar = o["col"], o["bar"]
        return pd.DataFrame({
            "col": col, "column": self.signal_columns.take(col) if len(o) else [],
            "group": self.columns.take(self.group_of[col]) if len(o) else [],
            "asset": self.asset_of.take(col) if len(o) else [],
            "bar": bar, "time": self.index.take(bar), "side": np.where(o["units"] > 0, "buy", "sell"),
            "size": np.abs(o["units"]), "price": o["price"], "fee": o["fee"],
            "reason": pd.Categorical.from_codes(o["reason"], dtype=_KINDS),
        })

    @property
    def contributions(self) -> pd.Series:
        """Each column's share of its group's total return: its trades' pnl (open ones
        marked at the last close) over the group's initial cash."""
        t = self._recorded(self._trades, "trades")
        pnl = np.bincount(t["col"], weights=t["pnl"], minlength=len(self.signal_columns))
        return pd.Series(pnl / self.init_cash[self.group_of], index=self.signal_columns, name="contribution")

    def to_parquet(self, path: Any) -> Any:
        raise NotImplementedError("saving a shared-cash result is not supported yet; save its frames "
                                  "(equity, trades, orders) with pandas")
