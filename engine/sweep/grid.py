"""Parameter grids for sweeps: ``--grid`` specs, constraints, random subsets.

A spec is ``NAME=v1,v2,...`` (a list) or ``NAME=start:stop:step`` (an arithmetic
range, *stop included* when it lies on the step: ``fast=5:20:5`` is 5, 10, 15, 20).
NAME is a param of the plugin or one of the engine settings a sweep may vary per
column (``mlbt.settings.SWEEPABLE``: fees, slippage, size, lot, stops, max_hold,
cash, leverage, margin and carrying costs, and the switches and choices cash_sharing,
size_type and insufficient_cash, which run one engine pass per value); ``none`` is a
valid value of the optional ones (sl, tp, trail, max_hold: no stop; lot: no rounding). Every value is converted to the
param's type and checked against its declared range when the grid is built, so a bad
value fails before any work starts.

The combinations are the Cartesian product of the specs, first spec varying slowest
(as ``itertools.product``), minus those rejected by a constraint; ``random=N`` keeps
N of them drawn without replacement by a seeded generator, in the same product
order. Combination ids are row numbers of the result, 0 .. n-1.

Constraints are Python-like boolean expressions over param names, e.g. ``fast < slow``
or ``tp >= 2 * sl and fee < 0.002``: numbers, names, + - * / // % **, comparisons
(chains too), and/or/not. Nothing else is evaluated (no calls, no attributes).
A name that is not swept takes its fixed value (the plugin's, or the engine's).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlbt.settings import BY_NAME, DEFAULTS, SWEEPABLE, limit_refusal, over_limit, setting

MAX_COMBOS = 50_000_000  # a full enumeration beyond this needs --random
ENUMERATE_LIMIT = 2_000_000  # --random enumerates products up to this size, samples codes beyond


class GridError(ValueError):
    """A bad grid spec, constraint or combination of them; the message says which."""


@dataclass(frozen=True)
class Dimension:
    """One swept param: its name, its values in spec order, and the spec text."""

    name: str
    values: tuple
    spec: str


@dataclass
class SweepGrid:
    """The combinations of a sweep. ``combos``: one row per combination (id = row
    number), one column per swept param, in spec order. ``spec``: what built it (for
    the manifest). ``total``: size of the full product before constraints and
    sampling."""

    combos: pd.DataFrame
    dimensions: list[Dimension]
    constraints: list[str] = field(default_factory=list)
    random: int | None = None
    seed: int = 0
    total: int = 0

    def __len__(self) -> int:
        return len(self.combos)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    @property
    def spec(self) -> dict[str, Any]:
        """JSON-able description: the specs, constraints, random size and seed."""
        return {"grid": [d.spec for d in self.dimensions], "constraints": list(self.constraints),
                "random": self.random, "seed": self.seed if self.random is not None else None}

    @property
    def hash(self) -> str:
        """SHA-256 of the full combination list (names, dtypes and values)."""
        return combos_hash(self.combos)

    def __repr__(self) -> str:
        return (f"SweepGrid({len(self.combos):,} combinations of {', '.join(self.names)}; "
                f"{self.total:,} before constraints/sampling)")


def combos_hash(combos: pd.DataFrame) -> str:
    """SHA-256 (hex) of a combinations frame: column names, dtypes and values in order."""
    h = hashlib.sha256(b"bt-sweep-combos-v1")
    h.update(json.dumps([len(combos), list(map(str, combos.columns))]).encode())
    for name in combos.columns:
        values = np.ascontiguousarray(combos[name].to_numpy())
        h.update(f"|{name}|{values.dtype.str}|".encode())
        # text values (an engine setting's choices) by their characters, not their object pointers
        h.update(json.dumps(values.tolist()).encode() if values.dtype == object else values.tobytes())
    return h.hexdigest()


def _number(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise GridError(f"--grid {spec!r}: {text!r} is not a number") from None


def _checker(name: str, params: Mapping[str, Any]) -> Callable[[Any], Any]:
    """A function text/number -> checked value of param ``name`` (the plugin's Param, or
    the engine setting's rule; an optional setting's ``none`` is NaN in the grid)."""
    if name in params:
        param = params[name]
        return lambda v: param.check(name, v)
    rule = setting(name)

    def check(v: Any) -> Any:
        value = rule.check(v)
        return math.nan if value is None else value

    return check


def parse_dimension(spec: str, params: Mapping[str, Any]) -> Dimension:
    """One ``NAME=v1,v2`` or ``NAME=start:stop:step`` spec, values checked against the
    plugin's Param (``params``: name -> Param) or the engine's rule for NAME."""
    if "=" not in spec:
        raise GridError(f"--grid {spec!r}: expected NAME=v1,v2,... or NAME=start:stop:step")
    name, text = (s.strip() for s in spec.split("=", 1))
    if name not in params and name not in SWEEPABLE:
        known = ", ".join(list(params) + [k for k in SWEEPABLE if k not in params])
        raise GridError(f"--grid {spec!r}: unknown param {name!r}; sweepable: {known}")
    if not text:
        raise GridError(f"--grid {spec!r}: no values")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise GridError(f"--grid {spec!r}: a range is start:stop:step, e.g. {name}=5:50:5")
        start, stop, step = (_number(p, spec) for p in parts)
        if not step > 0:
            raise GridError(f"--grid {spec!r}: step must be positive")
        if stop < start:
            raise GridError(f"--grid {spec!r}: stop {parts[1]} is below start {parts[0]}")
        count = math.floor((stop - start) / step * (1 + 1e-12) + 1e-9) + 1
        if count > MAX_COMBOS:
            raise GridError(f"--grid {spec!r}: {count:,} values; use a coarser step")
        # start + k*step, rounded to 12 significant digits so 0.1:0.3:0.1 gives 0.3, not 0.30000000000000004
        raw: list[Any] = [float(f"{start + k * step:.12g}") for k in range(count)]
    else:
        raw = [v.strip() for v in text.split(",")]
        if any(v == "" for v in raw):
            raise GridError(f"--grid {spec!r}: empty value in the list")
    check = _checker(name, params)
    try:
        values = [check(v) for v in raw]
    except ValueError as e:
        raise GridError(f"--grid {spec!r}: {e}") from None
    seen, unique = set(), []
    for v in values:
        key = "nan" if isinstance(v, float) and math.isnan(v) else v
        if key in seen:
            raise GridError(f"--grid {spec!r}: value {v!r} is given twice")
        seen.add(key)
        unique.append(v)
    return Dimension(name, tuple(unique), spec)


# -- constraints ---------------------------------------------------------------------

_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
           ast.FloorDiv: np.floor_divide, ast.Mod: np.mod, ast.Pow: np.power}
_CMPOPS = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
           ast.Eq: np.equal, ast.NotEq: np.not_equal}


Expr = Callable[[Mapping[str, Any]], Any]


def compile_constraint(text: str, names: Sequence[str]) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    """Parse ``text`` into a function of {name: array} -> boolean array. Only numbers,
    the given ``names``, arithmetic, comparisons and and/or/not are allowed."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise GridError(f"--constraint {text!r}: not a valid expression (e.g. \"fast < slow\")") from None
    fn = _compile(tree.body, text, names)

    def evaluate(env: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(env), dtype=bool)

    return evaluate


def _compile(node: ast.AST, text: str, names: Sequence[str]) -> Expr:
    """The function of {name: array} that the allowed expression ``node`` computes."""
    def build(child: ast.AST) -> Expr:
        return _compile(child, text, names)

    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | bool):
        value = node.value
        return lambda env: value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise GridError(f"--constraint {text!r}: unknown name {node.id!r}; params: {', '.join(names)}")
        key = node.id
        return lambda env: env[key]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        op, a, b = _BINOPS[type(node.op)], build(node.left), build(node.right)
        return lambda env: op(a(env), b(env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
        a = build(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda env: np.logical_not(a(env))
        sign = -1 if isinstance(node.op, ast.USub) else 1
        return lambda env: np.multiply(sign, a(env))
    if isinstance(node, ast.BoolOp):
        return _bool_op(node, [build(v) for v in node.values])
    if isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
        return _chain([build(node.left)] + [build(c) for c in node.comparators], [_CMPOPS[type(o)] for o in node.ops])
    raise GridError(f"--constraint {text!r}: {ast.unparse(node)!r} is not allowed (use names, numbers, "
                    "arithmetic, comparisons, and/or/not)")


def _bool_op(node: ast.BoolOp, parts: list[Expr]) -> Expr:
    combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

    def boolop(env: Mapping[str, Any]) -> Any:
        out = parts[0](env)
        for p in parts[1:]:
            out = combine(out, p(env))
        return out

    return boolop


def _chain(terms: list[Expr], ops: list[Callable[[Any, Any], Any]]) -> Expr:
    """A comparison chain ``a < b <= c``: every adjacent pair holds."""
    def compare(env: Mapping[str, Any]) -> Any:
        out, left = True, terms[0](env)
        for op, term in zip(ops, terms[1:], strict=True):
            right = term(env)
            out = np.logical_and(out, op(left, right))
            left = right
        return out

    return compare


# -- building the grid ---------------------------------------------------------------


def build_grid(
    specs: Sequence[str],
    params: Mapping[str, Any],
    *,
    constraints: Sequence[str] = (),
    fixed: Mapping[str, Any] | None = None,
    random: int | None = None,
    seed: int = 0,
) -> SweepGrid:
    """The combinations of ``specs`` (see the module docstring) for a plugin whose
    params are ``params`` (name -> Param). ``fixed``: values of names a constraint may
    use without sweeping them (the plugin's values, the engine's settings).
    ``random``: keep that many combinations, drawn with ``seed``. GridError on any
    bad spec, an unknown name, a param given twice, or no combination left."""
    if not specs:
        raise GridError("no --grid given: sweep at least one param, e.g. --grid fast=5:50:5")
    dims = [parse_dimension(s, params) for s in specs]
    names = [d.name for d in dims]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise GridError(f"--grid: param {twice[0]!r} is given twice; give all its values in one spec")
    if random is not None and random < 1:
        raise GridError(f"--random {random}: must be at least 1")
    fixed = dict(fixed or {})
    checks = [compile_constraint(c, names + [k for k in fixed if k not in names]) for c in constraints]
    shape = tuple(len(d.values) for d in dims)
    total = math.prod(shape)
    if total >= 2**62:
        raise GridError(f"--grid: {total:.3g} combinations is beyond any sweep; narrow the grid")
    if random is None and total > MAX_COMBOS:
        raise GridError(f"--grid: {total:,} combinations (more than {MAX_COMBOS:,}); sample with --random N")

    def accept(codes: np.ndarray) -> np.ndarray:
        if not checks:
            return np.ones(len(codes), dtype=bool)
        env = dict(fixed)
        env.update(_columns(dims, codes, shape))
        ok = np.ones(len(codes), dtype=bool)
        for c in checks:
            ok &= np.broadcast_to(c(env), ok.shape)
        return ok

    if random is None or total <= ENUMERATE_LIMIT:
        codes = np.arange(total, dtype=np.int64)
        codes = codes[accept(codes)]
        if random is not None and random < len(codes):
            rng = np.random.default_rng(seed)
            codes = np.sort(codes[rng.choice(len(codes), size=random, replace=False)])
    else:
        codes = _sample_codes(total, random, seed, accept)
    if len(codes) == 0:
        raise GridError(f"the constraints {list(constraints)} reject every one of the {total:,} combinations")
    combos = pd.DataFrame(_columns(dims, codes, shape))
    _check_limits(combos, params, fixed)
    return SweepGrid(combos=combos, dimensions=dims, constraints=list(constraints), random=random, seed=seed,
                     total=total)


def _check_limits(combos: pd.DataFrame, params: Mapping[str, Any], fixed: Mapping[str, Any]) -> None:
    """GridError at the first combination whose engine settings (swept, else ``fixed``)
    break a rule between settings (``settings.AT_MOST``: size up to leverage)."""
    swept = {n: combos[n].to_numpy() for n in combos.columns if n in BY_NAME and n not in params}
    if not swept:
        return
    values = {**{k: v for k, v in fixed.items() if k in BY_NAME and k not in params}, **swept}
    broken = over_limit(values)
    if broken is None:
        return
    name, limit, k = broken
    row = {n: np.broadcast_to(values.get(n, DEFAULTS[n]), len(combos))[k or 0] for n in (name, limit)}
    raise GridError(f"--grid: {limit_refusal(name, limit, row[name], row[limit], f'combination {k or 0}')}, "
                    "or exclude such combinations with --constraint")


def _columns(dims: list[Dimension], codes: np.ndarray, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Column arrays of the combinations with product codes ``codes`` (C order)."""
    digits = np.unravel_index(codes, shape) if len(codes) else [np.zeros(0, dtype=np.int64)] * len(dims)
    out = {}
    for d, k in zip(dims, digits, strict=True):
        values = np.asarray(d.values)
        if values.dtype == object:  # mixed int/float (e.g. max_hold with none)
            values = values.astype("float64")
        out[d.name] = values[k]
    return out


def _sample_codes(total: int, n: int, seed: int, accept: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``n`` distinct accepted product codes drawn uniformly from [0, total) (the
    product is too large to enumerate), sorted."""
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    seen: set[int] = set()
    have = 0
    for _ in range(200):
        draw = rng.integers(0, total, size=max(2 * (n - have), 64), dtype=np.int64)
        fresh = np.array([c for c in dict.fromkeys(draw.tolist()) if c not in seen], dtype=np.int64)
        seen.update(fresh.tolist())
        fresh = fresh[accept(fresh)][: n - have]
        chosen.append(fresh)
        have += len(fresh)
        if have >= n:
            return np.sort(np.concatenate(chosen))
    raise GridError(f"--random {n}: the constraints reject almost every sampled combination "
                    f"(found {have} after {len(seen):,} draws); loosen them or enumerate a smaller grid")
