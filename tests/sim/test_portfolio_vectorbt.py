"""Shared cash and target weights against vectorbt on real multi-asset data: the
three Bitstamp coins (BTC, ETH, LTC vs USD, daily: the embedded sample ``coins_1d``,
provenance in data/samples/SOURCES.md), over the 788 days all three trade.

vectorbt sizes both by ``from_orders(size_type="targetpercent")`` with
``cash_sharing=True`` and one group, orders at the open of the bar after each
decision. bt's mapping: an entry of size s from flat commits s x group equity to the
notional *and* the fee, so vectorbt's target percent is s / (1 + fee); a target
weight is vectorbt's target percent as it is (fees come out of cash), and a flat
target is 0. vectorbt fills one order per column and bar in ``call_seq`` order; bt
fills exits and reductions first, then entries and increases, each in column order
(execution rule 15): the test hands vectorbt that order (from bt's order records;
vectorbt still computes every size, fee and cash flow itself). A reversal is one
order in vectorbt and two fills in bt (an exit, then an entry), so the orders are
compared as net units per column and bar; positions (vectorbt's ``positions``: one
record from open to flat with average prices) are bt's trades.

bt caps an entry so that gross exposure stays within leverage x equity (rule 15);
vectorbt limits a short by its free cash instead. The sizes here keep both limits
from binding (were an order reduced, the sizes would differ).

``from_signals`` cannot express bt's entry sizing (its percent is of cash, not of
group equity), so signal entries go through ``from_orders`` as above.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from mlbt import backtest, load

vbt = pytest.importorskip("vectorbt")

ASSETS = ["BTC", "ETH", "LTC"]


@pytest.fixture(scope="module")
def bars():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sample's zero-volume bars and its one gap
        coins = load("coins_1d", symbols=ASSETS)
    coins = coins[coins[("open", "ETH")].notna()]  # the days all three coins trade
    return coins[["open", "high", "low", "close"]]


def vectorbt_run(bars, percent, result, fee):
    """vectorbt on bt's decisions: ``percent`` (T, 3) target percents at the decision
    bars, filled at the next open, in bt's fill order."""
    T = len(bars)
    size = np.full((T, 3), np.nan)
    size[1:] = percent[:-1]
    call_seq = np.tile(np.arange(3), (T, 1))
    for bar, fills in result.orders.groupby("bar"):
        seq = list(dict.fromkeys(fills["col"].tolist()))
        call_seq[bar] = seq + [c for c in range(3) if c not in seq]
    return vbt.Portfolio.from_orders(bars["close"], size=size, size_type="targetpercent", price=bars["open"],
                                     fees=fee, group_by=np.zeros(3, dtype=int), cash_sharing=True, call_seq=call_seq,
                                     init_cash=100_000.0, update_value=True, freq="1D")


def compare(bars, pf, result):
    # Equity within 1e-9 (relative) at every bar.
    np.testing.assert_allclose(result.equity.to_numpy(), pf.value().to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(result.cash.to_numpy(), pf.cash().to_numpy(), rtol=1e-9, atol=1e-6)
    # The same net units per column and bar.
    o = result.orders
    mine = o.assign(units=np.where(o.side == "buy", o["size"], -o["size"])).groupby(["col", "bar"]).units.sum()
    vo = pd.DataFrame(pf.orders.records)
    theirs = vo.assign(units=np.where(vo.side == 0, vo["size"], -vo["size"])).groupby(["col", "idx"]).units.sum()
    mine = mine[mine.abs() > 1e-12]
    assert list(mine.index) == list(theirs.index)
    np.testing.assert_allclose(mine.to_numpy(), theirs.to_numpy(), rtol=1e-9)
    # The same trades: positions from open to flat, average prices, fees and pnl.
    pos = pd.DataFrame(pf.positions.records).sort_values(["col", "entry_idx"]).reset_index(drop=True)
    t = result.trades.sort_values(["col", "entry_bar"]).reset_index(drop=True)
    assert len(t) == len(pos) > 20
    assert (t.col.to_numpy() == pos.col.to_numpy()).all()
    assert (t.entry_bar.to_numpy() == pos.entry_idx.to_numpy()).all()
    assert (t.exit_bar.to_numpy() == pos.exit_idx.to_numpy()).all()
    assert (np.where(t.side == "long", 0, 1) == pos.direction.to_numpy()).all()
    assert (t.is_open.to_numpy() == (pos.status.to_numpy() == 0)).all()
    for mine_, theirs_ in (("size", "size"), ("entry_price", "entry_price"), ("exit_price", "exit_price"),
                           ("entry_fee", "entry_fees"), ("pnl", "pnl"), ("return", "return")):
        np.testing.assert_allclose(t[mine_].to_numpy(), pos[theirs_].to_numpy(), rtol=1e-9, atol=1e-9,
                                   err_msg=mine_)
    closed = ~t.is_open.to_numpy()
    np.testing.assert_allclose(t.exit_fee.to_numpy()[closed], pos.exit_fees.to_numpy()[closed], rtol=1e-9)


def test_target_weights_equal_vectorbt_targetpercent(bars):
    rng = np.random.default_rng(7)
    T = len(bars)
    weights = np.full((T, 3), np.nan)
    weights[::5] = rng.uniform(-0.3, 0.3, (len(weights[::5]), 3))
    weights[::35] = 0.0  # flat now and then
    columns = pd.MultiIndex.from_product([["w"], ASSETS], names=["combo", "asset"])
    fee = 0.001
    result = backtest(bars, pd.DataFrame(weights, index=bars.index, columns=columns), size_type="target_weight",
                      cash_sharing=True, fee=fee)
    assert (result.orders.reason == "rebalance").sum() > 50
    compare(bars, vectorbt_run(bars, weights, result, fee), result)


def test_shared_cash_entries_equal_vectorbt_targetpercent(bars):
    rng = np.random.default_rng(3)
    T = len(bars)
    # Long or short on each coin in turns, flat in between (a reversal would size off
    # the equity after its exit in bt, before it in vectorbt's one order).
    target = np.full((T, 3), np.nan)
    for j in range(3):
        bar = int(rng.integers(0, 10))
        while bar < T - 1:
            target[bar, j] = rng.choice([1.0, -1.0])
            hold = int(rng.integers(3, 15))
            if bar + hold < T:
                target[bar + hold, j] = 0.0
            bar += hold + int(rng.integers(1, 10))
    size, fee = 0.2, 0.002
    columns = pd.MultiIndex.from_product([["s"], ASSETS], names=["combo", "asset"])
    result = backtest(bars, pd.DataFrame(target, index=bars.index, columns=columns), cash_sharing=True,
                      size=size, fee=fee)
    assert result.trades.side.nunique() == 2
    percent = np.where(np.isnan(target), np.nan, target * size / (1 + fee))
    compare(bars, vectorbt_run(bars, percent, result, fee), result)
