"""``bt train --cv purged-kfold``: the table per (choice, fold), the best choice, the
cache on a second run, the JSON document, and one-line refusals."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import bt

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LSTM = "strategies/crypto_lstm.py"
TINY = ["--start", "2018-01-01", "--end", "2018-02-10", "--set", "epochs=1", "--set", "lookback=20",
        "--device", "cpu", "--quiet"]


def bt_env(tmp_path, *args):
    return bt(*args, env=dict(os.environ, BT_CACHE_DIR=str(tmp_path)))


def test_table_per_choice_and_fold_then_from_cache(tmp_path):
    args = ["train", LSTM, "--cv", "purged-kfold", "--folds", "3", "--grid", "lookback=12,20", *TINY]
    first = bt_env(tmp_path, *args)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("crypto_lstm on btcusd_1h: 984 bars 2018-01-01 00:00:00+00:00 .. 2018-02-10")
    assert "purged 3-fold cross-validation (label horizon 1 bar, embargo 10 bars)" in lines[1]
    assert "ranked by the mean direction_accuracy (higher is better)" in lines[1]
    header = lines[2].split()
    assert header[:9] == ["choice", "lookback", "fold", "test", "bars", "train", "purged", "embargoed",
                          "direction_accuracy"]
    rows = [line.split() for line in lines[3:11]]
    assert [r[:3] for r in rows] == [["1", "12", "1"], ["1", "12", "2"], ["1", "12", "3"], ["1", "12", "mean"],
                                     ["2", "20", "1"], ["2", "20", "2"], ["2", "20", "3"], ["2", "20", "mean"]]
    # lookback 12: the first full window of features ends at bar 60, so 923 samples (bars 60..982; the last
    # bar has no label) in folds of 308, 308, 307; embargo ceil(1% of 923) = 10; fold 1 purges bar 368 only
    assert rows[0][3:7] == ["60..367", "604", "1", "10"]  # test bars, train = 923 - 308 - 1 - 10, purged, embargoed
    assert rows[1][3:7] == ["368..675", "603", "2", "10"]  # purged 367 and 676
    assert rows[2][6] == "0"  # nothing after the last fold to embargo
    assert sum("best" in line for line in lines[3:11]) == 1 and all("trained" in lines[i] for i in (6, 10))
    assert lines[11].startswith("best: choice ") and "(mean ± std over 3 folds)" in lines[11]
    assert lines[12] == f"2 trained, 0 from cache, in {tmp_path / 'cv'}"
    assert len(list((tmp_path / "cv").iterdir())) == 2

    again = bt_env(tmp_path, *args)
    assert again.returncode == 0, again.stderr
    def words(text):
        return [" ".join(line.split()) for line in text.splitlines()]

    assert words(again.stdout)[:12] == [line.replace(" trained", " from cache") for line in words(first.stdout)[:12]]
    assert again.stdout.splitlines()[12] == f"0 trained, 2 from cache, in {tmp_path / 'cv'}"


def test_json_document(tmp_path):
    out = bt_env(tmp_path, "train", LSTM, "--cv", "purged-kfold", "--folds", "2", "--embargo", "5", "--json",
                 *TINY)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"strategy", "data", "synthetic", "bars", "start", "end", "cv", "cache", "choices", "best"}
    assert doc["cv"] == {"method": "purged-kfold", "folds": 2, "metric": "direction_accuracy",
                         "higher_is_better": True}
    (choice,) = doc["choices"]
    assert choice["params"] == {} and (choice["horizon"], choice["embargo"]) == (1, 5)
    assert choice["cache_hit"] is False
    assert [f["fold"] for f in choice["folds"]] == [1, 2]
    first, second = choice["folds"]
    assert set(first) == {"fold", "test_start_bar", "test_end_bar", "test_start", "test_end", "n_test", "n_train",
                          "n_val", "n_purged", "n_embargoed", "epochs", "best_epoch", "seconds", "metrics"}
    assert second["test_start_bar"] == first["test_end_bar"] + 1
    assert (first["n_purged"], first["n_embargoed"], second["n_purged"], second["n_embargoed"]) == (1, 5, 1, 0)
    assert first["n_train"] == second["n_test"] - 6 and second["n_train"] == first["n_test"] - 1
    assert set(first["metrics"]) == {"threshold_crossed", "direction_accuracy", "change_correlation", "mae", "mse"}
    assert set(choice["mean"]) == set(choice["std"]) == set(first["metrics"])
    assert doc["best"] == {"choice": 1, "params": {}, "mean": choice["mean"], "std": choice["std"]}


@pytest.mark.parametrize(("args", "message"), [
    (("--cv", "purged-kfold", "--folds", "1"), "--folds 1: a purged k-fold needs at least 2 folds"),
    (("--cv", "purged-kfold", "--embargo", "-2"), "--embargo -2: give a number of bars >= 0"),
    (("--folds", "3"), "--folds needs --cv purged-kfold"),
    (("--grid", "lookback=10,20"), "--grid needs --cv purged-kfold"),
    (("--cv", "purged-kfold", "--symbols", "BTC,ETH"), "cross-validates one instrument; give --symbol"),
    (("--cv", "purged-kfold", "--grid", "atr_mult=0.1,0.2"), "'atr_mult' is not a model param of crypto_lstm"),
    (("--cv", "purged-kfold", "--grid", "lookback=1,20"), "out of range"),
    (("--cv", "purged-kfold", "--metric", "sharpe", "--folds", "2"), "--metric 'sharpe': not an out-of-sample"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    out = bt_env(tmp_path, "train", LSTM, *args, *TINY)
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr, out.stderr
    assert out.stdout == ""
