"""HTML reports: structure of the run and sweep pages (every figure present, plotly.js
inlined once, nothing fetched from the network), escaping of every user-controlled
string, the ML panel, save/load round trip, and the ``bt run --report`` / ``bt
report`` / ``bt sweep --report`` commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlbt import backtest, load_strategy
from mlbt.cli import main
from mlbt.data import load
from mlbt.report import load_run, save_run, write_run_report, write_sweep_report
from mlbt.report.html import esc, script_safe
from mlbt.report.rundata import RunData, from_run
from mlbt.report.sweep_figures import SweepData
from mlbt.settings import EngineSettings
from mlbt.strategy.pipeline import make_signals, prepare
from tests.conftest import bt

ROOT = Path(__file__).resolve().parents[2]
SMA = str(ROOT / "strategies/sma_cross.py")
EVIL = "<script>alert(1)</script>"
RUN_FIGURES = ["fig-equity", "fig-drawdown", "fig-price", "fig-monthly", "fig-yearly", "fig-rolling",
               "fig-trade-returns", "fig-exit-reasons"]
ML_FIGURES = ["fig-confusion", "fig-roc", "fig-pred-scatter"]


# -- helpers --------------------------------------------------------------------------

def figure_blocks(text: str) -> dict[str, dict]:
    """fig id -> parsed figure JSON of every embedded figure."""
    found = re.findall(r'<script type="application/json" data-bt-figure="([^"]+)">(.*?)</script>', text, re.S)
    return {k: json.loads(v) for k, v in found}


def outside_plotlyjs(text: str) -> str:
    """The page without the inlined plotly.js bundle (which names URLs of its own
    optional services in code that never runs here)."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    assert text.count(js[:200]) == 1
    start = text.index(js[:200])
    end = start + len(js)
    return text[:start] + text[end:]


def check_page(text: str, figures: list[str]) -> None:
    """Structure every report must have."""
    from plotly.offline import get_plotlyjs

    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count(get_plotlyjs()[:500]) == 1, "plotly.js must be inlined exactly once"
    rest = outside_plotlyjs(text)
    assert not re.search(r"<script[^>]*\ssrc=", rest), "no external scripts"
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", rest), "no network references"
    assert not re.search(r"https?:(//|\\u002f)", rest, re.I), "no URL (https://cdn... or any other)"
    blocks = figure_blocks(text)
    for fig in figures:
        assert fig in blocks, fig
        assert blocks[fig]["data"], f"{fig} has no traces"
        # the div reserves exactly the figure's own height: no blank band under a short figure
        div = re.search(rf'<div class="fig" id="{fig}"(?: style="min-height:(\d+)px")?></div>', text)
        assert div, fig
        height = blocks[fig]["layout"].get("height")
        assert div.group(1) == (str(height) if height else None), (fig, div.group(0), height)
    assert set(blocks) == set(figures), sorted(set(blocks) ^ set(figures))
    divs = re.findall(r'<div class="fig" id="([^"]+)"', text)
    assert sorted(divs) == sorted(blocks), "a figure div without its figure (an empty box on the page)"
    css = text[text.index("<style>"):text.index("</style>")]
    assert not re.search(r"\.fig\{[^}]*height", css), "no fixed height for every figure: each has its own"


@pytest.fixture(scope="module")
def bars(btc_sample):
    return btc_sample  # shared, read-only


def sma_run(bars, **meta) -> RunData:
    strategy = load_strategy(SMA)
    prepared = prepare(strategy, bars)
    result = backtest(bars, make_signals(strategy, prepared.ctx), fee=0.001, sl=0.03, tp=0.06)
    run = from_run(strategy=strategy, bars=bars, result=result, prepared=prepared, ml={}, source="btcusd_1h",
                   symbol=None, engine=EngineSettings(fee=0.001),
                   device="auto")
    run.meta.update(meta)
    return run


def with_model(run: RunData, seed: int = 0) -> RunData:
    """A made-up model on the run's bars: a noisy copy of the next log return, in 3 folds."""
    close = run.close.to_numpy()
    actual = np.r_[np.log(close[1:] / close[:-1]), np.nan]
    rng = np.random.default_rng(seed)
    pred = 0.3 * actual + rng.normal(0, 0.01, len(close))
    pred[:5000] = np.nan
    fold = np.full(len(close), -1.0)
    edges = [5000, 10000, 15000, len(close)]
    folds = []
    for k in range(3):
        fold[edges[k]:edges[k + 1]] = k
        folds.append({"fold": k, "train_start": 0, "train_end": edges[k] - 2, "predict_start": edges[k],
                      "predict_end": edges[k + 1], "n_train": edges[k] - 1, "n_val": 100, "epochs": 3,
                      "best_epoch": 2, "best_loss": 0.5, "seconds": 1.0})
    run.prediction, run.actual, run.fold, run.folds = pred, actual, fold, folds
    run.ml = {"direction_accuracy": 0.55, "mae": 0.01}
    run.meta.update(model="crypto (fast profile)", model_hash="abc123", device="cpu", cache_hit=True)
    return run


# -- run report ----------------------------------------------------------------------

def test_run_report_structure(bars, tmp_path):
    run = sma_run(bars)
    path = write_run_report(run, tmp_path / "run.html")
    text = path.read_text()
    check_page(text, RUN_FIGURES)
    for needle in ("sma_cross", "btcusd_1h", "next_open", "fast=20", run.meta["data_fingerprint"], "bt version",
                   "Worst five drawdowns", "Exit-reason breakdown", "buy &amp; hold", "model hash"):
        assert needle in text, needle
    figs = figure_blocks(text)
    menus = figs["fig-equity"]["layout"]["updatemenus"][0]["buttons"]
    assert [b["args"][0]["yaxis.type"] for b in menus] == ["linear", "log"]
    names = {t["name"] for t in figs["fig-price"]["data"]}
    assert {"close", "long entry", "short entry"} <= names
    assert {n for n in names if n.startswith("exit: ")} >= {"exit: sl", "exit: tp", "exit: signal"}
    assert not list(tmp_path.glob(".*")), "no temporary file left behind"


def test_run_report_ml_panel(bars, tmp_path):
    run = with_model(sma_run(bars))
    text = write_run_report(run, tmp_path / "ml.html").read_text()
    check_page(text, RUN_FIGURES + ML_FIGURES)
    assert "Walk-forward folds" in text and "abc123" in text
    roc = figure_blocks(text)["fig-roc"]
    assert "AUC" in roc["layout"]["title"]["text"]


def test_trades_table_is_capped_and_says_so(bars, tmp_path):
    from mlbt.report.sheet_blocks import MAX_TRADE_ROWS

    strategy = load_strategy(SMA, fast=2, slow=3)
    prepared = prepare(strategy, bars)
    result = backtest(bars, make_signals(strategy, prepared.ctx))
    run = from_run(strategy=strategy, bars=bars, result=result, prepared=prepared, ml={}, source="btcusd_1h",
                   symbol=None, engine=EngineSettings(),
                   device="auto")
    assert len(run.trades) > MAX_TRADE_ROWS
    text = write_run_report(run, tmp_path / "many.html").read_text()
    assert f"First {MAX_TRADE_ROWS} of {len(run.trades):,} trades" in text


def test_long_run_is_downsampled(tmp_path):
    bars = load("synthetic:gbm?bars=200000&seed=3&freq=1min", warn=False)
    strategy = load_strategy(SMA, fast=50, slow=400)
    prepared = prepare(strategy, bars)
    result = backtest(bars, make_signals(strategy, prepared.ctx), fee=0.0005)
    run = from_run(strategy=strategy, bars=bars, result=result, prepared=prepared, ml={}, source="synthetic",
                   symbol=None, engine=EngineSettings(fee=0.0005),
                   device="auto")
    path = write_run_report(run, tmp_path / "long.html")
    text = path.read_text()
    check_page(text, RUN_FIGURES)
    assert "SYNTHETIC" in text
    from plotly.offline import get_plotlyjs

    assert path.stat().st_size - len(get_plotlyjs()) < 3_000_000
    eq = figure_blocks(text)["fig-equity"]["data"][0]
    assert eq["x"]["dtype"] == "f8" and len(eq["x"]["bdata"]) * 3 // 4 // 8 <= 2002


FUNNEL = {"bars": 100, "long": [{"condition": "a > b", "alone": 40, "left": 40},
                                 {"condition": "c", "alone": 70, "left": 25}],
          "short": [{"condition": "a < b", "alone": 60, "left": 60}]}


def test_save_and_load_round_trip(bars, tmp_path):
    run = with_model(sma_run(bars))
    run.funnel = FUNNEL
    save_run(run, tmp_path / "saved")
    back = load_run(tmp_path / "saved")
    assert back.meta == json.loads(json.dumps(run.meta))
    pd.testing.assert_series_equal(back.equity, run.equity, check_names=False, check_freq=False)
    assert len(back.trades) == len(run.trades)
    np.testing.assert_array_equal(back.prediction, run.prediction)
    np.testing.assert_array_equal(back.fold, run.fold)
    assert back.folds == run.folds and back.funnel == FUNNEL
    a = write_run_report(run, tmp_path / "a.html").read_text()
    b = write_run_report(back, tmp_path / "b.html").read_text()
    assert figure_blocks(a).keys() == figure_blocks(b).keys()
    for text in (a, b):  # the funnel section: each condition with its counts, in order
        funnel = text[text.index('id="funnel"'):text.index('id="model"')]
        cells = re.findall(r"<td>([^<]*)</td>", funnel)
        assert cells == ["a &gt; b", "40", "40", "c", "70", "25", "a &lt; b", "60", "60"]
    with pytest.raises(ValueError, match="not a saved bt run"):
        load_run(tmp_path)


# -- escaping -------------------------------------------------------------------------

def test_script_safe_json_cannot_close_a_script():
    s = script_safe(json.dumps({"a": "</script><script>alert(1)</script> & \u2028"}))
    assert "<" not in s and ">" not in s and "&" not in s and "\u2028" not in s
    assert json.loads(s)["a"] == "</script><script>alert(1)</script> & \u2028"
    assert esc('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"


def test_every_run_field_is_escaped(bars, tmp_path):
    run = with_model(sma_run(bars))
    run.meta.update(strategy=EVIL, description=EVIL, params={EVIL: EVIL, "fast": 20}, data=EVIL, symbol=EVIL,
                    start=EVIL, end=EVIL, fill=EVIL, model=EVIL, model_hash=EVIL, device=EVIL,
                    data_fingerprint=EVIL, bt_version=EVIL)
    run.ml = {EVIL: 0.5}
    run.funnel = {"bars": 10, EVIL: [{"condition": EVIL, "alone": 1, "left": 1}]}
    text = write_run_report(run, tmp_path / "evil.html").read_text()
    rest = outside_plotlyjs(text)
    assert EVIL not in rest and "alert(1)</script>" not in rest
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rest
    # the only script elements are ours: error hook, plotly.js, one JSON block per figure, the loader
    n_figs = len(figure_blocks(text))
    assert len(re.findall(r"<script\b", rest)) == 3 + n_figs


def test_every_sweep_field_is_escaped(tmp_path):
    combos = pd.DataFrame({"fast": [5, 10, 5, 10], EVIL: [EVIL, EVIL, "b", "b"], "slow": [20, 20, 40, 40]})
    table = combos.assign(combo=range(4), sharpe=[0.1, 0.5, 0.3, 0.2], total_return=[0.1, 0.2, 0.3, 0.4],
                          max_drawdown=-0.1, trades=10.0)
    data = SweepData(table=table, combos=combos, manifest={"strategy": EVIL, "data": EVIL, "plugin": EVIL,
                                                            "grid": [EVIL], "params": {EVIL: EVIL},
                                                            "engine": {"fee": EVIL}, "bars": 1000,
                                                            "start": "2020-01-01", "end": "2021-01-01"})
    text = write_sweep_report(data, tmp_path / "evil_sweep.html").read_text()
    rest = outside_plotlyjs(text)
    assert EVIL not in rest and "alert(1)</script>" not in rest
    blocks = figure_blocks(text)
    assert any(EVIL in json.dumps(b) for b in blocks.values()), "the name still reaches the figure, as data"


# -- sweep report ---------------------------------------------------------------------

def test_sweep_report_from_folder_and_cli(tmp_path):
    out = tmp_path / "sw"
    runner = CliRunner()
    res = runner.invoke(main, ["sweep", SMA, "--grid", "fast=5:20:5", "--grid", "slow=30:60:10", "--grid",
                               "fee=0.0005,0.001", "--out", str(out), "--report", str(tmp_path / "s1.html"),
                               "--quiet"])
    assert res.exit_code == 0, res.output
    assert (out / "_report.json").is_file()
    text = (tmp_path / "s1.html").read_text()
    figs = ["fig-vs-0", "fig-vs-1", "fig-vs-2", "fig-pair-0", "fig-pair-1", "fig-pair-2", "fig-parcoords",
            "fig-pbo-logits", "fig-pbo-scatter"]
    check_page(text, figs)
    assert "Deflated Sharpe Ratio" in text and "ESTIMATE" not in text
    res = runner.invoke(main, ["report", str(out), "-o", str(tmp_path / "s2.html")])
    assert res.exit_code == 0, res.output
    text2 = (tmp_path / "s2.html").read_text()
    check_page(text2, figs)
    assert "Top 20 by sharpe" in text2
    # without the stored DSR the report computes it from the table's Sharpe and moments
    (out / "_report.json").unlink()
    res = runner.invoke(main, ["report", str(out), "-o", str(tmp_path / "s3.html"), "--metric", "total_return"])
    assert res.exit_code == 0, res.output
    assert "Deflated Sharpe Ratio" in (tmp_path / "s3.html").read_text()
    assert "ESTIMATE" not in (tmp_path / "s3.html").read_text()
    # a table from before bt stored skew and kurtosis: an estimate under normal returns, said so
    from mlbt.report.sweep_figures import estimate_dsr, load_sweep

    data = load_sweep(out)
    frame, manifest = data.table, data.manifest
    exact, moments = estimate_dsr(frame, "sharpe", manifest)
    normal, none = estimate_dsr(frame.drop(columns=["skew", "kurtosis"]), "sharpe", manifest)
    assert moments and not none and normal["skew"] == 0.0 and normal["kurtosis"] == 3.0
    assert exact["skew"] != 0.0 and exact["dsr"] != normal["dsr"] and exact["sharpe"] == normal["sharpe"]


def test_sweep_report_without_out(tmp_path):
    res = CliRunner().invoke(main, ["sweep", SMA, "--grid", "fast=5,10", "--grid", "slow=30,40", "--quiet",
                                    "--report", str(tmp_path / "s.html")])
    assert res.exit_code == 0, res.output
    check_page((tmp_path / "s.html").read_text(), ["fig-vs-0", "fig-vs-1", "fig-pair-0", "fig-pbo-logits",
                                                    "fig-pbo-scatter"])


# -- the command line -----------------------------------------------------------------

def test_bt_run_report_save_and_rebuild(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["run", SMA, "--fee", "0.001", "--report", str(tmp_path / "r.html"), "--save",
                               str(tmp_path / "saved")])
    assert res.exit_code == 0, res.output
    assert "report: " in res.output and "saved: " in res.output
    check_page((tmp_path / "r.html").read_text(), RUN_FIGURES)
    assert {p.name for p in (tmp_path / "saved").iterdir()} == {"result", "run.json", "series.parquet"}
    res = runner.invoke(main, ["report", str(tmp_path / "saved"), "-o", str(tmp_path / "again.html")])
    assert res.exit_code == 0, res.output
    check_page((tmp_path / "again.html").read_text(), RUN_FIGURES)


def test_bt_run_default_report_name_and_json(tmp_path):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path) as cwd:
        res = runner.invoke(main, ["run", SMA, "--quiet"])
        assert res.exit_code == 0, res.output
        made = list(Path(cwd).glob("sma_cross-*.html"))
        assert len(made) == 1 and re.fullmatch(r"sma_cross-\d{8}-\d{6}\.html", made[0].name)
        made[0].unlink()
        res = runner.invoke(main, ["run", SMA, "--json"])  # --json: no report unless asked
        assert res.exit_code == 0 and json.loads(res.stdout)["strategy"] == "sma_cross"
        assert not list(Path(cwd).glob("*.html"))
        res = runner.invoke(main, ["run", SMA, "--no-report"])
        assert res.exit_code == 0 and not list(Path(cwd).glob("*.html"))
        res = runner.invoke(main, ["run", SMA, "--json", "--report", "x.html"])
        assert res.exit_code == 0 and json.loads(res.stdout)["strategy"] == "sma_cross"
        assert Path(cwd, "x.html").is_file()


def test_bt_report_errors_are_one_line(tmp_path):
    out = bt("report", str(tmp_path / "nope"))
    assert out.returncode == 2 and "no such file or directory" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = bt("report", str(tmp_path))
    assert out.returncode == 2 and "neither a saved run" in out.stderr


def test_report_package_imports_no_plotly():
    code = ("import sys, mlbt.report, mlbt.cli.report; "
            "print(sorted(m for m in ('plotly', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_run_without_trades_on_daily_data(tmp_path):
    from mlbt import Signals

    daily = load("spx_vix_1d", warn=False)
    strategy = load_strategy(SMA)
    prepared = prepare(strategy, daily)
    result = backtest(daily, Signals(np.full(len(daily), np.nan)), fill="close")
    run = from_run(strategy=strategy, bars=daily, result=result, prepared=prepared, ml={}, source="spx_vix_1d",
                   symbol=None, engine=EngineSettings(fill="close"), device="auto")
    assert len(run.trades) == 0
    text = write_run_report(run, tmp_path / "flat.html").read_text()
    # no empty axes (a histogram from -100% to 500% with nothing in it): a line saying so
    empty = ["fig-trade-returns", "fig-exit-reasons"]
    check_page(text, [f for f in RUN_FIGURES if f not in empty])
    assert "same bar&#x27;s close (opt-in" in text and "All 0 trades." in text
    for fig in empty:
        assert re.search(rf'<p class="empty-fig" id="{fig}">[^<]*no trades', text, re.I), fig
    assert not any(t.get("type") == "bar" and t.get("name") == "trades"
                   for f in figure_blocks(text).values() for t in f["data"]), "no histogram trace"
    # and no tables of headers alone: the exit reasons and drawdowns say there are none
    assert "No trades to break down by exit reason." in text and "No drawdown: the equity never fell" in text
    assert "Exit-reason breakdown" not in text and "Worst five drawdowns" not in text


# -- layout: what the screenshots showed overlapping or clipped ------------------------

def test_small_figures_put_their_title_below_the_modebar(bars, tmp_path):
    """The narrow figures (confusion, ROC, a sweep's metric-vs-param and heatmaps) are
    titled just above their plot area, under the band where plotly draws its modebar
    (always shown on a touch screen, on hover elsewhere), so the buttons never cover
    the title."""
    from mlbt.report.html import COMPACT_TOP
    from mlbt.report.portfolio_figures import correlation_figure

    text = write_run_report(with_model(sma_run(bars)), tmp_path / "ml.html").read_text()
    res = CliRunner().invoke(main, ["sweep", SMA, "--grid", "fast=5,10", "--grid", "slow=30,40", "--quiet",
                                    "--report", str(tmp_path / "s.html")])
    assert res.exit_code == 0, res.output
    figs = figure_blocks(text) | figure_blocks((tmp_path / "s.html").read_text())
    names = ["BTC", "ETH", "LTC"]
    figs["fig-correlation"] = json.loads(correlation_figure(pd.DataFrame(np.eye(3), names, names)).to_json())
    for fig in ("fig-confusion", "fig-roc", "fig-vs-0", "fig-vs-1", "fig-pair-0", "fig-correlation", "fig-pbo-logits",
                "fig-pbo-scatter"):
        layout = figs[fig]["layout"]
        title = layout["title"]
        assert (title["yref"], title["y"], title["yanchor"]) == ("paper", 1, "bottom"), fig
        assert layout["margin"]["t"] >= COMPACT_TOP >= 60, fig  # the modebar is about 30 px high
        assert layout["margin"]["t"] - layout["height"] < 0 and title["pad"]["b"] > 0, fig
    legend = figs["fig-vs-0"]["layout"]["legend"]  # at the foot, clear of the x-axis title
    assert (legend["yref"], legend["y"]) == ("container", 0)


def test_long_params_wrap_inside_the_page(bars, tmp_path):
    run = sma_run(bars)
    run.meta["params"] = {f"param_{k}_with_a_long_name": "x" * 20 for k in range(30)}
    text = write_run_report(run, tmp_path / "long.html").read_text()
    css = text[text.index("<style>"):text.index("</style>")]
    rule = re.search(r"\.kv td\+td\{([^}]*)\}", css)
    assert rule and "white-space:normal" in rule.group(1) and "overflow-wrap:anywhere" in rule.group(1)
    head = text[:text.index("<h2")]
    cell = re.search(r'<table class="kv">.*?<td>params</td><td>(param_0_with[^<]*)</td>', head)
    assert cell and len(cell.group(1)) > 1000  # the value cell of a kv table: the rule above applies


def test_right_axes_have_room_for_their_ticks_and_title():
    """Rolling volatility and leverage on a right axis: the margin grows to fit the tick
    labels (automargin) and the title stands off them."""
    from mlbt.report import portfolio_figures as pf
    from mlbt.report import run_figures as rf

    idx = pd.date_range("2020-01-01", periods=50, freq="D")
    rolling = pd.DataFrame({"sharpe": np.linspace(-5, 10, 50), "volatility": np.linspace(0.2, 0.7, 50)}, index=idx)
    gross = pd.Series(np.linspace(1, 3, 50), index=idx)
    for fig in (rf.rolling_figure(rolling, 20), pf.exposure_figure(gross, gross / 2)):
        layout = fig.to_plotly_json()["layout"]
        for axis in ("yaxis", "yaxis2"):
            assert layout[axis]["automargin"] is True and layout[axis]["title"]["standoff"] > 0, axis
        assert layout["yaxis2"]["side"] == "right" and layout["margin"]["r"] >= 60


def test_heatmap_axes_fit_their_labels():
    from mlbt.report.sweep_figures import heatmap_figure

    frame = pd.DataFrame({"fast": np.repeat([5, 10], 20), "fee": np.tile(np.arange(1, 21) * 1e-4, 2)})
    frame["sharpe"] = np.arange(len(frame), dtype="float64")
    layout = heatmap_figure(frame, "fast", "fee", "sharpe").to_plotly_json()["layout"]
    for axis in ("xaxis", "yaxis"):
        assert layout[axis]["automargin"] is True and layout[axis]["title"]["standoff"] > 0, axis


def test_entries_stay_visible_on_one_bar_trades():
    """A trade that exits on the bar after its entry (or the same one): its exit ring is
    drawn first and wider than the entry triangle drawn over it, so both show, and the
    hover of either names both ends."""
    from mlbt.report.run_figures import price_figure

    idx = pd.date_range("2021-01-01", periods=10, freq="h", tz="UTC")
    close = pd.Series(np.linspace(100, 110, 10), index=idx)
    trades = pd.DataFrame({"side": ["long", "short", "long"], "entry_time": idx[[1, 4, 7]],
                           "entry_price": [101.0, 104.0, 107.0], "exit_time": idx[[2, 4, 9]],
                           "exit_price": [101.5, 104.2, np.nan], "is_open": [False, False, True],
                           "exit_reason": pd.Categorical(["tp", "sl", "end"]),
                           "return": [0.005, -0.002, np.nan]})
    data = price_figure(close, trades).to_plotly_json()["data"]
    names = [t["name"] for t in data]
    entries = [i for i, n in enumerate(names) if n.endswith(" entry")]
    exits = [i for i, n in enumerate(names) if n.startswith("exit: ")]
    assert len(entries) == 2 and len(exits) == 2 and min(entries) > max(exits), names
    for i in entries:
        assert data[i]["marker"]["symbol"].startswith("triangle")
        for j in exits:
            assert data[j]["marker"]["symbol"] == "circle-open"
            assert data[j]["marker"]["size"] > data[i]["marker"]["size"]
    long_entry, tp = data[names.index("long entry")], data[names.index("exit: tp")]
    assert [list(r) for r in long_entry["customdata"]] == [
        ["entry", "long", "2021-01-01 01:00 at 101", "2021-01-01 02:00 at 101.5 (tp)"],
        ["entry", "long", "2021-01-01 07:00 at 107", "still open"]]
    assert [list(r) for r in tp["customdata"]] == [["exit", "long", "2021-01-01 01:00 at 101",
                                                    "2021-01-01 02:00 at 101.5 (tp)"]]
    assert "exit" in long_entry["hovertemplate"] and "entry" in long_entry["hovertemplate"]


def test_buy_and_hold_column_is_the_engine_on_a_held_long(bars):
    """The buy-and-hold column and curve come from the engine itself (a +1 target filled
    at the first close, no fees): its total return is the engine's buy_hold_return and
    its curve is cash x close / first close."""
    from mlbt.report import analytics

    run = sma_run(bars)
    held = analytics.buy_and_hold(run.close, 100_000.0, run.meta["ppy"])
    assert held.stats["total_return"] == pytest.approx(run.stats["buy_hold_return"], rel=1e-12)
    assert held.stats["trades"] == 1 and held.stats["exposure"] == 1.0 and held.stats["fees_paid"] == 0.0
    close = run.close.to_numpy()
    np.testing.assert_allclose(held.equity.to_numpy(), 100_000.0 * close / close[0], rtol=1e-12)


def test_report_dsr_from_a_stored_sweep_equals_the_sweeps_own(tmp_path):
    from mlbt.report.sweep_figures import estimate_dsr, load_sweep
    from mlbt.sweep import build_grid, run_sweep

    bars = load("btcusd_1h", warn=False).iloc[:6000]
    grid = build_grid(["fast=5,10,20", "slow=30,60"], load_strategy(SMA).params)
    result = run_sweep(SMA, grid, bars, out=tmp_path / "sw", engine=EngineSettings(periods_per_year=252))
    data = load_sweep(tmp_path / "sw")
    assert data.manifest["periods_per_year"] == 252
    d, exact = estimate_dsr(data.table, "sharpe", data.manifest)
    assert exact and d == pytest.approx(result.dsr.to_dict(), rel=1e-12)
    # a manifest from before the annualization was stored: the dates give ppy, an estimate
    old = {k: v for k, v in data.manifest.items() if k != "periods_per_year"}
    guess, exact = estimate_dsr(data.table, "sharpe", old)
    assert not exact and guess["sharpe"] != pytest.approx(d["sharpe"], rel=0.1)


def test_ensemble_probabilities_reach_the_ml_panel(bars, tmp_path):
    """An ensemble's members (prediction_0..2, probabilities of "up") against 0/1 labels:
    the panel shows their mean as the score 2p - 1 against +1/-1, so the confusion
    matrix splits at p = 0.5 and the ROC ranks by p."""
    strategy = load_strategy(SMA)
    prepared = prepare(strategy, bars)
    close = bars["close"].to_numpy()
    up = np.r_[(close[5:] > close[:-5]).astype("float64"), np.full(5, np.nan)]
    rng = np.random.default_rng(1)
    members = np.clip(0.5 + 0.1 * (np.nan_to_num(up)[:, None] - 0.5) + rng.normal(0, 0.1, (len(close), 3)), 0, 1)
    members[:5000] = np.nan
    prepared.ctx.predictions = pd.DataFrame({"fold": np.where(np.arange(len(close)) >= 5000, 0.0, -1.0),
                                             **{f"prediction_{k}": members[:, k] for k in range(3)}},
                                            index=bars.index)
    prepared.model = {"network": "attention_ensemble", "profile": "fast"}
    strategy.labels = lambda ctx: up
    result = backtest(bars, make_signals(strategy, prepared.ctx))
    run = from_run(strategy=strategy, bars=bars, result=result, prepared=prepared, ml={}, source="btcusd_1h",
                   symbol=None, engine=EngineSettings(), device="cpu")
    np.testing.assert_allclose(run.prediction, 2 * members.mean(axis=1) - 1)
    assert run.has_model and set(np.unique(run.actual[np.isfinite(run.actual)])) == {-1.0, 1.0}
    text = write_run_report(run, tmp_path / "ensemble.html").read_text()
    check_page(text, RUN_FIGURES + ML_FIGURES)
    assert "down" in json.dumps(figure_blocks(text)["fig-confusion"]["data"])


def test_the_exit_reason_table_counts_liquidations():
    from mlbt.report.run_figures import exit_reason_table

    trades = pd.DataFrame({"exit_reason": pd.Categorical(["signal", "liquidation", "liquidation", "sl"]),
                           "pnl": [10.0, -50.0, -30.0, -5.0], "return": [0.1, -0.5, -0.3, -0.05]})
    table = exit_reason_table(trades).set_index("reason")
    assert table.loc["liquidation", "trades"] == 2 and table.loc["liquidation", "pnl"] == -80.0
    assert table["trades"].sum() == 4 and table["share"].sum() == pytest.approx(1.0)
