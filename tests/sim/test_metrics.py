"""Metrics computed inside the kernel equal an independent pandas computation from
the recorded equity and trades (and vectorbt's where both define them); sweep mode
(record=False) gives the same metrics; Results round-trip through Parquet."""

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
import vectorbt  # noqa: F401  (registers the .vbt accessor used as an oracle)

from mlbt import Result, Signals, backtest
from mlbt.data import load


@pytest.fixture(scope="module")
def result():
    bars = load("btcusd_1h").iloc[:6000].copy()
    bars.iloc[100:103] = np.nan  # an exchange outage: NaN bars are marked at the last close
    rng = np.random.default_rng(7)
    target = pd.DataFrame(rng.choice([-1.0, 0.0, 1.0, np.nan], p=[0.01, 0.01, 0.01, 0.97], size=(len(bars), 5)),
                          index=bars.index, columns=pd.Index(["a", "b", "c", "d", "e"], name="run"))
    target["e"] = np.nan  # a column that never trades
    return bars, target, backtest(bars, Signals(target, sl=0.03, tp=0.06), fee=0.001, slippage=0.0002)


def expected_stats(equity: pd.Series, trades: pd.DataFrame, close: pd.Series, init_cash: float, ppy: float):
    r = equity / equity.shift(1, fill_value=init_cash) - 1
    n = len(r)
    down = np.sqrt((np.minimum(r, 0) ** 2).mean())
    peak = np.maximum.accumulate(np.r_[init_cash, equity.to_numpy()])[1:]
    dd = equity.to_numpy() / peak - 1
    total = equity.iloc[-1] / init_cash - 1
    cagr = (1 + total) ** (ppy / n) - 1
    closed = trades[~trades.is_open]
    wins, losses = closed[closed.pnl > 0], closed[closed.pnl < 0]
    valid = close.dropna()
    d = r - r.mean()
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    skew, kurt = (m3 / m2**1.5, m4 / m2**2) if m2 > 0 else (np.nan, np.nan)
    sr = r.mean() / r.std(ddof=1) if r.std() > 0 else np.nan
    psr = NormalDist().cdf(sr * np.sqrt(n - 1) / np.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))
    return {
        "skew": skew,
        "kurtosis": kurt - 3,
        "psr": psr,
        "total_return": total,
        "cagr": cagr,
        "ann_volatility": r.std(ddof=1) * np.sqrt(ppy),
        "sharpe": r.mean() / r.std(ddof=1) * np.sqrt(ppy) if r.std() > 0 else np.nan,
        "sortino": r.mean() / down * np.sqrt(ppy) if down > 0 else np.nan,
        "calmar": cagr / -dd.min() if dd.min() < 0 else np.nan,
        "omega": r[r > 0].sum() / -r[r < 0].sum() if (r < 0).any() else np.nan,
        "max_drawdown": dd.min(),
        "trades": len(trades),
        "open_trades": int(trades.is_open.sum()),
        "win_rate": len(wins) / len(closed) if len(closed) else np.nan,
        "profit_factor": wins.pnl.sum() / -losses.pnl.sum() if len(losses) else np.nan,
        "expectancy": closed.pnl.mean() if len(closed) else np.nan,
        "avg_win": wins["return"].mean() if len(wins) else np.nan,
        "avg_loss": losses["return"].mean() if len(losses) else np.nan,
        "best_trade": closed["return"].max() if len(closed) else np.nan,
        "worst_trade": closed["return"].min() if len(closed) else np.nan,
        "avg_bars_held": closed.bars_held.mean() if len(closed) else np.nan,
        "fees_paid": trades.fees.sum(),
        "final_equity": equity.iloc[-1],
        "buy_hold_return": valid.iloc[-1] / valid.iloc[0] - 1,
    }


def max_dd_duration(equity: pd.Series, init_cash: float) -> int:
    """Bars spent below the peak by the deepest drawdown (a plain loop)."""
    peak, peak_bar, worst, worst_len, ep_min = init_cash, -1, 0.0, 0, 0.0
    for i, e in enumerate(equity):
        if e >= peak:
            peak, peak_bar, ep_min = e, i, 0.0
            continue
        ep_min = min(ep_min, e / peak - 1)
        if ep_min <= worst:
            worst, worst_len = ep_min, i - peak_bar
    return worst_len


def test_kernel_metrics_equal_pandas(result):
    bars, target, res = result
    stats, trades = res.stats, res.trades
    ppy = res.settings["periods_per_year"]
    assert ppy == 8760
    for col in target.columns:
        j = target.columns.get_loc(col)
        eq = res.equity[col]
        want = expected_stats(eq, trades[trades.col == j], bars.close, 100_000.0, ppy)
        got = stats.loc[col]
        for name, value in want.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-9, atol=1e-12, err_msg=f"{col} {name}")
        assert got["max_dd_duration"] == max_dd_duration(eq, 100_000.0)
        exposed = np.zeros(len(eq), dtype=bool)  # bars that end with a position held
        for t in trades[trades.col == j].itertuples():
            exposed[t.entry_bar:t.exit_bar + (1 if t.is_open else 0)] = True
        assert got["exposure"] == pytest.approx(exposed.mean())
    assert stats.loc["e", "trades"] == 0 and stats.loc["e", "total_return"] == 0.0


def test_metrics_agree_with_vectorbt(result):
    _, _, res = result
    eq = res.equity["a"]
    returns = eq.pct_change().fillna(eq.iloc[0] / 100_000.0 - 1)
    acc = returns.vbt.returns(freq="1h", year_freq="365 days")
    got = res.stats.loc["a"]
    assert got["sharpe"] == pytest.approx(acc.sharpe_ratio(), rel=1e-9)
    assert got["sortino"] == pytest.approx(acc.sortino_ratio(), rel=1e-9)
    assert got["max_drawdown"] == pytest.approx(acc.max_drawdown(), rel=1e-9)
    assert got["ann_volatility"] == pytest.approx(acc.annualized_volatility(), rel=1e-9)
    assert got["omega"] == pytest.approx(acc.omega_ratio(), rel=1e-9)


def test_sweep_mode_metrics_equal_recorded(result):
    bars, target, res = result
    fast = backtest(bars, Signals(target, sl=0.03, tp=0.06), fee=0.001, slippage=0.0002, record=False)
    pd.testing.assert_frame_equal(fast.stats, res.stats)
    with pytest.raises(ValueError, match="equity was not recorded"):
        _ = fast.equity


def test_orders_and_parquet_round_trip(result, tmp_path):
    _, _, res = result
    orders = res.orders
    trades = res.trades
    assert len(orders) == 2 * len(trades) - trades.is_open.sum()
    assert orders.fee.sum() == pytest.approx(res.stats.fees_paid.sum())
    path = res.to_parquet(tmp_path / "run")
    back = Result.read(path)
    pd.testing.assert_frame_equal(back.stats, res.stats)
    pd.testing.assert_frame_equal(back.equity, res.equity)
    pd.testing.assert_frame_equal(back.trades, res.trades)
    res.to_parquet(tmp_path / "run")  # overwriting leaves one complete result, no temp dirs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    # a result saved before skew, kurtosis and psr existed still loads; those read as NaN
    stats = pd.read_parquet(path / "stats.parquet").drop(columns=["skew", "kurtosis", "psr"])
    stats.to_parquet(path / "stats.parquet")
    old = Result.read(path).stats
    assert old[["skew", "kurtosis", "psr"]].isna().all().all()
    pd.testing.assert_frame_equal(old.drop(columns=["skew", "kurtosis", "psr"]),
                                  res.stats.drop(columns=["skew", "kurtosis", "psr"]))


def test_atomic_outputs_take_the_umask_and_leave_nothing_on_failure(result, tmp_path):
    import os
    import stat

    from mlbt.io.atomic import building_dir, write_text

    _, _, res = result
    old = os.umask(0o027)
    try:
        path = res.to_parquet(tmp_path / "run")
        text = write_text(tmp_path / "note.txt", "hello")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o750  # not tempfile's private 0700
    assert stat.S_IMODE(text.stat().st_mode) == 0o640 and text.read_text() == "hello"
    building = building_dir(tmp_path / "run", "stats.parquet", "saved Result")
    with pytest.raises(RuntimeError, match="boom"), building as tmp:
        (tmp / "part").write_text("half")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.txt", "run"]
    assert Result.read(tmp_path / "run").stats.equals(res.stats)  # the old result survives
