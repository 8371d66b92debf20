"""The tearsheets show ``ml.skill`` (mlbt.models.skill) as an "Is it skill?" table of its
own, never as a raw dict in the metrics table, and a saved run keeps it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mlbt.models.skill import classification_skill, regression_skill
from mlbt.report import load_run, save_run, write_run_report
from mlbt.report.html import esc
from mlbt.report.portfolio_sheet import _model_section
from tests.report.test_tearsheet import sma_run, with_model


@pytest.fixture(scope="module")
def bars(btc_sample):
    return btc_sample  # shared, read-only


def test_run_tearsheet_has_the_skill_table_and_a_saved_run_keeps_it(bars, tmp_path):
    run = with_model(sma_run(bars))
    close = run.close.to_numpy()
    run.ml["skill"] = skill = regression_skill(close * np.exp(run.prediction), close, np.r_[close[1:], np.nan])
    text = write_run_report(run, tmp_path / "run.html").read_text()
    assert "Is it skill?" in text and "Diebold-Mariano" in text and esc(skill["verdict"]) in text
    assert "R² out of sample vs the baseline" in text and "{&#x27;test" not in text
    save_run(run, tmp_path / "saved")
    back = load_run(tmp_path / "saved")
    assert back.ml["skill"]["verdict"] == skill["verdict"] and back.ml["skill"]["p_value"] == skill["p_value"]
    assert "Is it skill?" in write_run_report(back, tmp_path / "again.html").read_text()


def test_portfolio_model_section_has_a_skill_row_per_asset():
    y = np.tile([1.0, 0.0, 1.0], 20)
    ml = {"BTC": {"accuracy": 0.6, "skill": classification_skill(y, y)}, "ETH": {"accuracy": 0.5}}
    section = _model_section(SimpleNamespace(ml=ml, meta={}))
    html = "".join(b.html for b in section.items)
    assert "Is it skill?" in html and "binomial (accuracy vs majority rate)" in html and "skill at 5%" in html
    assert "<th>skill</th>" not in html and "{&#x27;" not in html
