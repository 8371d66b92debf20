"""A plugin over a universe: its own rule per asset, the assets' signals as (params...,
asset) columns, and the allocation of group equity (equal, inverse volatility, the
plugin's own sizes)."""

import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from mlbt import backtest, load, load_strategy
from mlbt.data.universe import asset_bars, combine
from mlbt.strategy import make_signals, prepare
from mlbt.strategy.universe import VOL_WINDOW, allocation_shares, prepare_assets, universe_signals

SMA = "strategies/sma_cross.py"


@pytest.fixture(scope="module")
def coins():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load("coins_1d", symbols="all")


def test_each_asset_runs_the_plugin_s_own_rule_on_its_own_bars(coins):
    strategy = load_strategy(SMA, fast=10, slow=40)
    signals = universe_signals(strategy, coins, prepare_assets(strategy, coins))
    assert signals.target.columns.tolist() == [(10, "BTC"), (10, "ETH"), (10, "LTC")]
    assert signals.target.columns.names == ["fast", "asset"]
    for asset in ("BTC", "ETH", "LTC"):
        own = asset_bars(coins, asset)
        alone = make_signals(strategy, prepare(strategy, own).ctx).target.iloc[:, 0]
        mine = signals.target[(10, asset)]
        pd.testing.assert_series_equal(mine.loc[own.index], alone, check_names=False)
        assert mine.drop(own.index).isna().all()  # no bar of its own: NaN (keep)
    np.testing.assert_array_equal(signals.size.to_numpy(), 1 / 3)  # equal: a third of group equity each
    result = backtest(coins, signals, cash_sharing=True, fee=0.001)
    assert len(result.groups) == 1
    assert result.contributions.sum() == pytest.approx(result.stats["total_return"])
    # the plugin's own sizes: unscaled, here the engine's (none set)
    assert universe_signals(strategy, coins, prepare_assets(strategy, coins), allocation="plugin").size is None
    half = universe_signals(strategy, coins, prepare_assets(strategy, coins), engine={"size": 0.6})
    np.testing.assert_allclose(half.size.to_numpy(), 0.2)


def test_a_sweep_grid_gives_each_combination_its_assets_side_by_side(coins):
    strategy = load_strategy(SMA)
    grid = strategy.grid(pd.DataFrame({"fast": [5, 10], "slow": [40, 40]}))
    signals = universe_signals(strategy, coins, prepare_assets(strategy, coins), grid=grid)
    assert signals.target.columns.tolist() == [(5, a) for a in ("BTC", "ETH", "LTC")] + [
        (10, a) for a in ("BTC", "ETH", "LTC")]
    result = backtest(coins, signals, cash_sharing=True, record=False)
    assert result.stats.shape[0] == 2  # one group per combination


def test_without_shared_cash_each_column_trades_its_own_asset_on_its_own_cash(coins):
    strategy = load_strategy(SMA)
    grid = strategy.grid(pd.DataFrame({"fast": [5, 10], "slow": [40, 40]}))
    signals = universe_signals(strategy, coins, prepare_assets(strategy, coins), grid=grid, allocation="plugin")
    result = backtest(coins, signals, fee=0.001)  # (fast, asset) columns over (field, asset) bars, cash each
    assert list(result.columns) == list(signals.target.columns)
    for fast, asset in [(5, "ETH"), (10, "BTC"), (10, "LTC")]:
        own = asset_bars(coins, asset)
        alone = backtest(own, make_signals(load_strategy(SMA, fast=fast, slow=40), prepare(strategy, own).ctx),
                         fee=0.001)
        assert float(result.stats.loc[(fast, asset), "total_return"]) == pytest.approx(
            float(alone.stats["total_return"]), rel=1e-12)
        assert result.stats.loc[(fast, asset), "trades"] == alone.stats["trades"]


def test_inverse_volatility_shares_by_hand_and_from_the_past_only():
    # A's closes move +-1% bar to bar, B's +-2%: B's volatility is twice A's, so once
    # VOL_WINDOW returns exist A holds 2/3 and B 1/3 (1/sigma normalized); before, 1/2 each.
    n = 40
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    frames = {}
    for name, step in (("A", 0.01), ("B", 0.02)):
        close = 100 * np.cumprod(np.where(np.arange(n) % 2 == 0, 1 + step, 1 - step))
        frames[name] = pd.DataFrame({"open": close, "high": close * 1.03, "low": close * 0.97, "close": close,
                                     "volume": 1.0}, index=index)
    bars = combine(frames)
    share = allocation_shares(bars, "inverse_vol")
    np.testing.assert_allclose(share[:VOL_WINDOW], 0.5)
    np.testing.assert_allclose(share[VOL_WINDOW:, 0], 2 / 3, rtol=1e-9)
    np.testing.assert_allclose(share[VOL_WINDOW:, 1], 1 / 3, rtol=1e-9)
    np.testing.assert_allclose(allocation_shares(bars.iloc[:25], "inverse_vol"), share[:25])  # causal


def test_an_asset_without_a_walk_forward_fold_stays_flat_and_is_named(coins, tmp_path, caplog):
    # ETH's 788 days are fewer than min_train: it stays flat, the other two trade.
    strategy = load_strategy("strategies/etf50_lstm.py", epochs=1, min_train=800, retrain_every=600)
    with caplog.at_level(logging.WARNING, logger="mlbt.strategy.universe"):
        prepared = prepare_assets(strategy, coins, cache_dir=str(tmp_path))
    assert prepared["ETH"] is None and prepared["BTC"] is not None and prepared["LTC"] is not None
    assert [r.getMessage() for r in caplog.records] == [
        "etf50_lstm: asset ETH stays flat: its 788 bars give the model no walk-forward fold (min_train = 800)"]
    signals = universe_signals(strategy, coins, prepared)
    assert (signals.target.xs("ETH", axis=1, level="asset") == 0).all().all()
    result = backtest(coins, signals, cash_sharing=True, fee=0.001)
    assert set(result.trades["asset"]) <= {"BTC", "LTC"}


def test_bad_allocations_and_bars_are_refused(coins):
    strategy = load_strategy(SMA)
    with pytest.raises(ValueError, match=r"allocation 'kelly': choose one of equal, inverse_vol, plugin"):
        universe_signals(strategy, coins, {}, allocation="kelly")
    with pytest.raises(ValueError, match=r"needs bars with \(field, asset\) columns"):
        universe_signals(strategy, asset_bars(coins, "BTC"), {})


PLUGIN = '''
import numpy as np
from mlbt import Param, Signals, Strategy


class Sized(Strategy):
    name = "sized"
    params = {"window": Param(5, low=1, high=100)}

    def signals(self, ctx, p):
        close = ctx.bars.close.to_numpy()[:, None]
        past = ctx.bars.close.shift(1).to_numpy()[:, None]
        target = np.where(close > past, 1.0, 0.0) * np.ones((1, len(p)))
        cheap = ctx.bars.close.iloc[0] < 100  # LTC's first close is 40.9, BTC's and ETH's above 300
        return Signals(target, size=0.5, sl=0.05 if cheap else None, trail=TRAIL)
'''


def test_the_plugin_s_fields_hold_the_engine_s_values_where_an_asset_has_none(coins, tmp_path):
    path = tmp_path / "sized.py"
    path.write_text(PLUGIN.replace("TRAIL", "None"))
    strategy = load_strategy(path)
    signals = universe_signals(strategy, coins, prepare_assets(strategy, coins), engine={"sl": 0.2})
    size, sl = (getattr(signals, f).xs(5, axis=1, level="window") for f in ("size", "sl"))
    for asset in ("BTC", "ETH", "LTC"):  # on its bars, the plugin's size, an equal share of it
        np.testing.assert_allclose(size[asset].loc[asset_bars(coins, asset).index], 0.5 / 3)
    assert (size["ETH"].loc[:"2017-11-08"] == 1 / 3).all()  # no bar of its own: the engine's size, shared
    assert (sl["LTC"].loc[asset_bars(coins, "LTC").index] == 0.05).all()
    assert (sl["BTC"] == 0.2).all() and (sl["ETH"] == 0.2).all()  # set by no rule: the engine's
    result = backtest(coins, signals, cash_sharing=True, fee=0.001)
    assert result.stats["trades"] > 0
    path.write_text(PLUGIN.replace("TRAIL", "True"))
    trailing = load_strategy(path)
    assert universe_signals(trailing, coins, prepare_assets(trailing, coins)).trail is True


def test_inverse_volatility_shares_add_up_to_one_with_late_listings_and_missing_bars():
    rng = np.random.default_rng(3)
    index = pd.date_range("2024-01-01", periods=80, freq="D", tz="UTC")
    frames = {}
    for name, sigma, start in (("A", 0.01, 0), ("B", 0.02, 0), ("C", 0.03, 30)):
        close = 100 * np.exp(np.cumsum(rng.normal(0, sigma, len(index))))
        frame = pd.DataFrame({"open": close, "high": close * 1.05, "low": close * 0.95, "close": close,
                              "volume": 1.0}, index=index).iloc[start:]
        frames[name] = frame.drop(index[45]) if name == "B" else frame  # B misses a bar
    share = allocation_shares(combine(frames), "inverse_vol")
    np.testing.assert_allclose(share.sum(axis=1), 1.0)
    assert share[46, 1] < share[46, 0]  # B keeps its volatility over its missing bar: less than A
    np.testing.assert_allclose(share[40, 2], 1 / 3)  # C, listed 10 bars ago: the equal share
