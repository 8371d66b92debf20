"""The one progress display: fed by the library's logging (never prints), bars on a
terminal, milestone lines off one, silent with --quiet and in non-terminal --json runs."""

from __future__ import annotations

import io
import json
import logging

from mlbt.cli.progress import ProgressDisplay, reporting
from tests.conftest import bt

TINY = ["--start", "2018-01-01", "--end", "2018-02-20", "--set", "epochs=2", "--set", "min_train=500",
        "--set", "retrain_every=300", "--set", "lookback=20", "--no-report"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def steps(logger: logging.Logger, task: str, total: int, line: bool = True) -> None:
    for done in range(1, total + 1):
        logger.info(f"{task}: step {done}", extra={"progress": {"task": task, "done": done, "total": total,
                                                                "line": line}})


def test_a_terminal_gets_bars_with_steps_and_an_eta():
    stream = Terminal()
    handler = ProgressDisplay(stream)
    logger = logging.getLogger("mlbt.test.progress.tty")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("training fold 1/2", extra={"progress": {"task": "training fold 1/2", "done": 1, "total": 3}})
        assert handler.progress is not None and len(handler.tasks) == 1   # a live bar while the task runs
        handler.progress.refresh()
        text = stream.getvalue()
        assert "training fold 1/2" in text and "1/3" in text and "eta" in text
        logger.info("a line between steps")
        steps(logger, "training fold 1/2", 3)
        assert handler.progress is None and not handler.tasks             # the bar goes when its task ends
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert "a line between steps" in stream.getvalue()


def test_off_a_terminal_only_milestones_are_lines():
    stream = io.StringIO()
    handler = ProgressDisplay(stream)
    logger = logging.getLogger("mlbt.test.progress.pipe")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        steps(logger, "sweep", 4)
        steps(logger, "epochs", 5, line=False)
        logger.info("walk-forward fold 1/1: trained")
        logger.warning("zero-volume bars")
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert stream.getvalue().splitlines() == ["sweep: step 4", "walk-forward fold 1/1: trained",
                                              "warning: zero-volume bars"]


def test_quiet_keeps_only_warnings(capsys):
    logger = logging.getLogger("mlbt.test.progress.quiet")
    with reporting(quiet=True):
        steps(logger, "sweep", 2)
        logger.warning("kept")
    assert capsys.readouterr().err.splitlines() == ["warning: kept"]


def test_commands_show_training_progress_and_json_runs_stay_silent(tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    shown = bt("run", "strategies/crypto_lstm.py", *TINY, *cache)
    assert shown.returncode == 0, shown.stderr
    assert "walk-forward fold 1/" in shown.stderr and "epoch 1/2" not in shown.stderr   # milestones, not epochs
    machine = bt("run", "strategies/crypto_lstm.py", *TINY, *cache, "--retrain", "--json")
    assert machine.returncode == 0, machine.stderr
    json.loads(machine.stdout)                                                        # one clean document
    assert "walk-forward fold" not in machine.stderr and "training" not in machine.stderr
    sweep = bt("sweep", "strategies/sma_cross.py", "--grid", "fast=5,10", "--grid", "slow=20,40", "--json")
    assert sweep.returncode == 0 and "sweep:" not in sweep.stderr
    json.loads(sweep.stdout)
    lines = bt("sweep", "strategies/sma_cross.py", "--grid", "fast=5,10", "--grid", "slow=20,40")
    assert "sweep: 1/1 chunks, 4/4 combinations" in lines.stderr
