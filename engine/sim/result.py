"""Result: equity, trades, orders and metrics of a backtest, with Parquet round trip;
PortfolioResult: the same for shared cash and target weights, a row per group."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from mlbt.io import building_dir, plain
from mlbt.sim.state import END, ORDER_DTYPE, ORDER_KINDS, REASON_NAMES, TRADE_DTYPE
from mlbt.sim.stats_nb import STAT_NAMES, block_end

# Read-only lookup tables for the trades frame, built once: the exit reason dtype,
# and the side names as a pandas string array to take() from (which copies), far
# cheaper per call than converting a numpy array of strings.
_REASONS = pd.CategoricalDtype(list(REASON_NAMES))
_SIDES = pd.array(["long", "short"], dtype="str")


# Column names of the trades frame, in order (an Index is immutable; building it
# per call costs as much as several columns).
_TRADE_COLUMNS = pd.Index([
    "col", "column", "side", "entry_bar", "entry_time", "entry_price", "exit_bar", "exit_time",
    "exit_price", "size", "entry_fee", "exit_fee", "fees", "funding", "pnl", "return", "bars_held",
    "exit_reason", "is_open",
])


def _frame(data: dict, names: pd.Index) -> pd.DataFrame:
    """DataFrame of the equal-length 1-D arrays in ``data`` (keys equal to ``names``),
    which it may keep as they are: callers pass arrays nothing else holds. pandas'
    private ``DataFrame._from_arrays`` skips the public constructor's per-column
    checks (about 0.1 ms of the trades frame's 0.25); the public constructor is the
    fallback where that method is missing or has changed."""
    from_arrays = getattr(pd.DataFrame, "_from_arrays", None)
    if from_arrays is not None:
        arrays = list(data.values())
        try:
            return from_arrays(arrays, columns=names, index=pd.RangeIndex(len(arrays[0])), verify_integrity=False)
        except (TypeError, ValueError):
            pass
    return pd.DataFrame(data, copy=False)


def _values(index: pd.Index):
    """The array a DataFrame column built from ``index`` holds: its extension or
    numpy array, tuples for a MultiIndex."""
    return index.to_numpy() if isinstance(index, pd.MultiIndex) else index.array


class ReturnBlocks(NamedTuple):
    """The bar returns of each row of a Result (a column, or a group) summed over S
    contiguous blocks of the bars, block b = bars [floor(b T / S), floor((b + 1) T / S))
    (``stats_nb.block_end``): ``sum1[n, b]`` the sum of its returns r there,
    ``sum2[n, b]`` of r^2, ``bars[b]`` the bars in the block."""

    sum1: np.ndarray  # (N, S)
    sum2: np.ndarray  # (N, S)
    bars: np.ndarray  # (S,) int64


def block_bounds(n_bars: int, n_blocks: int) -> np.ndarray:
    """The S + 1 bar bounds of ``n_blocks`` return blocks over ``n_bars`` bars (0 ... T)."""
    return np.array([0, *(block_end(b, n_blocks, n_bars) for b in range(n_blocks))], dtype=np.int64)


def return_blocks(running: np.ndarray, n_bars: int) -> ReturnBlocks:
    """ReturnBlocks from the kernel's running sums at the block ends (N, 2 S): the sums
    of each block are the differences of consecutive ends."""
    S = running.shape[1] // 2
    zero = np.zeros((running.shape[0], 1))
    return ReturnBlocks(sum1=np.diff(running[:, :S], axis=1, prepend=zero),
                        sum2=np.diff(running[:, S:], axis=1, prepend=zero),
                        bars=np.diff(block_bounds(n_bars, S)))


class Result:
    """Outcome of backtest() for N columns over T bars.

    equity: account value at each bar's close (cash + units x last valid close),
        in the cash currency. trades: one row per trade; an open trade at the end is
        marked at the last close with exit_reason "end". stats: metrics per column
        (see mlbt.sim.stats_nb for definitions; max_dd_duration is in bars).
    """

    def __init__(self, *, index: pd.Index, columns: pd.Index, stats: np.ndarray, equity: np.ndarray | None,
                 trades: np.ndarray | None, init_cash: np.ndarray, settings: dict[str, Any],
                 return_blocks: ReturnBlocks | None = None) -> None:
        self.index = index
        self.columns = columns
        self._stats = stats
        self._equity = equity
        self._trades = trades
        self.init_cash = init_cash
        self.settings = settings
        #: per-block return sums of each row (``backtest(..., blocks=S)``), else None
        self.return_blocks = return_blocks

    def __repr__(self) -> str:
        n_trades = "?" if self._trades is None else len(self._trades)
        return (f"Result({len(self.index)} bars x {len(self.columns)} columns, "
                f"{n_trades} trades, fill={self.settings.get('fill')!r})")

    def _one(self, frame: pd.DataFrame):
        return frame.iloc[:, 0] if len(self.columns) == 1 else frame

    @property
    def stats(self) -> pd.Series | pd.DataFrame:
        """Metrics: a Series for one column, else a DataFrame (row per column)."""
        frame = pd.DataFrame(self._stats, index=self.columns, columns=list(STAT_NAMES))
        return frame.iloc[0].rename(None) if len(self.columns) == 1 else frame

    @property
    def bankrupt_time(self) -> pd.Series:
        """When each row of ``stats`` went bankrupt (execution rule 11): the timestamp
        of its ``bankrupt_bar``, NaT if never."""
        bars = self._stats[:, STAT_NAMES.index("bankrupt_bar")]
        times = [self.index[int(b)] if b == b else pd.NaT for b in bars]
        return pd.Series(times, index=self.columns, name="bankrupt_time")

    @property
    def equity(self) -> pd.Series | pd.DataFrame:
        """Account value per bar (Series for one column)."""
        if self._equity is None:
            raise ValueError("equity was not recorded: run backtest(..., record=True)")
        return self._one(pd.DataFrame(self._equity, index=self.index, columns=self.columns))

    @property
    def trades(self) -> pd.DataFrame:
        """One row per trade, ordered by column then entry. Prices include slippage;
        pnl is net of both fees and of ``funding`` (funding and borrow paid while
        open; negative: received); return = pnl / (size x entry_price)."""
        if self._trades is None:
            raise ValueError("trades were not recorded: run backtest(..., record=True)")
        t = self._trades
        col = t["col"].copy()  # every array below is new: the frame may keep them
        entry, exit_ = t["entry_bar"].copy(), t["exit_bar"].copy()
        reason = t["reason"]
        return _frame({
            "col": col,
            "column": _values(self.columns.take(col) if len(t) else pd.Index([], dtype=object)),
            "side": _SIDES.take(np.where(t["side"] > 0, 0, 1)),
            "entry_bar": entry,
            "entry_time": _values(self.index.take(entry)),
            "entry_price": t["entry_price"].copy(),
            "exit_bar": exit_,
            "exit_time": _values(self.index.take(exit_)),
            "exit_price": t["exit_price"].copy(),
            "size": t["units"].copy(),
            "entry_fee": t["entry_fee"].copy(),
            "exit_fee": t["exit_fee"].copy(),
            "fees": t["entry_fee"] + t["exit_fee"],
            "funding": t["funding"].copy(),
            "pnl": t["pnl"].copy(),
            "return": t["return"].copy(),
            "bars_held": exit_ - entry,
            "exit_reason": pd.Categorical.from_codes(reason, dtype=_REASONS),
            "is_open": reason == END,
        }, _TRADE_COLUMNS)

    @property
    def orders(self) -> pd.DataFrame:
        """Fills: every trade's entry and (unless still open) exit, in time order per
        column; a reversal is an exit and an entry on the same bar (two fees)."""
        tr = self.trades
        entries = pd.DataFrame({
            "col": tr["col"], "bar": tr["entry_bar"], "time": tr["entry_time"],
            "side": np.where(tr["side"] == "long", "buy", "sell"), "size": tr["size"],
            "price": tr["entry_price"], "fee": tr["entry_fee"], "reason": "entry", "seq": 1,
        })
        closed = tr[~tr["is_open"]]
        exits = pd.DataFrame({
            "col": closed["col"], "bar": closed["exit_bar"], "time": closed["exit_time"],
            "side": np.where(closed["side"] == "long", "sell", "buy"), "size": closed["size"],
            "price": closed["exit_price"], "fee": closed["exit_fee"],
            "reason": closed["exit_reason"].astype(str), "seq": 0,
        })
        orders = pd.concat([entries, exits], ignore_index=True)
        orders = orders.sort_values(["col", "bar", "seq"], kind="stable").drop(columns="seq")
        orders.insert(1, "column", self.columns[orders["col"].to_numpy()] if len(orders) else [])
        return orders.reset_index(drop=True)

    # -- persistence ---------------------------------------------------------
    def to_parquet(self, path: str | os.PathLike) -> Path:
        """Write a directory of Parquet files (equity, trades, stats, columns) and a
        meta.json; written under a temporary name and renamed into place. ``path``
        must be missing, empty or an earlier Result (FileExistsError otherwise)."""
        path = Path(path)
        with building_dir(path, "stats.parquet", "saved Result") as tmp:
            names = [str(i) for i in range(len(self.columns))]
            pd.DataFrame(self._stats, columns=list(STAT_NAMES)).to_parquet(tmp / "stats.parquet")
            self.columns.to_frame(index=False).astype(str).to_parquet(tmp / "columns.parquet")
            if self._equity is not None:
                pd.DataFrame(self._equity, index=self.index, columns=names).to_parquet(tmp / "equity.parquet")
            if self._trades is not None:
                pd.DataFrame(self._trades).to_parquet(tmp / "trades.parquet")
            pd.DataFrame(index=self.index).to_parquet(tmp / "index.parquet")
            meta = {"settings": self.settings, "init_cash": list(map(float, self.init_cash)),
                    "columns": _index_meta(self.columns)}
            self._write_extra(tmp, meta)
            (tmp / "meta.json").write_text(json.dumps(meta, default=str))
        return path

    def _write_extra(self, tmp: Path, meta: dict[str, Any]) -> None:
        """What a subclass saves beside Result's files (nothing here)."""

    @classmethod
    def read(cls, path: str | os.PathLike) -> Result:
        """Load a Result written by to_parquet(). Metrics added to bt since it was written
        (e.g. skew, kurtosis, psr) read as NaN."""
        path = Path(path)
        meta = json.loads((path / "meta.json").read_text())
        index = pd.read_parquet(path / "index.parquet").index
        columns = _index_from_meta(meta["columns"])
        equity = path / "equity.parquet"
        trades = path / "trades.parquet"
        fields = dict(
            index=index, columns=columns,
            stats=pd.read_parquet(path / "stats.parquet").reindex(columns=list(STAT_NAMES)).to_numpy(),
            equity=pd.read_parquet(equity).to_numpy() if equity.exists() else None,
            trades=_trade_records(pd.read_parquet(trades)) if trades.exists() else None,
            init_cash=np.asarray(meta["init_cash"]), settings=meta["settings"],
        )
        if "portfolio" not in meta:
            return cls(**fields)
        extra = meta["portfolio"]

        def frame(name: str) -> np.ndarray | None:
            file = path / f"{name}.parquet"
            return pd.read_parquet(file).to_numpy() if file.exists() else None

        orders = path / "orders.parquet"
        return PortfolioResult(
            **fields, signal_columns=_index_from_meta(extra["signal_columns"]),
            group_of=np.asarray(extra["group_of"], dtype=np.int64), asset_of=pd.Index(extra["asset_of"]),
            cash=frame("cash"), value=frame("value"),
            orders=_records(pd.read_parquet(orders), ORDER_DTYPE) if orders.exists() else None)


def _index_meta(index: pd.Index) -> dict[str, Any]:
    """An index of column labels as JSON: its level names and values."""
    return {"names": [str(n) for n in index.names], "values": [list(map(plain, _as_tuple(v))) for v in index]}


def _index_from_meta(meta: dict[str, Any]) -> pd.Index:
    names = meta["names"]
    values = [tuple(v) for v in meta["values"]]
    if len(names) > 1:
        return pd.MultiIndex.from_tuples(values, names=names)
    return pd.Index([v[0] for v in values], name=None if names[0] == "None" else names[0])


def _records(frame: pd.DataFrame, dtype: np.dtype) -> np.ndarray:
    """Records of ``dtype`` from a saved table with a column per field (a field the
    table lacks, added since it was saved, is 0)."""
    records = np.zeros(len(frame), dtype=dtype)
    for name in dtype.names or ():
        if name in frame.columns:
            records[name] = frame[name].to_numpy()
    return records


def _trade_records(frame: pd.DataFrame) -> np.ndarray:
    """Trade records (TRADE_DTYPE) from a saved trades table: one column per field, or
    the float matrix of runs saved before the records were named (columns "0".."11"
    in the order col, side, entry_bar, exit_bar, units, entry_price, exit_price,
    entry_fee, exit_fee, pnl, return, reason). A field the saved table lacks (funding,
    added later) is 0."""
    if list(frame.columns) == [str(k) for k in range(len(_LEGACY_FIELDS))]:
        frame = frame.set_axis(list(_LEGACY_FIELDS), axis=1)
    return _records(frame, TRADE_DTYPE)


#: The fields of the float matrix in which runs were saved before the records were named.
_LEGACY_FIELDS = ("col", "side", "entry_bar", "exit_bar", "units", "entry_price", "exit_price", "entry_fee",
                  "exit_fee", "pnl", "return", "reason")


def _as_tuple(v: Any) -> tuple:
    return v if isinstance(v, tuple) else (v,)


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

    def _write_extra(self, tmp: Path, meta: dict[str, Any]) -> None:
        """The group fields beside Result's files: cash, value, orders, and the columns'
        groups and assets in meta.json."""
        if self._cash is not None:
            pd.DataFrame(self._cash, index=self.index, columns=[str(g) for g in range(len(self.columns))]).to_parquet(
                tmp / "cash.parquet")
        if self._value is not None:
            pd.DataFrame(self._value, index=self.index,
                         columns=[str(c) for c in range(len(self.signal_columns))]).to_parquet(tmp / "value.parquet")
        if self._orders is not None:
            pd.DataFrame(self._orders).to_parquet(tmp / "orders.parquet")
        meta["portfolio"] = {"signal_columns": _index_meta(self.signal_columns), "group_of": self.group_of.tolist(),
                             "asset_of": [plain(a) for a in self.asset_of]}
