"""Validation and broadcasting of backtest() inputs into the kernel's flex arrays.

Every error is a ValueError naming the argument, the first offending position (row
and timestamp, column) and what would be valid.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from mlbt.settings import Setting, limit_refusal, over_limit
from mlbt.sim.checks_nb import (
    HIGH_BELOW_LOW,
    HIGH_BELOW_OC,
    LOW_ABOVE_OC,
    NOT_FINITE_OR_POSITIVE,
    PARALLEL_ROWS,
    PARTIAL_NAN,
    check_prices_nb,
    check_target_nb,
    check_weights_nb,
    count_bad_bars_blocks_nb,
    count_target_columns_nb,
    first_bad_bar_nb,
    first_bad_target_nb,
)
from mlbt.sim.frequency import IndexScan

PRICE_FIELDS = ("open", "high", "low", "close")


def where(index: pd.Index, columns: pd.Index, i: int, c: int | None = None) -> str:
    """Human position of element (i, c): row number, its timestamp and column."""
    at = f"row {i} ({index[i]})" if i < len(index) else f"row {i}"
    if c is not None and len(columns) > 1:
        at += f", column {columns[c]!r}"
    return at


def readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (no copy). Numba compiles a kernel once per mix of
    writeable and read-only arrays, and pandas hands out both, so every input a kernel
    reads is made read-only: one compiled kernel for every run."""
    if not a.flags.writeable:
        return a
    view = a.view()
    view.flags.writeable = False
    return view


def _first_bad(mask: np.ndarray) -> tuple[int, int]:
    flat = int(np.argmax(mask.reshape(-1)))
    return divmod(flat, mask.shape[1]) if mask.ndim == 2 else (flat, 0)


def _by_label(name: str, frame: pd.DataFrame, columns: pd.Index) -> pd.DataFrame:
    """``frame``'s columns put in the order of the signal ``columns`` when both are
    labelled (a RangeIndex on either side means by position); ValueError when the
    labels differ, so a value never goes to another column's trades silently."""
    if frame.columns.equals(columns) or isinstance(frame.columns, pd.RangeIndex) or isinstance(columns, pd.RangeIndex):
        return frame
    if frame.columns.is_unique and set(frame.columns) == set(columns):
        return frame[columns]
    raise ValueError(f"{name}: columns {list(frame.columns)[:4]} are not the signal columns {list(columns)[:4]}; "
                     "label them alike, or pass a plain array to go by position")


def price_arrays(bars: pd.DataFrame, columns: pd.Index, scan: IndexScan | None = None) -> tuple[np.ndarray, ...]:
    """(open, high, low, close) as float64 arrays of shape (T, 1), or (T, N) when
    ``bars`` has MultiIndex columns (field, asset) with one asset per column: views of
    the bars' own arrays where they are float64 already (in their own memory layout).

    The index must be sorted and unique (``scan``: the index's scan, when the caller has
    it). A bar is either complete or entirely NaN (no trading); prices must be finite,
    positive, and consistent (low <= open, close <= high)."""
    if not isinstance(bars, pd.DataFrame):
        raise ValueError(f"bars: expected a DataFrame of open/high/low/close, got {type(bars).__name__}")
    index = bars.index
    if scan is not None and scan.first_bad >= 0:
        at = where(index, columns, scan.first_bad)
        raise ValueError(f"bars: index must be sorted and unique; first problem at {at}")
    if scan is None and (not index.is_unique or not index.is_monotonic_increasing):
        bad = index.duplicated() | np.r_[False, np.asarray(index[1:] < index[:-1])]
        i = int(np.argmax(bad))
        raise ValueError(f"bars: index must be sorted and unique; first problem at {where(index, columns, i)}")
    try:
        fields = [bars[name] for name in PRICE_FIELDS]
    except KeyError:
        level0 = bars.columns.get_level_values(0) if isinstance(bars.columns, pd.MultiIndex) else bars.columns
        missing = [f for f in PRICE_FIELDS if f not in level0]
        raise ValueError(f"bars: missing column(s) {missing}; bars need {list(PRICE_FIELDS)}") from None
    arrays = []
    for name, field in zip(PRICE_FIELDS, fields, strict=True):
        if isinstance(field, pd.DataFrame) and field.shape[1] == len(columns) > 1:
            field = _by_label(f"bars[{name!r}]", field, columns)
        a = field.to_numpy(dtype=np.float64)
        a = a.reshape(len(index), -1)
        if a.shape[1] not in (1, len(columns)):
            raise ValueError(
                f"bars[{name!r}]: {a.shape[1]} asset columns but the signals have {len(columns)}; "
                "give one asset per signal column or a single price series"
            )
        arrays.append(a)
    width = max(a.shape[1] for a in arrays)
    if any(a.shape[1] != width for a in arrays):  # a single series beside per-asset ones
        arrays = [np.ascontiguousarray(np.broadcast_to(a, (len(index), width))) for a in arrays]
    if len({a.strides for a in arrays}) > 1:  # the checks read the four arrays in one memory order
        arrays = [np.ascontiguousarray(a) for a in arrays]
    o, h, lo, c = arrays
    if c.size > PARALLEL_ROWS:
        i, j, code = first_bad_bar_nb(o, h, lo, c) if count_bad_bars_blocks_nb(o, h, lo, c) else (-1, -1, 0)
    else:
        i, j, code = check_prices_nb(o, h, lo, c)
    if code == PARTIAL_NAN:
        name = next(f for f, a in zip(PRICE_FIELDS, (o, h, lo, c), strict=True) if np.isnan(a[i, j]))
        raise ValueError(
            f"bars[{name!r}] is NaN at {where(index, columns, i, j)} while the bar's other prices "
            "are not; a bar must be complete or entirely NaN (drop or fill it)"
        )
    if code == NOT_FINITE_OR_POSITIVE:
        name, value = next((f, a[i, j]) for f, a in zip(PRICE_FIELDS, (o, h, lo, c), strict=True)
                           if not 0 < a[i, j] < np.inf)
        raise ValueError(f"bars[{name!r}] = {value} at {where(index, columns, i, j)}: "
                         "prices must be finite and positive")
    what = {HIGH_BELOW_LOW: "high is below low", HIGH_BELOW_OC: "high is below max(open, close)",
            LOW_ABOVE_OC: "low is above min(open, close)"}.get(code)
    if what:
        raise ValueError(f"bars: {what} at {where(index, columns, i, j)}; fix or drop that bar")
    return o, h, lo, c


def target_array(target: Any, index: pd.Index, columns: pd.Index, weights: bool = False) -> tuple[np.ndarray, int]:
    """Target as a (T, N) float64 array of +1/-1/0/NaN aligned to ``index`` (a view of a
    float64 frame's values, column by column as they arrive: the kernel walks each
    column down the bars), and its number of +1/-1 values (a bound on the trades).
    With ``weights`` the values are finite weights or NaN, and the count is of the
    non-NaN ones."""
    if isinstance(target, (pd.Series, pd.DataFrame)):
        if not target.index.equals(index):
            if len(target.index) != len(index):
                raise ValueError(f"signals.target: {len(target.index)} rows but bars have {len(index)}")
            i = int(np.argmax(target.index != index))
            raise ValueError(
                f"signals.target: index differs from the bars' index at row {i} "
                f"({target.index[i]} vs {index[i]}); reindex the target to the bars"
            )
    # to_numpy() for pandas objects: np.asarray probes them for array attributes first.
    pandas_like = isinstance(target, (pd.Series, pd.DataFrame))
    a = target.to_numpy(dtype=np.float64) if pandas_like else np.asarray(target, dtype=np.float64)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[0] != len(index):
        raise ValueError(f"signals.target: shape {a.shape} does not match {len(index)} bars")
    if not (a.flags.c_contiguous or a.flags.f_contiguous):
        a = np.ascontiguousarray(a)
    if weights:
        i, j, decided = check_weights_nb(a)
        if i >= 0:
            raise ValueError(f"signals.target = {a[i, j]} at {where(index, columns, i, j)}: target weights must be "
                             "finite (+ long, - short, 0 flat) or NaN (keep)")
        return a, decided
    if a.shape[1] > 1 and a.flags.f_contiguous:  # columns in parallel threads (the pass is memory-bound)
        n_bad, n_orders = count_target_columns_nb(a)
        i, j = first_bad_target_nb(a) if n_bad else (-1, -1)
    else:
        i, j, n_orders = check_target_nb(a)
    if i >= 0:
        raise ValueError(
            f"signals.target = {a[i, j]} at {where(index, columns, i, j)}: "
            "targets must be +1 (long), -1 (short), 0 (flat) or NaN (keep)"
        )
    return a, n_orders


def _as_2d(name: str, value: Any, index: pd.Index, columns: pd.Index) -> np.ndarray:
    """``value`` as a 2-D float64 array: a frame's values (columns matched by label), a
    Series by what its index names (the bars or the signal columns), an array as it is
    (1-D: per column when its length is N, per bar when it is T)."""
    T, N = len(index), len(columns)
    if isinstance(value, pd.DataFrame):
        if len(value) == T and not value.index.equals(index):
            raise ValueError(f"{name}: index differs from the bars' index; reindex it to the bars")
        if value.shape[1] == N > 1:
            value = _by_label(name, value, columns)
        return value.to_numpy(dtype=np.float64)
    if isinstance(value, pd.Series):
        if len(value) == T and value.index.equals(index):
            return value.to_numpy(dtype=np.float64).reshape(T, 1)
        if len(value) == N and (value.index.equals(columns) or isinstance(value.index, pd.RangeIndex)):
            return value.to_numpy(dtype=np.float64).reshape(1, N)
        raise ValueError(f"{name}: a Series must be indexed by the bars' timestamps or the signal columns")
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        if a.shape[0] == N == T and N > 1:
            raise ValueError(f"{name}: length {N} matches both the columns and the bars; pass a Series "
                             "indexed by the bars' timestamps or by the signal columns")
        if a.shape[0] == N:
            return a.reshape(1, N)
        if a.shape[0] == T:
            return a.reshape(T, 1)
        raise ValueError(f"{name}: length {a.shape[0]} matches neither {N} columns nor {T} bars")
    return a


@functools.lru_cache(maxsize=256)
def _scalar_array(value: float) -> np.ndarray:
    """A read-only (1, 1) array of ``value``, built once per value: most settings are a
    plain number, and the arrays a run reads them from are never written."""
    return readonly(np.full((1, 1), value))


def flex_array(setting: Setting, value: Any, index: pd.Index, columns: pd.Index) -> np.ndarray:
    """``value`` of engine setting ``setting`` as a (1|T, 1|N) float64 array: a scalar,
    a per-column Series (index equal to ``columns``) or array (N,), a per-bar Series
    (index equal to ``index``), or a (T, N) / (T, 1) / (1, N) frame or array. None and
    NaN mean "off" and pass only for an optional setting; any other value must satisfy
    the setting's rule (ValueError with its refusal, naming the first bad position). A
    plain number gives a shared read-only array."""
    name = setting.name
    if value is None:
        value = np.nan
    T, N = len(index), len(columns)
    if isinstance(value, float | int) and not isinstance(value, bool):
        # A plain number (the usual keyword): checked without building masks.
        if setting.valid(value) or (value != value and setting.optional):
            return _scalar_array(float(value))
        raise ValueError(setting.refusal(float(value)))
    a = _as_2d(name, value, index, columns)
    if a.ndim != 2 or a.shape[0] not in (1, T) or a.shape[1] not in (1, N):
        raise ValueError(f"{name}: shape {a.shape} does not broadcast to ({T}, {N})")
    with np.errstate(invalid="ignore"):
        ok = setting.valid(a) | (np.isnan(a) if setting.optional else False)
    if not ok.all():
        i, j = _first_bad(~ok)
        at = where(index, columns, i, j) if a.shape[0] > 1 else (
            f"column {columns[j]!r}" if a.shape[1] > 1 else "")
        raise ValueError(setting.refusal(a[i, j], at))
    return a


def check_limits(arrays: dict[str, np.ndarray], index: pd.Index, columns: pd.Index) -> None:
    """ValueError when a setting exceeds the one that caps it (``settings.AT_MOST``, e.g.
    size above leverage), naming both values and the first offending position of the
    flex ``arrays`` (by setting name)."""
    broken = over_limit(arrays)
    if broken is None:
        return
    name, limit, flat = broken
    a, cap = np.broadcast_arrays(arrays[name], arrays[limit])
    i, j = np.unravel_index(flat or 0, a.shape)
    at = where(index, columns, int(i), int(j)) if a.shape[0] > 1 else (
        f"column {columns[j]!r}" if a.shape[1] > 1 else "")
    raise ValueError(limit_refusal(name, limit, a[i, j], cap[i, j], at))
