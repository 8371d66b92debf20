"""Result round trip: a saved run reads back the same, and a run saved before the trade
records were named (a float matrix with columns "0".."11") still reads."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlbt import Result, Signals, backtest


def test_saved_results_read_back_also_from_the_float_matrix_format(tmp_path, btc):
    bars = btc.iloc[:3000]
    target = np.sign(np.sin(np.arange(len(bars)) / 40.0))
    result = backtest(bars, Signals(target, sl=0.02, tp=0.05), fee=0.001)
    assert len(result.trades) > 10
    result.to_parquet(tmp_path / "run")
    again = Result.read(tmp_path / "run")
    pd.testing.assert_frame_equal(again.trades, result.trades)
    pd.testing.assert_series_equal(again.stats, result.stats)
    # the format of earlier releases: one float64 column per field, named by position,
    # the twelve fields of then (no funding column: it reads back as 0, as this run paid)
    records = result._trades
    fields = ("col", "side", "entry_bar", "exit_bar", "units", "entry_price", "exit_price", "entry_fee", "exit_fee",
              "pnl", "return", "reason")
    legacy = pd.DataFrame(np.column_stack([records[name].astype("float64") for name in fields]))
    legacy.rename(columns=str).to_parquet(tmp_path / "run" / "trades.parquet")
    pd.testing.assert_frame_equal(Result.read(tmp_path / "run").trades, result.trades)
