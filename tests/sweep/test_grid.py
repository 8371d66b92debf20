"""Sweep grids: list and range specs, typed and range-checked values, product order,
seeded random subsets, constraints, and one clear error per bad spec."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlbt.strategy.base import Param
from mlbt.sweep import grid as gridmod
from mlbt.sweep.grid import GridError, build_grid, combos_hash, compile_constraint

PARAMS = {
    "fast": Param(20, low=2, high=500),
    "slow": Param(50, low=3, high=2000),
    "edge": Param(0.001, low=0.0, high=0.1),
    "allow_short": Param(True),
}


def test_lists_and_ranges_are_typed_in_product_order():
    g = build_grid(["fast=5,10", "slow=20:40:10", "allow_short=1,0"], PARAMS)
    assert len(g) == g.total == 12
    assert g.combos.dtypes.to_dict() == {"fast": np.int64, "slow": np.int64, "allow_short": np.bool_}
    # first spec varies slowest, as itertools.product
    assert g.combos.iloc[:3].to_dict("list") == {"fast": [5, 5, 5], "slow": [20, 20, 30],
                                                 "allow_short": [True, False, True]}
    assert g.combos.iloc[-1].tolist() == [10, 40, False]
    assert g.names == ["fast", "slow", "allow_short"]


def test_float_ranges_include_stop_without_drift():
    g = build_grid(["edge=0.001:0.003:0.001"], PARAMS)
    assert g.combos["edge"].tolist() == [0.001, 0.002, 0.003]
    g = build_grid(["fee=0.0:0.0006:0.0002", "sl=none,0.02"], PARAMS)
    assert g.combos["fee"].unique().tolist() == [0.0, 0.0002, 0.0004, 0.0006]
    assert np.isnan(g.combos["sl"].iloc[0]) and g.combos["sl"].iloc[1] == 0.02
    # a stop off the step is not reached
    assert build_grid(["fast=5:22:5"], PARAMS).combos["fast"].tolist() == [5, 10, 15, 20]


def test_random_subset_is_seeded_distinct_and_in_product_order():
    specs = ["fast=2:101:1", "slow=3:102:1"]
    full = build_grid(specs, PARAMS)
    a = build_grid(specs, PARAMS, random=50, seed=7)
    b = build_grid(specs, PARAMS, random=50, seed=7)
    c = build_grid(specs, PARAMS, random=50, seed=8)
    pd.testing.assert_frame_equal(a.combos, b.combos)
    assert not a.combos.equals(c.combos)
    assert len(a) == 50 and not a.combos.duplicated().any()
    merged = a.combos.merge(full.combos.reset_index(), on=["fast", "slow"])
    assert len(merged) == 50 and merged["index"].is_monotonic_increasing
    assert len(build_grid(specs, PARAMS, random=10**6)) == full.total  # more than there are: all


def test_random_over_a_product_too_large_to_enumerate(monkeypatch):
    monkeypatch.setattr(gridmod, "ENUMERATE_LIMIT", 1000)
    g = build_grid(["fast=2:500:1", "slow=3:2000:1"], PARAMS, random=200, seed=1, constraints=["fast < slow"])
    assert g.total == 499 * 1998 and len(g) == 200
    assert (g.combos.fast < g.combos.slow).all() and not g.combos.duplicated().any()
    codes = (g.combos.fast - 2) * 1998 + (g.combos.slow - 3)
    assert codes.is_monotonic_increasing
    pd.testing.assert_frame_equal(g.combos, build_grid(["fast=2:500:1", "slow=3:2000:1"], PARAMS, random=200,
                                                       seed=1, constraints=["fast < slow"]).combos)


def test_constraints():
    g = build_grid(["fast=5:50:5", "slow=10:60:10"], PARAMS, constraints=["fast < slow"])
    assert (g.combos.fast < g.combos.slow).all() and len(g) == 35
    g = build_grid(["fast=5:50:5", "slow=10:60:10"], PARAMS,
                   constraints=["10 <= fast < slow", "not (fast == 20 or slow % 20 == 0)"])
    assert g.combos.fast.min() == 10 and (g.combos.fast != 20).all() and (g.combos.slow % 20 != 0).all()
    # a fixed (not swept) value can be used: the plugin's or the engine's
    g = build_grid(["fast=10,30,60"], PARAMS, constraints=["fast * 2 <= slow - fee * 0"],
                   fixed={"slow": 50, "fee": 0.001})
    assert g.combos.fast.tolist() == [10]
    f = compile_constraint("-a ** 2 + b / 2 >= a // 2", ["a", "b"])
    assert f({"a": np.array([1, 2]), "b": np.array([4, 4])}).tolist() == [True, False]


@pytest.mark.parametrize(("specs", "message"), [
    (["fast"], r"--grid 'fast': expected NAME=v1,v2,\.\.\. or NAME=start:stop:step"),
    (["nope=1,2"], r"unknown param 'nope'; sweepable: fast, slow, edge, allow_short, fee, fixed_fee"),
    (["fast="], r"--grid 'fast=': no values"),
    (["fast=5,,10"], r"empty value in the list"),
    (["fast=5:50"], r"a range is start:stop:step, e.g. fast=5:50:5"),
    (["fast=5:50:0"], r"step must be positive"),
    (["fast=50:5:5"], r"stop 5 is below start 50"),
    (["fast=a:5:1"], r"'a' is not a number"),
    (["fast=1,5"], r"--grid 'fast=1,5': param fast = 1 is out of range \[2, 500\]"),
    (["fast=5.5"], r"param fast: '5.5' is not a valid int"),
    (["fast=5,5"], r"value 5 is given twice"),
    (["fast=5", "fast=6"], r"param 'fast' is given twice"),
    (["fee=0.5,1.5"], r"fee = 1.5: fee is a fraction of notional in \[0, 1\)"),
    (["fee=none"], r"fee = none: fee is a fraction of notional in \[0, 1\); it cannot be off"),
    (["sl=-0.1"], r"sl = -0.1: sl is a fraction of the entry price in \(0, 1\)"),
    (["sl=1.5"], r"sl = 1.5: sl is a fraction of the entry price in \(0, 1\)"),  # backtest() refuses it too
    (["max_hold=2.5"], r"max_hold = 2.5: max_hold is a whole number of bars"),
    ([], r"no --grid given"),
])
def test_bad_specs(specs, message):
    with pytest.raises(GridError, match=message):
        build_grid(specs, PARAMS)


@pytest.mark.parametrize(("constraint", "message"), [
    ("fast <", r"not a valid expression"),
    ("fast < slw", r"unknown name 'slw'; params: fast, slow"),
    ("__import__('os').system('true')", r"is not allowed"),
    ("fast.real < 3", r"is not allowed"),
    ("fast > 1000", r"reject every one of the 4 combinations"),
])
def test_bad_constraints(constraint, message):
    with pytest.raises(GridError, match=message):
        build_grid(["fast=5,10", "slow=20,30"], PARAMS, constraints=[constraint])


def test_random_size_must_be_positive_and_huge_grids_need_it():
    with pytest.raises(GridError, match="--random 0: must be at least 1"):
        build_grid(["fast=5,10"], PARAMS, random=0)
    with pytest.raises(GridError, match="sample with --random N"):
        build_grid(["fast=2:500:1", "slow=3:2000:1", "edge=0:0.1:0.001"], PARAMS)


def test_combos_hash_is_stable_and_sensitive():
    g = build_grid(["fast=5,10", "slow=20,30"], PARAMS)
    assert g.hash == build_grid(["fast=5,10", "slow=20,30"], PARAMS).hash
    assert g.hash != build_grid(["fast=5,10", "slow=20,31"], PARAMS).hash
    assert g.hash != combos_hash(g.combos.astype({"fast": "float64"}))
    assert g.spec == {"grid": ["fast=5,10", "slow=20,30"], "constraints": [], "random": None, "seed": None}
    assert "4 combinations of fast, slow" in repr(g)
    assert math.isclose(len(g), 4)
