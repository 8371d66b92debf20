"""Sweeps: results equal individual backtests column by column, for any chunk size;
model-param groups; resume after an interruption; walk-forward optimization; DSR of
the best combination; the ``bt sweep`` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlbt import Signals, backtest, load, load_strategy
from mlbt.cli import main
from mlbt.cli.options import engine_settings
from mlbt.sim.stats_nb import STAT_NAMES
from mlbt.sim.stats_nb import probabilistic_sharpe_nb as probabilistic_sharpe
from mlbt.strategy.pipeline import make_signals, prepare
from mlbt.sweep import EngineSettings, ResumeError, block_columns, build_grid, read_sweep, run_sweep
from mlbt.sweep.dsr import deflated_sharpe
from mlbt.sweep.store import SweepStore
from tests.conftest import ROOT
from tests.sim.reference import return_moments

SMA = "strategies/sma_cross.py"


@pytest.fixture(scope="module")
def bars(btc_sample):
    return btc_sample  # shared, read-only


@pytest.fixture(scope="module")
def sma():
    return load_strategy(SMA)


def single_stats(bars, fast, slow, **kw):
    strategy = load_strategy(SMA, fast=fast, slow=slow)
    signals = make_signals(strategy, prepare(strategy, bars).ctx)
    return backtest(bars, signals, **kw).stats.to_numpy()


def assert_same(a, b):
    np.testing.assert_array_equal(np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64"))


def test_sweep_equals_individual_backtests_with_per_column_fees_and_stops(bars, sma):
    grid = build_grid(["fast=10,20", "slow=50,80", "fee=0.0005,0.002", "sl=none,0.02", "max_hold=none,48"],
                      sma.params)
    engine = EngineSettings(tp=0.08, slippage=0.0002)
    result = run_sweep(SMA, grid, bars, engine=engine, chunk_size=7, deflate=False)
    table = result.table
    assert len(table) == 32 and result.chunks == 5 and table["combo"].tolist() == list(range(32))
    assert list(table.columns) == ["combo", "fast", "slow", "fee", "sl", "max_hold", *STAT_NAMES, *block_columns(16)]
    for row in table.itertuples(index=False):
        sl = None if np.isnan(row.sl) else row.sl
        mh = None if np.isnan(row.max_hold) else int(row.max_hold)
        alone = single_stats(bars, row.fast, row.slow, fee=row.fee, sl=sl, max_hold=mh, tp=0.08, slippage=0.0002)
        assert_same(table.loc[row.combo, list(STAT_NAMES)], alone)
    assert table["trades"].gt(50).all() and table["fees_paid"].nunique() > 16


def test_memory_bounded_chunks_equal_one_chunk(bars, sma):
    grid = build_grid(["fast=5:30:5", "slow=40:100:20", "allow_short=1,0"], sma.params)
    one = run_sweep(SMA, grid, bars, chunk_size=len(grid), deflate=False)
    small = run_sweep(SMA, grid, bars, memory_budget_mb=2.0, deflate=False)
    assert one.chunks == 1 and small.chunks >= 8 and small.chunk_size * 20106 * 8 <= 2 * 2**20
    pd.testing.assert_frame_equal(one.table, small.table, check_exact=True)


class Interrupt(Exception):
    pass


def interrupt_after(monkeypatch, parts: int, exc: type[BaseException] = Interrupt) -> list[int]:
    """Make the sweep store fail after ``parts`` parts are written, as a kill or Ctrl-C
    would stop it; returns the list of chunk ids written (from outside the sweep)."""
    written: list[int] = []
    real = SweepStore.write_part

    def write_part(self, chunk, frame):
        real(self, chunk, frame)
        written.append(chunk)
        if len(written) == parts:
            raise exc

    monkeypatch.setattr(SweepStore, "write_part", write_part)
    return written


def test_resume_after_interruption_equals_uninterrupted_and_skips_finished_chunks(tmp_path, bars, sma, monkeypatch):
    grid = build_grid(["fast=5:40:5", "slow=50:150:25"], sma.params, constraints=["fast < slow"])
    full = run_sweep(SMA, grid, bars, out=tmp_path / "full", chunk_size=6)

    with monkeypatch.context() as patched:
        interrupt_after(patched, 3)
        with pytest.raises(Interrupt):
            run_sweep(SMA, grid, bars, out=tmp_path / "cut", chunk_size=6)
    store = SweepStore(tmp_path / "cut")
    finished = store.done()
    assert finished == {0, 1, 2} and not store.read_manifest()["complete"]
    stamps = {c: store.part_path(c).stat().st_mtime_ns for c in finished}
    (tmp_path / "cut" / ".part-000003.parquet.x.tmp").write_bytes(b"half-written")  # a kill mid-write
    with pytest.raises(ResumeError, match="already holds a sweep: continue it with --resume"):
        run_sweep(SMA, grid, bars, out=tmp_path / "cut", chunk_size=6)

    legacy = store.read_manifest()
    assert "reentry" not in legacy["engine"] and legacy["engine"]["lot"] is None
    # as older sweeps wrote it: reentry among the settings (always False), trail=False for none, no lot yet
    older = {k: v for k, v in legacy["engine"].items() if k != "lot"} | {"trail": False, "reentry": False}
    store.write_manifest({**legacy, "engine": older})
    computed = interrupt_after(monkeypatch, -1)  # records, never interrupts
    resumed = run_sweep(SMA, grid, bars, out=tmp_path / "cut", resume=True, memory_budget_mb=1.0)
    assert set(computed).isdisjoint(finished) and sorted(computed) == list(range(3, full.chunks))
    assert not list((tmp_path / "cut").glob(".*.tmp"))
    assert {c: store.part_path(c).stat().st_mtime_ns for c in finished} == stamps
    assert resumed.skipped == 3 and resumed.chunk_size == 6  # the stored chunk size wins over the budget
    pd.testing.assert_frame_equal(resumed.table, full.table, check_exact=True)
    pd.testing.assert_frame_equal(read_sweep(tmp_path / "cut"), full.table, check_exact=True)
    pd.testing.assert_frame_equal(store.combos(), grid.combos)
    assert pd.Series(resumed.best).equals(pd.Series(full.best)) and resumed.dsr == full.dsr
    assert SweepStore(tmp_path / "cut").read_manifest()["complete"]

    differs = r"cannot resume .*different sweep \(engine settings: fee stored 0.0, now 0.001\)"
    with pytest.raises(ResumeError, match=differs):
        run_sweep(SMA, grid, bars, out=tmp_path / "cut", resume=True, engine=EngineSettings(fee=0.001))
    with pytest.raises(ResumeError, match="data fingerprint: stored"):
        run_sweep(SMA, grid, bars.iloc[:-1], out=tmp_path / "cut", resume=True)


MODEL_PLUGIN = (ROOT / "tests" / "plugins" / "momentum.py").read_text()


def test_model_params_get_one_prepare_per_group(tmp_path, bars, monkeypatch):
    plugin = tmp_path / "momentum.py"
    plugin.write_text(MODEL_PLUGIN)
    strategy = load_strategy(plugin)
    grid = build_grid(["edge=0.0,0.01,0.02", "window=10,50"], strategy.params)
    from mlbt.sweep import executors

    calls = []
    real = executors.prepare_context
    monkeypatch.setattr(executors, "prepare_context", lambda s, b, **kw: calls.append(s.window) or real(s, b, **kw))
    result = run_sweep(plugin, grid, bars.iloc[:4000], chunk_size=2, deflate=False)
    assert calls == [10, 50]  # window 10 (combos 0, 2, 4), then window 50
    assert result.chunks == 4
    for row in result.table.itertuples(index=False):
        single = load_strategy(plugin, window=row.window, edge=row.edge)
        alone = backtest(bars.iloc[:4000], make_signals(single, prepare(single, bars.iloc[:4000]).ctx))
        assert_same(result.table.loc[row.combo, list(STAT_NAMES)], alone.stats.to_numpy())
    with pytest.raises(ValueError, match="sl is set by momentum's signals, so it cannot be swept"):
        run_sweep(plugin, build_grid(["sl=0.01,0.02"], strategy.params), bars.iloc[:4000])


def test_walk_forward_chooses_in_sample_and_stitches_out_of_sample(bars, sma):
    grid = build_grid(["fast=10,20,40", "slow=60,120"], sma.params)
    result = run_sweep(SMA, grid, bars, walk_forward=3, metric="sharpe", engine=EngineSettings(fee=0.001))
    bounds = [0, 6702, 13404, 20106]
    table = result.table
    assert len(table) == 12 and table[["combo", "fold"]].iloc[:3].values.tolist() == [[0, 1], [0, 2], [1, 1]]
    # in-sample rows are backtests on all bars before the fold
    row = table[(table.combo == 4) & (table.fold == 2)]
    assert_same(row[list(STAT_NAMES)].to_numpy()[0], single_stats(bars.iloc[:13404], 40, 60, fee=0.001))
    wf = result.walk_forward
    chosen = []
    for fold in wf["folds"]:
        ins = table[table.fold == fold["fold"]]
        best = ins.sort_values(["sharpe", "combo"], ascending=[False, True]).iloc[0]
        assert fold["combo"] == best["combo"] and fold["in_sample_sharpe"] == best["sharpe"]
        chosen.append(fold["params"])
    # out of sample: one run from bar 6702 with each fold's choice on its own bars
    target = np.empty(len(bars) - bounds[1])
    for k, params in enumerate(chosen, start=1):
        s = load_strategy(SMA, **params)
        t = make_signals(s, prepare(s, bars).ctx).target.to_numpy()[:, 0]
        target[bounds[k] - bounds[1]:bounds[k + 1] - bounds[1]] = t[bounds[k]:bounds[k + 1]]
    oos = backtest(bars.iloc[bounds[1]:], Signals(target), fee=0.001)
    assert wf["stats"] == pytest.approx(oos.stats.to_dict(), nan_ok=True)
    assert wf["bars"] == len(bars) - bounds[1]
    eq = oos.equity.to_numpy()
    assert wf["folds"][-1]["out_of_sample_return"] == pytest.approx(eq[-1] / eq[bounds[2] - bounds[1] - 1] - 1)
    with pytest.raises(ValueError, match="--walk-forward 1: needs at least 2 folds"):
        run_sweep(SMA, grid, bars, walk_forward=1)


def test_dsr_of_the_best_combination(bars, sma):
    grid = build_grid(["fast=5:25:5", "slow=50:150:50"], sma.params)
    result = run_sweep(SMA, grid, bars, metric="total_return")
    best = result.table.sort_values("total_return", ascending=False).iloc[0]
    assert result.best["combo"] == best["combo"] and isinstance(result.best["fast"], int)
    s = load_strategy(SMA, fast=result.best["fast"], slow=result.best["slow"])
    equity = backtest(bars, make_signals(s, prepare(s, bars).ctx)).equity.to_numpy()
    sr, skew, kurt, n = return_moments(equity / np.r_[100_000.0, equity[:-1]] - 1)
    ppy = 365 * 24
    assert sr * math.sqrt(ppy) == pytest.approx(best["sharpe"], rel=1e-9)
    expected = deflated_sharpe(sr, result.table["sharpe"].to_numpy() / math.sqrt(ppy), n, skew, kurt)
    # the moments come from the simulation pass (power sums), the check's from the equity curve
    assert result.dsr.to_dict() == pytest.approx(expected.to_dict(), rel=1e-9)
    assert result.dsr.trials == 15 and 0 < result.dsr.dsr < 1
    assert result.best["psr"] == pytest.approx(probabilistic_sharpe(sr, 0.0, n, skew, kurt), rel=1e-9)


def test_cli_sweep_json_interrupt_resume_and_errors(tmp_path, monkeypatch):
    runner = CliRunner()
    out = str(tmp_path / "s.parquet")
    args = ["sweep", SMA, "--grid", "fast=5:20:5", "--grid", "slow=30,60", "--grid", "sl=none,0.03",
            "--fee", "0.001", "--chunk-size", "4", "--out", out, "--quiet"]
    with monkeypatch.context() as patched:
        interrupt_after(patched, 1, KeyboardInterrupt)  # Ctrl-C once the first part is stored
        cut = runner.invoke(main, args)
    assert cut.exit_code == 130 and "1 of 4 chunks stored" in cut.output and "--resume" in cut.output
    done = runner.invoke(main, [*args, "--resume", "--json", "--top", "3"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["combinations"] == 16 and report["skipped_chunks"] == 1 and report["computed_chunks"] == 3
    assert len(report["top"]) == 3 and report["top"][0]["combo"] == report["best"]["combo"]
    assert report["dsr"]["trials"] == 16 and report["top"][0]["sl"] in (None, 0.03)
    assert len(pd.read_parquet(out)) == 16  # the directory is a Parquet dataset
    text = runner.invoke(main, ["sweep", SMA, "--grid", "fast=5,10", "--grid", "slow=30,60", "--top", "2"])
    assert text.exit_code == 0 and "top 2 by sharpe" in text.output and "Deflated Sharpe Ratio" in text.output
    for bad, needle in [
        (["--grid", "fast=1,5"], "param fast = 1 is out of range"),
        (["--grid", "fast=5:50"], "a range is start:stop:step"),
        (["--grid", "fast=5,10", "--constraint", "fast <"], "not a valid expression"),
        (["--grid", "fast=10,60", "--grid", "slow=30,60"], "exclude such combinations with --constraint"),
        (["--grid", "fee=0.001,0.002", "--fee", "0.001"], "--fee and --grid fee=...: give one"),
        (["--grid", "fast=5,10", "--metric", "nope"], "--metric 'nope': not a metric"),
        (["--grid", "fast=5,10", "--resume"], "--resume needs --out"),
        (["--grid", "fast=5,10", "--workers", "2"], "need --executor dask"),
        (["--grid", "fast=5", "--grid", "slow=30,60", "--out", out, "--resume"], "grid spec: stored"),
    ]:
        res = runner.invoke(main, ["sweep", SMA, *bad])
        assert res.exit_code == 2, (bad, res.output)
        assert needle in res.output and len(res.output.strip().splitlines()) == 1, (bad, res.output)


def test_sweep_killed_mid_run_resumes_to_the_uninterrupted_table(tmp_path, bars, sma):
    import signal
    import subprocess
    import time

    out = tmp_path / "killed"
    args = ["bt", "sweep", SMA, "--grid", "fast=5:40:5", "--grid", "slow=50:200:10", "--chunk-size", "3",
            "--out", str(out), "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and len(list(out.glob("part-*.parquet"))) < 2:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = SweepStore(out).done()
    assert stored and not SweepStore(out).read_manifest()["complete"]
    done = CliRunner().invoke(main, [*args[1:], "--resume", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["skipped_chunks"] >= len(stored)
    grid = build_grid(["fast=5:40:5", "slow=50:200:10"], sma.params)
    full = run_sweep(SMA, grid, bars, chunk_size=3, deflate=False, engine=engine_settings(sma, {}))  # the plugin's fee
    pd.testing.assert_frame_equal(read_sweep(out), full.table, check_exact=True)


PERSIST = '''
import numpy as np

from mlbt import Signals
from mlbt.strategy.base import Param, Strategy


class Persist(Strategy):
    name = "persist"
    params = {"fast": Param(20, low=2, high=500), "slow": Param(50, low=3, high=2000)}

    def signals(self, ctx, p):
        close = ctx.bars.close
        fast = np.column_stack([close.rolling(int(n)).mean() for n in p.fast[0]])
        slow = np.column_stack([close.rolling(int(n)).mean() for n in p.slow[0]])
        return Signals(np.where(fast > slow, 1.0, -1.0), reentry=REENTRY)
'''


def test_signals_reentry_reaches_sweep_columns_and_walk_forward(tmp_path, bars):
    paths = {}
    for flag in (True, False):
        paths[flag] = tmp_path / f"persist_{flag}.py"
        paths[flag].write_text(PERSIST.replace("REENTRY", str(flag)))
    grid = build_grid(["fast=10,20", "slow=50,80"], load_strategy(paths[True]).params)
    engine = EngineSettings(fee=0.001, sl=0.01)
    on = run_sweep(str(paths[True]), grid, bars, engine=engine, chunk_size=3, deflate=False).table
    off = run_sweep(str(paths[False]), grid, bars, engine=engine, deflate=False).table
    for row in on.itertuples(index=False):
        strategy = load_strategy(paths[True], fast=row.fast, slow=row.slow)
        signals = make_signals(strategy, prepare(strategy, bars).ctx)
        assert signals.reentry is True
        alone = backtest(bars, signals, fee=0.001, sl=0.01)
        assert alone.settings["reentry"] is True
        assert_same(on.loc[row.combo, list(STAT_NAMES)], alone.stats.to_numpy())
    # a stop no longer ends the run of +1s: the persisting signal re-enters, so more trades
    assert (on["trades"] > off["trades"]).all()
    wf_on = run_sweep(str(paths[True]), grid, bars, walk_forward=2, engine=engine).walk_forward
    wf_off = run_sweep(str(paths[False]), grid, bars, walk_forward=2, engine=engine).walk_forward
    assert wf_on["stats"]["trades"] > wf_off["stats"]["trades"]


def test_walk_forward_refuses_folds_that_disagree_on_reentry(tmp_path, bars, monkeypatch):
    from mlbt.sweep import runner

    path = tmp_path / "persist_by_param.py"
    path.write_text(PERSIST.replace("reentry=REENTRY", "reentry=bool(p.fast[0, 0] > 15)"))
    grid = build_grid(["fast=10,20", "slow=50"], load_strategy(path).params)

    def alternate(table, metric, min_trades=0):  # fold 1 picks combo 0 (no reentry), fold 2 combo 1 (reentry)
        descending = "fold" in table.columns and table["fold"].iat[0] == 2
        return table.sort_values("combo", ascending=not descending)

    monkeypatch.setattr(runner, "rank", alternate)
    with pytest.raises(ValueError, match="disagree on Signals.reentry"):
        run_sweep(str(path), grid, bars, walk_forward=3, engine=EngineSettings(fee=0.001, sl=0.01))


def test_switches_and_choices_are_sweep_dimensions_with_a_pass_each(bars, sma):
    # cash_sharing, size_type and insufficient_cash hold for a whole engine pass: the
    # sweep runs a pass per combination of their values, each row equal to its backtest.
    grid = build_grid(["fast=10,20", "slow=50", "size_type=entry_fraction,target_weight", "cash_sharing=false,true",
                       "leverage=1,2"], sma.params)
    assert grid.hash == build_grid(["fast=10,20", "slow=50", "size_type=entry_fraction,target_weight",
                                    "cash_sharing=false,true", "leverage=1,2"], sma.params).hash
    result = run_sweep(SMA, grid, bars, engine=EngineSettings(fee=0.001, size=0.5), chunk_size=5, deflate=False)
    table = result.table
    assert len(table) == 16 and set(table["size_type"]) == {"entry_fraction", "target_weight"}
    for row in table.itertuples(index=False):
        alone = single_stats(bars, row.fast, row.slow, fee=0.001, size=0.5, size_type=row.size_type,
                             cash_sharing=bool(row.cash_sharing), leverage=row.leverage)
        assert_same(np.asarray(row[6:6 + len(STAT_NAMES)], dtype="float64"), alone)
    by = table.set_index(["fast", "size_type", "cash_sharing", "leverage"])["total_return"]
    assert by[(10, "entry_fraction", False, 1.0)] != by[(10, "target_weight", False, 1.0)]  # the choice matters
    with pytest.raises(ValueError, match=r"size_type = 'weights'.*one of 'entry_fraction', 'target_weight'"):
        build_grid(["size_type=weights"], sma.params)


def test_walk_forward_runs_out_of_sample_with_the_engine_s_choices(bars, sma):
    grid = build_grid(["fast=10,20", "slow=60"], sma.params)
    engine = EngineSettings(fee=0.001, size=0.5, size_type="target_weight", cash_sharing=True)  # size: no weight
    wf = run_sweep(SMA, grid, bars, walk_forward=2, engine=engine).walk_forward
    start = 10053
    s = load_strategy(SMA, **wf["folds"][0]["params"])
    target = make_signals(s, prepare(s, bars).ctx).target.to_numpy()[start:, 0]
    oos = backtest(bars.iloc[start:], Signals(target), fee=0.001, size=0.5, size_type="target_weight",
                   cash_sharing=True)
    assert wf["stats"] == pytest.approx(oos.stats.to_dict(), nan_ok=True)
    half = backtest(bars.iloc[start:], Signals(target), fee=0.001, size=0.5)  # entry fractions: half the exposure
    assert wf["stats"]["total_return"] != pytest.approx(half.stats["total_return"])


PER_COLUMN = '''
import numpy as np
from mlbt import Param, Signals, Strategy


class Momentum(Strategy):
    name = "momentum_sl"
    params = {"window": Param(5, low=1, high=100)}

    def signals(self, ctx, p):
        close = ctx.bars.close.to_numpy()[:, None]
        past = np.column_stack([ctx.bars.close.shift(int(w)).to_numpy() for w in p.window[0]])
        return Signals(np.where(close > past, 1.0, -1.0), sl=SL)
'''


def test_a_pass_per_switch_value_splits_the_plugin_s_per_column_fields(tmp_path):
    path = tmp_path / "momentum_sl.py"
    bars = load("synthetic:gbm?bars=30&seed=4&freq=1D")
    # (N,): one stop per column, 20 columns on 30 bars
    path.write_text(PER_COLUMN.replace("SL", "np.linspace(0.01, 0.05, len(p))"))
    grid = build_grid(["window=1:10:1", "cash_sharing=false,true"], load_strategy(path).params)
    table = run_sweep(str(path), grid, bars, chunk_size=20, deflate=False).table
    for row in table.itertuples(index=False):
        strategy = load_strategy(path, window=row.window)
        target = make_signals(strategy, prepare(strategy, bars).ctx).target
        alone = backtest(bars, Signals(target, sl=np.linspace(0.01, 0.05, 20)[row.combo]),
                         cash_sharing=bool(row.cash_sharing)).stats.to_numpy()
        assert_same(np.asarray(row[3:3 + len(STAT_NAMES)], dtype="float64"), alone)
    # 30 columns on 30 bars, walk-forward: the switch's values are per column, not cut to a fold's bars
    path.write_text(PER_COLUMN.replace("SL", "np.linspace(0.01, 0.05, len(p))[None, :]"))
    grid = build_grid(["window=1:15:1", "cash_sharing=false,true"], load_strategy(path).params)
    assert len(grid) == 30 == len(bars)
    table = run_sweep(str(path), grid, bars, walk_forward=3, chunk_size=30, deflate=False).table
    for row in table.itertuples(index=False):
        strategy = load_strategy(path, window=row.window)
        part = bars.iloc[:10 * row.fold]
        target = make_signals(strategy, prepare(strategy, part).ctx).target
        alone = backtest(part, Signals(target, sl=np.linspace(0.01, 0.05, 30)[row.combo]),
                         cash_sharing=bool(row.cash_sharing)).stats.to_numpy()
        assert_same(np.asarray(row[4:], dtype="float64"), alone)


def test_min_trades_ranks_only_active_combinations_and_every_one_stays_a_trial(bars, sma):
    grid = build_grid(["fast=5:50:5", "slow=60:200:20"], sma.params)
    plain = run_sweep(SMA, grid, bars, engine=EngineSettings(fee=0.001))
    floor = int(plain.table["trades"].median())
    kept = run_sweep(SMA, grid, bars, engine=EngineSettings(fee=0.001), min_trades=floor)
    assert kept.best["trades"] >= floor and (kept.top(100)["trades"] >= floor).all()
    assert len(kept.top(1000)) == int((plain.table["trades"] >= floor).sum()) < len(plain.table)
    expected = plain.table[plain.table["trades"] >= floor].sort_values(["sharpe", "combo"], ascending=[False, True])
    assert kept.best["combo"] == int(expected["combo"].iloc[0])
    assert kept.dsr.trials == plain.dsr.trials == int(np.isfinite(plain.table["sharpe"]).sum())  # all are trials
    res = CliRunner().invoke(main, ["sweep", SMA, "--grid", "fast=10,20", "--grid", "slow=60,80", "--min-trades",
                                    "100000", "--quiet"])
    assert res.exit_code == 2 and "--min-trades 100000: no combination has that many trades (the most is" in res.output
