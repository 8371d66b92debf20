"""RunData: everything a run tearsheet shows, gathered once from a finished ``bt run``
and stored beside the Result so ``bt report DIR`` can rebuild the page.

Saved layout (``save_run``; the directory is written under a temporary name and
renamed into place, so it exists whole or not at all):

    DIR/result/       Result.to_parquet (equity, trades, stats, settings)
    DIR/run.json      header and manifest: strategy, params, data source and range,
                      fees, fill, cash, bt version, data fingerprint, model hash,
                      device, ML metrics, walk-forward folds
    DIR/series.parquet  per bar: close (a universe: ``close:ASSET`` per asset), and
                      when a single-asset strategy has a model the
                      prediction, the actual value it predicts (the label) and the fold
                      (an ensemble's prediction is its members' mean; a probability
                      of "up" against 0/1 labels is stored as the score 2p - 1 against
                      +1/-1, the form of a signed forecast)
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlbt.data import fingerprint
from mlbt.data.universe import assets, is_universe
from mlbt.io import building_dir, json_safe, plain
from mlbt.sim import Result
from mlbt.strategy import is_pooled

RUN_JSON = "run.json"
SERIES = "series.parquet"
RESULT = "result"
FORMAT = "bt-run-v1"
CLOSE_OF = "close:"  # series.parquet column prefix of a universe asset's close
TWINS_OF = "twins:"  # series.parquet column prefix of the twins' equity band (p5, p50, p95)


@dataclass
class RunData:
    """A run for the tearsheet.

    meta: header fields (strategy, description, params, data, symbol, synthetic,
    bars, start, end, fee, fixed_fee, slippage, fill, cash, ppy, bt_version,
    data_fingerprint, model_hash, device, model, cache_hit), every value JSON-able.
    equity: account value per bar (one column; a universe: its first group, the
    portfolio of the first parameter combination). close: the bars' close (a
    universe: a frame with a column per asset). trades: Result.trades of that column
    or group. stats: the engine's metrics.
    ml: the strategy's ml_metrics (a universe: per asset). folds: walk-forward fold
    records (a universe: each with its ``asset``). funnel: the
    signal funnel (``mlbt.strategy.funnel.signal_funnel``; empty when the strategy declares
    no conditions).
    prediction / actual / fold: per-bar model output, the label it predicts and the
    fold that made it (None for a model-free strategy).
    twins: ``bt run --twins``'s summary (``mlbt.strategy.Twins.to_dict()``; empty without
    twins) and twins_band: the twins' account value percentiles (columns p5, p50, p95)
    at the bars where they were kept.
    """

    meta: dict[str, Any]
    equity: pd.Series
    close: pd.Series | pd.DataFrame
    trades: pd.DataFrame
    stats: dict[str, float]
    ml: dict[str, Any] = field(default_factory=dict)
    folds: list[dict[str, Any]] = field(default_factory=list)
    funnel: dict[str, Any] = field(default_factory=dict)
    prediction: np.ndarray | None = None
    actual: np.ndarray | None = None
    fold: np.ndarray | None = None
    result: Any = None  # the engine Result, when at hand (saved with save_run)
    twins: dict[str, Any] = field(default_factory=dict)
    twins_band: pd.DataFrame | None = None

    @property
    def has_model(self) -> bool:
        return self.prediction is not None and bool(np.isfinite(self.prediction).any())

    @property
    def is_universe(self) -> bool:
        """A portfolio over several assets (``close`` has a column per asset)."""
        return isinstance(self.close, pd.DataFrame)

    def portfolio_columns(self) -> np.ndarray:
        """The signal columns of the shown group (a universe's first), in asset order."""
        return np.flatnonzero(np.asarray(self.result.group_of) == 0)


def bt_version() -> str:
    """The installed bt-backtest distribution's version ('unknown' when not installed)."""
    try:
        return version("bt-backtest")
    except PackageNotFoundError:
        return "unknown"


def resolved_device(device: str, has_model: bool) -> str:
    """The device a run used: 'none' without a model; 'auto' resolved to cuda/cpu
    (torch is only consulted when it is already loaded, as it is after a model ran)."""
    if not has_model:
        return "none"
    if device != "auto":
        return device
    torch = sys.modules.get("torch")
    return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"


def _first_column(obj: Any) -> Any:
    return obj.iloc[:, 0] if isinstance(obj, pd.DataFrame) else obj


def _label_array(strategy: Any, ctx: Any) -> np.ndarray | None:
    """The strategy's labels as one float array (the first component of a tuple or
    of a 2-D label), or None when it has none."""
    try:
        y = strategy.labels(ctx)
    except NotImplementedError:
        return None
    if isinstance(y, tuple | list) and len(y) and np.ndim(y[0]) >= 1:
        y = y[0]
    y = np.asarray(y, dtype="float64")
    return y[:, 0] if y.ndim == 2 else y


def _prediction_array(preds: pd.DataFrame) -> np.ndarray | None:
    """The model's per-bar output as one float array: the ``prediction`` column; for an
    ensemble (``prediction_0``, ``prediction_1``, ...) the members' mean, the ensemble's
    probability; for a classifier (``logits_*``) the predicted class index."""
    if "prediction" in preds.columns:
        return preds["prediction"].to_numpy(dtype="float64")
    members = preds.filter(regex=r"^prediction_\d+$")
    if members.shape[1]:
        return members.to_numpy(dtype="float64").mean(axis=1)
    logits = [c for c in preds.columns if c.startswith("logits_")]
    if not logits:
        return None
    arr = preds[logits].to_numpy(dtype="float64")
    ok = np.isfinite(arr).all(axis=1)
    return np.where(ok, np.nanargmax(np.where(ok[:, None], arr, 0.0), axis=1), np.nan)


def _is_probability(pred: np.ndarray, actual: np.ndarray) -> bool:
    """A probability of "up" against 0/1 labels (not class indices: those are whole)."""
    p, a = pred[np.isfinite(pred)], actual[np.isfinite(actual)]
    return bool(len(p) and len(a) and np.isin(a, (0.0, 1.0)).all() and (p >= 0).all() and (p <= 1).all()
                and not np.isin(p, (0.0, 1.0)).all())


def from_run(*, strategy: Any, bars: pd.DataFrame, result: Any, prepared: Any, ml: dict, source: str,
             symbol: str | None, engine: Mapping[str, Any], device: str,
             funnel: dict[str, Any] | None = None, allocation: str | None = None,
             notes: list[str] | None = None, twins: Any = None) -> RunData:
    """RunData of a finished ``bt run`` (the first column when the plugin emits several);
    ``engine``: the run's engine settings (``mlbt.settings.EngineSettings``). Over a
    universe (bars with (field, asset) columns) ``prepared`` maps each asset to its
    Prepared (None: flat) and ``ml``/``funnel`` are per asset. ``twins``: the run's
    ``mlbt.strategy.Twins`` (None: none)."""
    if is_universe(bars):
        return _from_universe_run(strategy=strategy, bars=bars, result=result, prepared=prepared, ml=ml,
                                  source=source, engine=engine, device=device, allocation=allocation, notes=notes)
    equity = _first_column(result.equity)
    trades = result.trades
    if len(result.columns) > 1:
        trades = trades[trades["col"] == 0].reset_index(drop=True)
    stats = result.stats.iloc[0] if result.stats.ndim == 2 else result.stats
    pred = actual = fold = None
    preds = prepared.ctx.predictions
    if preds is not None:
        pred = _prediction_array(preds)
        actual = _label_array(strategy, prepared.ctx)
        if pred is not None and actual is not None and _is_probability(pred, actual):
            pred, actual = 2.0 * pred - 1.0, 2.0 * actual - 1.0  # a score centred on 0 against +1/-1
        if "fold" in preds.columns:
            fold = preds["fold"].to_numpy(dtype="float64")
    has_model = prepared.model is not None
    meta = {
        **_meta(strategy, bars, result, source, engine), "symbol": symbol,
        "model_hash": prepared.cache_key if has_model else None, "device": resolved_device(device, has_model),
        "model": (f"{prepared.model['network']} ({prepared.model['profile']} profile)" if has_model else None),
        "cache_hit": prepared.cache_hit, "notes": list(notes or []),
    }
    return RunData(meta=meta, equity=equity, close=bars["close"], trades=trades,
                   stats={k: plain(v) for k, v in stats.items()}, ml={k: plain(v) for k, v in (ml or {}).items()},
                   folds=[{k: plain(v) for k, v in f.items()} for f in prepared.folds], funnel=dict(funnel or {}),
                   prediction=pred, actual=actual, fold=fold, result=result,
                   twins=twins.to_dict() if twins is not None else {},
                   twins_band=twins.band if twins is not None else None)


def _meta(strategy: Any, bars: pd.DataFrame, result: Any, source: str, engine: Mapping[str, Any]) -> dict[str, Any]:
    """The header fields every run has."""
    return {
        "format": FORMAT, "strategy": strategy.name, "description": getattr(strategy, "description", ""),
        "params": dict(strategy.values), "data": source,
        "synthetic": bool(bars.attrs.get("synthetic")), "bars": len(bars), "start": str(bars.index[0]),
        "end": str(bars.index[-1]), "engine": dict(engine), "fee": engine["fee"], "fixed_fee": engine["fixed_fee"],
        "slippage": engine["slippage"], "fill": engine["fill"], "cash": engine["cash"],
        "ppy": float(result.settings.get("periods_per_year") or math.nan),
        "bt_version": bt_version(), "data_fingerprint": fingerprint(bars),
    }


def _from_universe_run(*, strategy: Any, bars: pd.DataFrame, result: Any, prepared: Mapping[str, Any], ml: dict,
                       source: str, engine: Mapping[str, Any], device: str, allocation: str | None,
                       notes: list[str] | None = None) -> RunData:
    """RunData of a plugin over a universe: the first group (the first parameter
    combination's portfolio); the models' fields per asset."""
    ready = {a: p for a, p in prepared.items() if p is not None and p.model is not None}
    first = next(iter(ready.values()), None)
    hits = {p.cache_hit for p in ready.values()}
    meta = {
        **_meta(strategy, bars, result, source, engine), "symbol": None, "symbols": [str(a) for a in assets(bars)],
        "allocation": allocation, "flat_assets": [str(a) for a, p in prepared.items() if p is None],
        "model_hash": {str(a): p.cache_key for a, p in ready.items()} or None,
        "device": resolved_device(device, bool(ready)),
        "model": (f"{first.model['network']} ({first.model['profile']} profile), "
                  + ("one pooled over every asset" if is_pooled(strategy) else "one per asset")) if first else None,
        "cache_hit": None if not hits else (False not in hits), "notes": list(notes or []),
    }
    trades = result.trades
    if len(result.groups) > 1:
        trades = trades[trades["group"] == result.groups[0]].reset_index(drop=True)
    stats = result.stats.iloc[0] if result.stats.ndim == 2 else result.stats
    folds = [{"asset": str(a), **{k: plain(v) for k, v in f.items()}} for a, p in ready.items() for f in p.folds]
    return RunData(meta=meta, equity=_first_column(result.equity), close=bars["close"], trades=trades,
                   stats={k: plain(v) for k, v in stats.items()},
                   ml={str(a): {k: plain(v) for k, v in m.items()} for a, m in (ml or {}).items()}, folds=folds,
                   result=result)


def save_run(run: RunData, path: str | os.PathLike) -> Path:
    """Write ``run`` (which must carry its Result) to the directory ``path``, replacing
    an earlier saved run there (any other non-empty path is refused: FileExistsError);
    atomic: built under a temporary name, then renamed."""
    if run.result is None:
        raise ValueError("save_run: this RunData has no Result to save")
    path = Path(path)
    with building_dir(path, RUN_JSON, "saved bt run") as tmp:
        run.result.to_parquet(tmp / RESULT)
        body = {"meta": run.meta, "stats": run.stats, "ml": run.ml, "folds": run.folds, "funnel": run.funnel,
                "twins": run.twins}
        (tmp / RUN_JSON).write_text(json.dumps(json_safe(body), indent=1, default=str))
        if run.is_universe:
            series = pd.DataFrame(run.close.to_numpy(dtype="float64"), index=run.close.index,
                                  columns=[f"{CLOSE_OF}{a}" for a in run.close.columns])
        else:
            series = pd.DataFrame({"close": run.close.to_numpy(dtype="float64")}, index=run.close.index)
        for name in ("prediction", "actual", "fold"):
            value = getattr(run, name)
            if value is not None:
                series[name] = np.asarray(value, dtype="float64")
        if run.twins_band is not None:  # kept at some bars: NaN at the others
            band = run.twins_band.reindex(series.index)
            for name in band.columns:
                series[f"{TWINS_OF}{name}"] = band[name].to_numpy(dtype="float64")
        series.to_parquet(tmp / SERIES)
    return path


def is_run_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / RUN_JSON).is_file()


def load_run(path: str | os.PathLike) -> RunData:
    """Read a directory written by ``save_run``; ValueError saying what is missing."""
    path = Path(path)
    missing = [n for n in (RUN_JSON, SERIES, RESULT) if not (path / n).exists()]
    if missing:
        raise ValueError(f"{path}: not a saved bt run (missing {', '.join(missing)}); write one with "
                         "bt run ... --save DIR")
    body = json.loads((path / RUN_JSON).read_text())
    result = Result.read(path / RESULT)
    series = pd.read_parquet(path / SERIES)
    equity = _first_column(result.equity)
    trades = result.trades
    per_asset = [c for c in series.columns if c.startswith(CLOSE_OF)]
    if per_asset:
        close: pd.Series | pd.DataFrame = series[per_asset].rename(columns=lambda c: c[len(CLOSE_OF):])
        close.columns.name = "asset"
        if len(result.columns) > 1:  # a PortfolioResult: its columns are the groups
            trades = trades[trades["group"] == result.columns[0]].reset_index(drop=True)
    else:
        close = series["close"]
        if len(result.columns) > 1:
            trades = trades[trades["col"] == 0].reset_index(drop=True)
    get = lambda c: series[c].to_numpy() if c in series.columns else None
    band_columns = [c for c in series.columns if c.startswith(TWINS_OF)]
    band = None
    if band_columns:
        band = series[band_columns].dropna(how="all").rename(columns=lambda c: c[len(TWINS_OF):])
    return RunData(meta=body["meta"], equity=equity, close=close, trades=trades, stats=body["stats"],
                   ml=body.get("ml") or {}, folds=body.get("folds") or [], funnel=body.get("funnel") or {},
                   prediction=get("prediction"),
                   actual=get("actual"), fold=get("fold"), result=result, twins=body.get("twins") or {},
                   twins_band=band)
