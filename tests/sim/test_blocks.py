"""The per-block return sums the kernels accumulate in their streaming pass
(``backtest(..., blocks=S)``, read by the probability of backtest overfitting) equal
the sums of the recorded equity curve's bar returns over the same blocks."""

import numpy as np
import pandas as pd
import pytest

from mlbt.sim import backtest
from mlbt.sim.result import block_bounds


def _bars(T: int, seed: int = 0, nan_bars: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, T)))
    bars = pd.DataFrame({"open": close * (1 + rng.normal(0, 0.002, T)), "high": close * 1.01, "low": close * 0.99,
                         "close": close}, index=pd.date_range("2021-01-01", periods=T, freq="h"))
    if nan_bars:
        bars.iloc[rng.choice(np.arange(1, T), nan_bars, replace=False)] = np.nan
    return bars


def _targets(T: int, N: int, seed: int = 1, decisions: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    target = np.full((T, N), np.nan)
    for k in range(N):
        at = rng.choice(T, min(decisions, T), replace=False)
        target[at, k] = rng.choice([1.0, -1.0, 0.0], len(at))
    return target


def _expected(equity: np.ndarray, cash: float, S: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-block sums of r and r^2 from an equity curve (T, N), r_0 against the cash."""
    prev = np.vstack([np.full((1, equity.shape[1]), cash), equity[:-1]])
    r = equity / prev - 1.0
    bounds = block_bounds(len(equity), S)
    s1 = np.stack([r[a:b].sum(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)], axis=1)
    s2 = np.stack([(r[a:b] ** 2).sum(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)], axis=1)
    return s1, s2


def test_block_bounds_split_the_bars_evenly():
    assert block_bounds(10, 4).tolist() == [0, 2, 5, 7, 10]  # floor(b T / S)
    assert block_bounds(3, 4).tolist() == [0, 0, 1, 2, 3]  # fewer bars than blocks: an empty block
    sample = block_bounds(20_106, 16)  # the embedded sample: 1,256 or 1,257 bars a block, halves at 10,053
    assert set(np.diff(sample).tolist()) == {1256, 1257} and sample[8] == 10_053 and sample[-1] == 20_106


@pytest.mark.parametrize("case", [
    dict(T=1003, N=6, S=16, kw={}),
    dict(T=1003, N=1, S=16, kw={}),  # one column: the calling thread's kernel
    dict(T=5000, N=4, S=16, kw=dict(sl=0.01, tp=0.02), decisions=30),  # stops: holding stretches
    dict(T=800, N=3, S=10, kw=dict(fill="close", trail=0.015)),
    dict(T=700, N=3, S=8, kw={}, nan_bars=30),  # NaN bars keep equity at the last close
    dict(T=5, N=2, S=16, kw={}, decisions=3),  # more blocks than bars
    dict(T=3000, N=3, S=16, kw={}, decisions=2),  # long flat stretches jump many blocks at once
])
def test_column_kernel_block_sums_equal_the_equity_curves(case):
    T, N, S = case["T"], case["N"], case["S"]
    bars = _bars(T, nan_bars=case.get("nan_bars", 0))
    target = _targets(T, N, decisions=case.get("decisions", 40))
    recorded = backtest(bars, target, fee=0.001, blocks=S, **case["kw"])
    streamed = backtest(bars, target, fee=0.001, blocks=S, record=False, **case["kw"])
    s1, s2 = _expected(recorded.equity.to_numpy().reshape(T, N), 100_000.0, S)
    for got in (recorded.return_blocks, streamed.return_blocks):
        np.testing.assert_allclose(got.sum1, s1, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got.sum2, s2, rtol=0, atol=1e-12)
        assert got.bars.tolist() == np.diff(block_bounds(T, S)).tolist()
    # the blocks add up to the whole curve: the same sums the metrics come from
    n = T
    mean = s1.sum(axis=1) / n
    std = np.sqrt((s2.sum(axis=1) - n * mean**2) / (n - 1))
    sharpe = np.asarray(recorded.stats["sharpe"]).reshape(-1)
    ppy = recorded.settings["periods_per_year"]
    moved = std > 0
    np.testing.assert_allclose(mean[moved] / std[moved] * np.sqrt(ppy), sharpe[moved], rtol=1e-9)


def test_without_blocks_nothing_is_kept_and_the_metrics_do_not_change():
    bars, target = _bars(900), _targets(900, 4)
    plain = backtest(bars, target, fee=0.001)
    blocked = backtest(bars, target, fee=0.001, blocks=16)
    assert plain.return_blocks is None
    np.testing.assert_array_equal(plain.stats.to_numpy(), blocked.stats.to_numpy())


def test_group_kernel_block_sums_equal_the_group_equity():
    T, S = 1200, 16
    one = _bars(T, seed=3)
    two = _bars(T, seed=4)
    bars = pd.concat({"A": one, "B": two}, axis=1).swaplevel(axis=1).sort_index(axis=1)
    target = _targets(T, 4, seed=5)
    columns = pd.MultiIndex.from_tuples([(p, a) for p in (1, 2) for a in ("A", "B")], names=["p", "asset"])
    signals = pd.DataFrame(target, index=bars.index, columns=columns)
    result = backtest(bars, signals, fee=0.001, cash_sharing=True, size=0.5, blocks=S)
    s1, s2 = _expected(result.equity.to_numpy(), 100_000.0, S)
    np.testing.assert_allclose(result.return_blocks.sum1, s1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.return_blocks.sum2, s2, rtol=0, atol=1e-12)
    assert result.return_blocks.sum1.shape == (2, S)


@pytest.mark.parametrize("bad", [-1, 2.5, True, "16"])
def test_blocks_must_be_a_count(bad):
    with pytest.raises(ValueError, match="blocks"):
        backtest(_bars(50), _targets(50, 1), blocks=bad)
