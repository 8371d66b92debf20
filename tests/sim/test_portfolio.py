"""Hand-computed scenarios for rules 14-16 of the README's "Execution semantics"
(shared cash, the exposure cap, target weights), the PortfolioResult fields, and the
refusals of bad group inputs.

Every scenario: daily bars of two assets A and B, initial cash 1,000 for the group,
decisions at bar 0 that fill at bar 1's open of 10, no fees unless stated.
"""

import math

import numpy as np
import pandas as pd
import pytest

from mlbt import Signals, backtest

NAN = math.nan
COLUMNS = pd.MultiIndex.from_tuples([("p", "A"), ("p", "B")], names=["combo", "asset"])


def bars(a_rows=(), b_rows=()):
    """Bars 0 and 1 at 10 for both assets, then their ``rows`` of (open, high, low, close)."""
    flat = [(10, 10, 10, 10), (10, 10, 10, 10)]
    a, b = flat + list(a_rows), flat + list(b_rows)
    n = max(len(a), len(b))
    a += [a[-1][3:] * 4] * (n - len(a))
    b += [b[-1][3:] * 4] * (n - len(b))
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    fields = ("open", "high", "low", "close")
    return pd.concat({f: pd.DataFrame({"A": [r[k] for r in a], "B": [r[k] for r in b]}, index=index, dtype=float)
                      for k, f in enumerate(fields)}, axis=1)


def run(b, a_target, b_target, **kw):
    n = len(b)
    target = pd.DataFrame({("p", "A"): list(a_target) + [NAN] * (n - len(a_target)),
                           ("p", "B"): list(b_target) + [NAN] * (n - len(b_target))}, index=b.index, dtype=float)
    target.columns = COLUMNS
    return backtest(b, Signals(target), cash=1000.0, cash_sharing=True, periods_per_year=365, **kw)


def test_an_entry_the_group_cannot_afford_is_reduced_to_its_cash():
    # A and B enter at bar 1's open with size 0.7 each. A first (column order): 0.7 x
    # 1,000 buys 70 units, cash 300. B's 0.7 x equity 1,000 would need 700: reduced to
    # the cash left, 300 / 10 = 30 units; cash 0.
    r = run(bars(), [1], [1], size=0.7)
    assert r.trades["size"].tolist() == [70.0, 30.0]
    assert r.cash.tolist()[1] == 0.0
    # insufficient_cash="skip" skips B instead.
    r = run(bars(), [1], [1], size=0.7, insufficient_cash="skip")
    assert r.trades["size"].tolist() == [70.0]
    assert r.cash.tolist()[1] == 300.0


def test_the_reduction_pays_its_fee_out_of_what_is_left():
    # With a 1% fee A's 700 buys 700 / 1.01 / 10 = 69.3069 units (fee 6.9307), cash 300;
    # B can afford 300 / (10 x 1.01) = 29.7030 units, and cash ends at 0 (never below).
    r = run(bars(), [1], [1], size=0.7, fee=0.01)
    a, b = r.trades["size"].tolist()
    assert math.isclose(a, 700 / 1.01 / 10, rel_tol=1e-12)
    assert math.isclose(b, 300 / 10.1, rel_tol=1e-12)
    assert abs(r.cash.iloc[1]) < 1e-9


def test_a_weight_that_drifts_past_the_threshold_is_rebalanced():
    # Weight 0.5 in A: 50 units at 10, cash 500. Bar 2 closes at 14: A's value 700 of
    # equity 1,200 is a weight of 0.583, 0.083 from the target. With a drift threshold
    # of 0.05 that close decides a rebalance, filled at bar 3's open of 14: hold
    # 0.5 x 1,200 / 14 = 42.857 units, so 7.143 are sold and cash is 600.
    b = bars([(10, 14, 10, 14), (14, 14, 14, 14)], [(10, 10, 10, 10), (10, 10, 10, 10)])
    r = run(b, [0.5], [0.0], size_type="target_weight", rebalance_drift=0.05)
    o = r.orders
    assert o.reason.astype(str).tolist() == ["entry", "rebalance"]
    assert (o.bar.tolist(), o.side.tolist()) == ([1, 3], ["buy", "sell"])
    assert math.isclose(o["size"].iloc[1], 50 - 600 / 14, rel_tol=1e-12)
    assert math.isclose(r.cash.iloc[3], 600.0, rel_tol=1e-12)
    assert math.isclose(r.weight.iloc[3, 0], 0.5, rel_tol=1e-12)
    # One trade for the whole position: 50 units entered, open at the end.
    t = r.trades.iloc[0]
    assert (t["size"], t.is_open) == (50.0, True)
    # Below the threshold (0.1) nothing rebalances, nor without one.
    for drift in (0.1, None):
        assert len(run(b, [0.5], [0.0], size_type="target_weight", rebalance_drift=drift).orders) == 1


def test_two_leveraged_longs_are_liquidated_together_where_equity_meets_the_margin():
    # Leverage 2, size 1 each: A buys 100 at 10 (cash 0), B buys 100 at 10 (cash
    # -1,000; gross 2,000 = 2 x equity). Bar 2: A opens 10 and falls to 2, B opens 10
    # and falls to 6. Along the straight line from the opens to the lows equity is
    # -1,000 + 100 pA + 100 pB: 1,000 at the opens, -200 at the lows, so it meets the
    # maintenance margin (mmr 0: zero) 1,000 / 1,200 of the way: A at 10 - 8 x 5/6 =
    # 3.333, B at 10 - 4 x 5/6 = 6.667, both liquidated there; equity 0: bankrupt.
    b = bars([(10, 10, 2, 3), (3, 20, 3, 20)], [(10, 10, 6, 7), (7, 20, 7, 20)])
    r = run(b, [1, NAN, NAN, 0], [1, NAN, NAN, 0], leverage=2.0)
    t = r.trades
    assert t.exit_reason.astype(str).tolist() == ["liquidation", "liquidation"]
    np.testing.assert_allclose(t.exit_price, [10 - 8 * 5 / 6, 10 - 4 * 5 / 6], rtol=1e-12)
    assert abs(r.equity.iloc[2]) < 1e-9 and r.stats["bankrupt"] == 1.0
    assert r.bankrupt_time.iloc[0] == b.index[2]
    assert len(r.orders) == 4  # the exit targets of bar 3 come after the bankruptcy


def test_with_maintenance_margin_the_group_is_liquidated_earlier_and_trades_on():
    # mmr 10%: margin 0.1 x (100 pA + 100 pB). Room (equity - margin) is 800 at the
    # opens and -200 - 80 = -280 at the lows: liquidated 800 / 1,080 of the way, where
    # equity -1,000 + 100 pA + 100 pB equals the margin, 111.1; not bankrupt.
    b = bars([(10, 10, 2, 3), (3, 3, 3, 3)], [(10, 10, 6, 7), (7, 7, 7, 7)])
    r = run(b, [1], [1], leverage=2.0, mmr=0.1)
    move = 800 / 1080
    np.testing.assert_allclose(r.trades.exit_price, [10 - 8 * move, 10 - 4 * move], rtol=1e-12)
    equity = -1000 + 100 * (10 - 8 * move) + 100 * (10 - 4 * move)
    assert math.isclose(r.equity.iloc[2], equity, rel_tol=1e-9)
    assert math.isclose(equity, 0.1 * (100 * (10 - 8 * move) + 100 * (10 - 4 * move)), rel_tol=1e-9)
    assert r.stats["bankrupt"] == 0.0


def test_a_gap_below_the_margin_liquidates_every_position_at_its_open():
    # Bar 2 opens at A 3, B 6: equity -1,000 + 300 + 600 = -100 at the opens already:
    # both liquidated there; equity -100, reported, bankrupt.
    b = bars([(3, 3, 2, 2)], [(6, 6, 5, 5)])
    r = run(b, [1], [1], leverage=2.0)
    assert r.trades.exit_price.tolist() == [3.0, 6.0]
    assert r.equity.iloc[2] == -100.0 and r.stats["bankrupt"] == 1.0


def test_a_lone_position_in_a_group_has_rule_10s_liquidation_price():
    # Only A holds (size 2, leverage 2: 200 units, cash -1,000): equity -1,000 + 200 p
    # is zero at 5; bar 2's low of 4 liquidates it at 5, as a column on its own.
    b = bars([(8, 8, 4, 6)], [(10, 10, 10, 10)])
    r = run(b, [1], [NAN], leverage=2.0, size=2.0)
    assert (r.trades.exit_reason.astype(str).iloc[0], r.trades.exit_price.iloc[0]) == ("liquidation", 5.0)


def test_portfolio_result_fields_add_up():
    # Weights 0.6 A, -0.3 B, fee 0.1%; A rises to 12, B to 11. A (reductions first,
    # then increases, in column order) buys 0.6 x 1,000 / 10 = 60 units (fee 0.6);
    # B then sells short 0.3 x 999.4 / 10 = 29.982 (fee 0.29982): equity 999.10018.
    b = bars([(10, 12, 10, 12)], [(10, 11, 10, 11)])
    r = run(b, [0.6], [-0.3], size_type="target_weight", fee=0.001)
    assert r.equity.index.equals(b.index) and r.cash.index.equals(b.index)
    value = r.value
    assert list(value.columns) == list(COLUMNS)
    np.testing.assert_allclose(r.equity.to_numpy(), r.cash.to_numpy() + value.sum(axis=1).to_numpy(), rtol=1e-12)
    assert math.isclose(r.equity.iloc[1], 999.10018, rel_tol=1e-12)
    np.testing.assert_allclose(r.weight.iloc[1], [600 / 999.10018, -299.82 / 999.10018], rtol=1e-12)
    assert r.trades.asset.tolist() == ["A", "B"] and r.trades.group.tolist() == ["p", "p"]
    assert r.orders.asset.tolist() == ["A", "B"]
    assert math.isclose(r.contributions.sum(), r.stats["total_return"], rel_tol=1e-9)
    metrics = backtest(b, Signals(pd.DataFrame([[0.6, -0.3]] + [[NAN, NAN]] * 2, index=b.index, columns=COLUMNS)),
                       cash=1000.0, size_type="target_weight", fee=0.001, cash_sharing=True, periods_per_year=365,
                       record=False)
    np.testing.assert_array_equal(metrics.stats.to_numpy(), r.stats.to_numpy())
    assert pd.isna(r.bankrupt_time.iloc[0])


def test_groups_default_to_the_parameter_levels():
    b = bars([(11, 11, 11, 11)], [(9, 9, 9, 9)])
    columns = pd.MultiIndex.from_product([[1, 2], ["A", "B"]], names=["fast", "asset"])
    target = pd.DataFrame([[1.0, 1.0, 1.0, NAN]] + [[NAN] * 4] * 2, index=b.index, columns=columns)
    r = backtest(b, target, cash=1000.0, size=0.5, cash_sharing=True)
    assert list(r.groups) == [1, 2]
    assert r.stats.loc[1, "final_equity"] == 1000 + 50 * 1 - 50 * 1
    assert r.stats.loc[2, "final_equity"] == 1000 + 50 * 1
    by_asset = backtest(b, target, cash=1000.0, size=0.5, cash_sharing=True, group_by="asset")
    assert list(by_asset.groups) == ["A", "B"]


@pytest.mark.parametrize(("kw", "message"), [
    (dict(group_by="speed"), "group_by: 'speed' matches no level of the signal columns"),
    (dict(group_by={"g": [("p", "A"), ("p", "C")]}), "group_by['g']: ('p', 'C') matches no signal column"),
    (dict(group_by={"g": [("p", "A")]}), "group_by: signal column ('p', 'B') is in no group"),
    (dict(group_by=["x", "y", "z"]), "group_by: 'x' matches no level"),
    (dict(cash=pd.Series([1000.0, 2000.0], index=COLUMNS)), "cash: the columns of group 'p' have different"),
])
def test_bad_group_inputs_are_refused(kw, message):
    b = bars()
    target = pd.DataFrame([[1.0, 1.0], [NAN, NAN]], index=b.index, columns=COLUMNS)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        backtest(b, target, cash_sharing=True, **{"cash": 1000.0, **kw})


def test_target_weights_above_leverage_are_refused_at_their_bar():
    b = bars([(10, 10, 10, 10)])
    target = pd.DataFrame([[0.5, NAN], [NAN, -0.6], [NAN, NAN]], index=b.index, columns=COLUMNS)
    with pytest.raises(ValueError, match=r"gross target weight 1.1 at row 1 \(2024-01-02.*group 'p' is above "
                                         r"leverage = 1"):
        backtest(b, target, cash_sharing=True, size_type="target_weight")
    backtest(b, target, cash_sharing=True, size_type="target_weight", leverage=1.1)  # allowed with leverage


def test_a_signal_asset_missing_from_the_bars_is_refused():
    b = bars()
    columns = pd.MultiIndex.from_tuples([("p", "A"), ("p", "Z")])
    with pytest.raises(ValueError, match="column asset 'Z' is not an asset of the bars"):
        backtest(b, pd.DataFrame([[1.0, 1.0], [NAN, NAN]], index=b.index, columns=columns), cash_sharing=True)


def test_a_portfolio_result_round_trips_through_parquet(tmp_path):
    from mlbt import Result

    b = bars([(10, 12, 10, 12)], [(10, 11, 10, 11)])
    r = run(b, [0.6], [-0.3], size_type="target_weight", fee=0.001)
    back = Result.read(r.to_parquet(tmp_path / "run"))
    assert type(back).__name__ == "PortfolioResult"
    for name in ("equity", "cash", "value", "weight", "trades", "orders", "contributions", "stats"):
        got, want = getattr(back, name), getattr(r, name)
        if isinstance(want, pd.DataFrame):
            pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False,
                                          check_index_type=False, check_categorical=False)
        else:
            np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(want, dtype=float))


def test_on_one_asset_every_column_is_its_own_group():
    # A sweep of one asset: the combinations do not share cash unless group_by says so.
    b = bars()[[("open", "A"), ("high", "A"), ("low", "A"), ("close", "A")]].droplevel(1, axis=1)
    columns = pd.MultiIndex.from_product([[1, 2], [0.1, 0.2]], names=["fast", "slow"])
    target = pd.DataFrame([[1.0] * 4, [NAN] * 4], index=b.index, columns=columns)
    alone = backtest(b, target, size=0.5)
    shared = backtest(b, target, size=0.5, cash_sharing=True)
    assert list(shared.groups) == list(columns)
    np.testing.assert_array_equal(alone.equity.to_numpy(), shared.equity.to_numpy())


def test_bt_run_takes_the_portfolio_options():
    from tests.conftest import bt

    returns = []
    for options in ([], ["--cash-sharing"], ["--size-type", "target_weight"]):
        done = bt("run", "strategies/sma_cross.py", *options, "--fee", "0", "--quiet", "--json", "--no-report")
        assert done.returncode == 0, done.stderr
        returns.append(__import__("json").loads(done.stdout)["stats"]["total_return"])
    assert returns[0] == returns[1] == returns[2]  # one column, no fee: the same trades
