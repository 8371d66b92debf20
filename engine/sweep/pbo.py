"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV).

D. H. Bailey, J. M. Borwein, M. López de Prado, Q. J. Zhu, "The Probability of
Backtest Overfitting", Journal of Computational Finance 20(4), 2017, pp. 39-69.

No well-kept library implements CSCV (pypbo, the Python one, is unmaintained), so it
is written here, from block moments the engine's streaming pass accumulates.

Input. The T bars of a sweep are cut into S contiguous blocks (``block_bounds``: block
b covers bars [floor(b T / S), floor((b + 1) T / S))). For each of the N columns (one
parameter combination each) the engine keeps, per block, the sum of the column's bar
returns r_t = E_t / E_{t-1} - 1 and the sum of their squares (``sum1``, ``sum2``, both
(N, S)) and, shared by all columns, the number of returns in each block (``counts``).

Performance metric: the per-bar (not annualized) Sharpe ratio mean(r) / std(r, ddof=1)
of the returns in a union of blocks, from the combined moments: n = sum of counts,
s1 = sum of sum1, s2 = sum of sum2, M2 = s2 - s1^2 / n, SR = (s1 / n) / sqrt(M2 / (n - 1)).
It is *undefined* when the union has fewer than 2 returns, when M2 <= 1e-10 s2 (the
returns are constant, the standard deviation 0 up to the rounding of the sums; this
only ever refuses |SR| above about 1e5 per bar), or when a chosen block's sum is not
finite (NaN returns). Undefined Sharpe ratios compare below every defined one and equal
to each other (as if -inf): such a column is never selected while any column is
defined, and ranks at the bottom out of sample.

CSCV, the paper's algorithm. For each of the C(S, S/2) combinations c of S/2 blocks
(taken in the order of ``itertools.combinations(range(S), S // 2)``): the blocks of c
are the training set J (in sample, IS) and the other S/2 blocks the test set (out of
sample, OOS);

- n* = argmax over the columns of the IS Sharpe ratio; ties (equal values, or every
  column undefined) go to the lowest column index, as ``numpy.argmax`` does;
- the OOS rank of n* among the N columns' OOS Sharpe ratios, 1 = worst ... N = best,
  with ties sharing the average of the ranks they span (``scipy.stats.rankdata``'s
  default "average" method: rank = 1 + #(lower) + (#(equal, n* included) - 1) / 2);
- the relative rank w = rank / (N + 1): the paper asks for w-bar_c in (0, 1) without
  fixing the normalization (as far as we could check); N + 1, as pypbo has it, keeps
  the logit finite for the best rank too (the R package pbo divides by N and gets
  +inf there), and the median rank (N + 1) / 2 gives w = 1/2;
- the logit lambda = ln(w / (1 - w)): positive when n* beats the median column OOS.

PBO = the fraction of combinations with lambda <= 0, i.e. the IS-best column's OOS
rank is at or below the median rank (the paper's integral of the logits' frequency up to
0; the count includes lambda = 0, as pypbo and the R package pbo do). Since the
complement of a combination is a combination too, every split is also seen with IS and
OOS swapped (the "symmetric" of CSCV).

Performance degradation, as in the paper: the least-squares line of n*'s OOS
Sharpe on its IS Sharpe across combinations (slope and intercept, over the combinations
where both are defined), the probability of OOS loss (the fraction of all combinations
where n*'s OOS Sharpe is < 0; an undefined one is not counted as a loss), and the mean
relative rank w.

Cost. Each complementary pair of combinations shares its sums (IS of one = OOS of the
other), so only the C(S, S/2) / 2 combinations holding block 0 are visited, in a
revolving-door order (each differs from the previous one by one block in, one block
out), updating the in-sample sums of every column incrementally (OOS = total - IS);
the pairs are cut into chunks that run in parallel threads, each chunk starting from a
direct summation. The comparisons use the monotone transform s1 |s1| / M2 of the Sharpe
ratio (the factors common to all columns of a combination dropped), which orders the
columns exactly as the Sharpe ratio does (up to rounding) without a square root.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, NamedTuple

import numpy as np
from numba import njit, prange

from mlbt.sim import block_bounds as sim_block_bounds

#: A union of blocks whose centred sum of squares M2 is at most this fraction of its
#: sum of squares has no defined Sharpe ratio (constant returns, up to rounding).
VAR_TOL = 1e-10
MAX_BLOCKS = 32  # C(32, 16) = 601,080,390 combinations: more is never computable
DEFAULT_CHUNK = 256  # combinations (128 complementary pairs) per parallel task


def block_bounds(T: int, S: int) -> np.ndarray:
    """The S + 1 bar boundaries (int64) of S contiguous blocks of T bars: block b covers
    bars [bounds[b], bounds[b + 1]) with bounds[b] = floor(b T / S); bounds[0] = 0,
    bounds[S] = T, and block sizes differ by at most one bar. ValueError unless
    1 <= S <= T. The blocks are the simulation kernel's (``mlbt.sim.block_bounds``, from
    ``mlbt.sim.stats_nb.block_end``), which accumulates their sums."""
    T, S = int(T), int(S)
    if S < 1:
        raise ValueError(f"S (blocks) must be >= 1, got {S}")
    if T < S:
        raise ValueError(f"T (bars) must be >= S (blocks) so that no block is empty, got T={T}, S={S}")
    return sim_block_bounds(T, S)


class BlockMoments(NamedTuple):
    """Per-block sums of each column's bar returns and of their squares, (N, S) float64,
    and the returns per block, (S,) int64: ``probability_of_overfitting(*moments)``."""

    sum1: np.ndarray
    sum2: np.ndarray
    counts: np.ndarray


def block_moments(returns: np.ndarray, S: int) -> BlockMoments:
    """Block moments of a full (N, T) matrix of bar returns (a row per column, bar t in
    column t), with the blocks of ``block_bounds(T, S)``; NaN returns make their block's
    sums NaN. The streaming pass accumulates the same sums without the matrix."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"returns must be a 2-D (N, T) array, got shape {r.shape}")
    bounds = block_bounds(r.shape[1], S)
    starts = bounds[:-1]
    return BlockMoments(np.add.reduceat(r, starts, axis=1), np.add.reduceat(r * r, starts, axis=1),
                        np.diff(bounds))


@dataclass(frozen=True)
class Degradation:
    """IS-to-OOS degradation of the selected column: OOS Sharpe ~ intercept + slope * IS
    Sharpe (least squares, per-bar Sharpe ratios), the fraction of combinations with a
    negative OOS Sharpe, and the mean OOS relative rank w (1/2 = the median column)."""

    slope: float
    intercept: float
    prob_oos_loss: float
    mean_relative_rank: float

    def to_dict(self) -> dict[str, float | None]:
        return {k: _json_float(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True, eq=False)
class Overfitting:
    """CSCV result over ``combinations`` = C(S, S/2) splits of ``blocks`` = S blocks and
    ``columns`` = N columns; the arrays have one entry per combination, in the order of
    ``itertools.combinations(range(S), S // 2)`` (the in-sample blocks): ``logits``
    lambda, ``selected`` n* (the IS-best column), ``is_sharpe`` and ``oos_sharpe`` its
    per-bar Sharpe ratios in and out of sample (NaN where undefined)."""

    pbo: float
    blocks: int
    combinations: int
    columns: int
    degradation: Degradation
    logits: np.ndarray = field(repr=False)
    selected: np.ndarray = field(repr=False)
    is_sharpe: np.ndarray = field(repr=False)
    oos_sharpe: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values (no arrays; NaN as None)."""
        return {"pbo": self.pbo, "blocks": self.blocks, "combinations": self.combinations, "columns": self.columns,
                "degradation": self.degradation.to_dict()}

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-combination arrays, by name."""
        return {"logits": self.logits, "selected": self.selected, "is_sharpe": self.is_sharpe,
                "oos_sharpe": self.oos_sharpe}


def _json_float(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


@cache
def _revolving_door(n: int, k: int) -> tuple[int, ...]:
    """The k-subsets of {0..n-1} as bitmasks in revolving-door order (Nijenhuis-Wilf):
    R(n, k) = R(n-1, k), then R(n-1, k-1) reversed with n-1 added. Successive subsets
    differ by one element in and one out; the first is {0..k-1}."""
    if k == 0:
        return (0,)
    if k == n:
        return ((1 << n) - 1,)
    top = 1 << (n - 1)
    return _revolving_door(n - 1, k) + tuple(m | top for m in reversed(_revolving_door(n - 1, k - 1)))


@lru_cache(maxsize=8)
def _plan(S: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(masks, lex_a, lex_b): the in-sample block masks of the combinations that hold
    block 0, in revolving-door order, and the positions in itertools order of each one
    (lex_a) and of its complement (lex_b)."""
    h = S // 2
    masks = np.array([(m << 1) | 1 for m in _revolving_door(S - 1, h - 1)], dtype=np.int64)
    lex = np.array([sum(1 << b for b in c) for c in itertools.combinations(range(S), h)], dtype=np.int64)
    order = np.argsort(lex)
    full = (1 << S) - 1
    lex_a = order[np.searchsorted(lex, masks, sorter=order)]
    lex_b = order[np.searchsorted(lex, full ^ masks, sorter=order)]
    for a in (masks, lex_a, lex_b):
        a.flags.writeable = False
    return masks, lex_a, lex_b


@njit(cache=True, nogil=True, error_model="numpy")
def _step_nb(in1: np.ndarray, out1: np.ndarray, in2: np.ndarray, out2: np.ndarray, is1: np.ndarray,
             is2: np.ndarray, tot1: np.ndarray, tot2: np.ndarray, inv_a: float, inv_b: float, ka: np.ndarray,
             kb: np.ndarray) -> None:
    """Move a block (sums out1, out2) out of the in-sample sums is1 / is2 and another
    (in1, in2) into them (the same block twice adds an exact 0), then the Sharpe keys
    s1 |s1| / M2 (-inf where undefined) of the in-sample sums (ka) and of the
    out-of-sample ones, total - in sample (kb).
    inv_a / inv_b: 1 / returns in / out of sample, NaN when fewer than 2 (all undefined).
    Branch-free, so it vectorizes."""
    ninf = -np.inf
    for n in range(is1.shape[0]):
        a1 = is1[n] + (in1[n] - out1[n])
        a2 = is2[n] + (in2[n] - out2[n])
        is1[n], is2[n] = a1, a2
        b1, b2 = tot1[n] - a1, tot2[n] - a2
        ma = a2 - a1 * a1 * inv_a
        mb = b2 - b1 * b1 * inv_b
        xa = a1 * abs(a1) / ma
        xb = b1 * abs(b1) / mb
        ka[n] = xa if ma > VAR_TOL * a2 else ninf
        kb[n] = xb if mb > VAR_TOL * b2 else ninf


@njit(cache=True, nogil=True, inline="always")
def _max8_nb(a: np.ndarray, i: int) -> float:
    return max(max(max(a[i], a[i + 1]), max(a[i + 2], a[i + 3])),
               max(max(a[i + 4], a[i + 5]), max(a[i + 6], a[i + 7])))


@njit(cache=True, nogil=True)
def _argmax2_nb(ka: np.ndarray, kb: np.ndarray, ma: np.ndarray, mb: np.ndarray) -> tuple[int, int]:
    """First index of the maximum of ka and of kb (keys are never NaN). The maxima of
    blocks of 16 (a tree, no dependency chain), kept in ma / mb (N // 16 scratch), give
    the maximum; then the first block that holds it is searched. Costs the same in any
    order of the values."""
    N = ka.shape[0]
    nb = N // 16
    ba, bb = -np.inf, -np.inf
    for k in range(nb):
        i = 16 * k
        x = max(_max8_nb(ka, i), _max8_nb(ka, i + 8))
        y = max(_max8_nb(kb, i), _max8_nb(kb, i + 8))
        ma[k], mb[k] = x, y
        ba, bb = max(ba, x), max(bb, y)
    for j in range(16 * nb, N):
        ba, bb = max(ba, ka[j]), max(bb, kb[j])
    return _first_nb(ka, ma, ba), _first_nb(kb, mb, bb)


@njit(cache=True, nogil=True)
def _first_nb(a: np.ndarray, blk: np.ndarray, v: float) -> int:
    """First index of the value v in a, given blk[k], the maximum of a[16k:16k+16]."""
    nb = a.shape[0] // 16
    start = 16 * nb
    for k in range(nb):
        if blk[k] == v:
            start = 16 * k
            break
    for j in range(start, a.shape[0]):
        if a[j] == v:
            return j
    return 0


@njit(cache=True, nogil=True)
def _rank2_nb(ka: np.ndarray, kb: np.ndarray, ta: float, tb: float) -> tuple[int, int]:
    """Twice the average rank (1 = lowest) of the value ta among ka and of tb among kb:
    2 #(lower) + #(equal) + 1, an integer."""
    la, ea, lb, eb = 0, 0, 0, 0
    for n in range(ka.shape[0]):
        x, y = ka[n], kb[n]
        la += x < ta
        ea += x == ta
        lb += y < tb
        eb += y == tb
    return 2 * la + ea + 1, 2 * lb + eb + 1


@njit(cache=True, nogil=True)
def _bit_nb(m: int) -> int:
    b = 0
    while (m >> b) & 1 == 0:
        b += 1
    return b


@njit(cache=True, nogil=True, error_model="numpy")
def _walk_nb(s1t: np.ndarray, s2t: np.ndarray, tot1: np.ndarray, tot2: np.ndarray, counts: np.ndarray,
             masks: np.ndarray, p0: int, p1: int, dirty: np.ndarray, bad: np.ndarray, sel_a: np.ndarray,
             sel_b: np.ndarray, r2_a: np.ndarray, r2_b: np.ndarray) -> None:
    """Combinations masks[p0:p1] (in sample: the mask's blocks, out of sample: the rest)
    and their complements, walked in revolving-door order from one direct summation.
    dirty: the columns with a non-finite block sum (zeroed in s1t / s2t), bad: the
    bitmask of those blocks; sel_*: n* of each combination and its complement, r2_*:
    twice its OOS rank."""
    S, N = s1t.shape
    n_all = counts.sum()
    is1 = np.zeros(N)
    is2 = np.zeros(N)
    ka = np.empty(N)
    kb = np.empty(N)
    ma = np.empty(N // 16)
    mb = np.empty(N // 16)
    prev = masks[p0]
    for b in range(S):
        if (prev >> b) & 1:
            for n in range(N):
                is1[n] += s1t[b, n]
                is2[n] += s2t[b, n]
    for p in range(p0, p1):
        m = masks[p]
        b_in, b_out = (_bit_nb(m & ~prev), _bit_nb(prev & ~m)) if p > p0 else (0, 0)
        prev = m
        n_a = 0
        for b in range(S):
            if (m >> b) & 1:
                n_a += counts[b]
        n_b = n_all - n_a
        _step_nb(s1t[b_in], s1t[b_out], s2t[b_in], s2t[b_out], is1, is2, tot1, tot2, 1.0 / n_a if n_a >= 2 else np.nan,
                 1.0 / n_b if n_b >= 2 else np.nan, ka, kb)
        for j in range(dirty.shape[0]):  # undefined in the sets that hold a non-finite block
            if bad[j] & m:
                ka[dirty[j]] = -np.inf
            if bad[j] & ~m:
                kb[dirty[j]] = -np.inf
        ia, ib = _argmax2_nb(ka, kb, ma, mb)
        # the OOS set of combination a is the IS set of its complement b, and vice versa
        ra, rb = _rank2_nb(kb, ka, kb[ia], ka[ib])
        sel_a[p], sel_b[p], r2_a[p], r2_b[p] = ia, ib, ra, rb


@njit(cache=True, nogil=True, parallel=True)
def _cscv_nb(s1t: np.ndarray, s2t: np.ndarray, tot1: np.ndarray, tot2: np.ndarray, counts: np.ndarray,
             masks: np.ndarray, pairs_per_task: int, dirty: np.ndarray, bad: np.ndarray, sel_a: np.ndarray,
             sel_b: np.ndarray, r2_a: np.ndarray, r2_b: np.ndarray) -> None:
    """``_walk_nb`` over chunks of ``pairs_per_task`` pairs in parallel threads."""
    P = masks.shape[0]
    tasks = (P + pairs_per_task - 1) // pairs_per_task
    for t in prange(tasks):
        p0 = t * pairs_per_task
        _walk_nb(s1t, s2t, tot1, tot2, counts, masks, p0, min(P, p0 + pairs_per_task), dirty, bad, sel_a, sel_b,
                 r2_a, r2_b)


def _validate(sum1: np.ndarray, sum2: np.ndarray, counts: np.ndarray, chunk: int) -> None:
    if sum1.ndim != 2:
        raise ValueError(f"sum1 must be a 2-D (N columns, S blocks) array, got shape {sum1.shape}")
    if sum2.shape != sum1.shape:
        raise ValueError(f"sum2 must have the shape of sum1 {sum1.shape}, got {sum2.shape}")
    N, S = sum1.shape
    if counts.shape != (S,):
        raise ValueError(f"counts must have one entry per block, shape ({S},), got {counts.shape}")
    if S < 2 or S % 2:
        raise ValueError(f"sum1: the number of blocks S must be even and >= 2, got {S}")
    if S > MAX_BLOCKS:
        raise ValueError(f"sum1: S = {S} blocks give C(S, S/2) = {math.comb(S, S // 2):,} combinations; "
                         f"at most {MAX_BLOCKS} blocks")
    if N < 2:
        raise ValueError(f"sum1: PBO needs at least 2 columns to rank, got {N}")
    if not np.issubdtype(counts.dtype, np.integer) and not (np.issubdtype(counts.dtype, np.floating)
                                                            and np.all(counts == np.round(counts))):
        raise ValueError(f"counts must be whole numbers of returns, got {counts.tolist()}")
    if not np.all(counts > 0):
        raise ValueError(f"counts must be positive (returns per block), got {counts.tolist()}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")


def _sharpe(s1: np.ndarray, s2: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per-bar Sharpe ratio from moments (NaN where undefined, as in the module doc)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m2 = s2 - s1 * s1 / n
        sr = (s1 / n) / np.sqrt(m2 / (n - 1))
    ok = np.isfinite(sr) & (m2 > VAR_TOL * s2) & (n >= 2)
    return np.where(ok, sr, np.nan)


def _degradation(is_sr: np.ndarray, oos_sr: np.ndarray, w: np.ndarray) -> Degradation:
    ok = np.isfinite(is_sr) & np.isfinite(oos_sr)
    x, y = is_sr[ok], oos_sr[ok]
    slope = intercept = math.nan
    if len(x) >= 2:
        dx = x - x.mean()
        sxx = float(np.sum(dx * dx))
        if sxx > 0:
            slope = float(np.sum(dx * (y - y.mean()))) / sxx
            intercept = float(y.mean()) - slope * float(x.mean())
    return Degradation(slope=slope, intercept=intercept, prob_oos_loss=float(np.mean(oos_sr < 0)),
                       mean_relative_rank=float(np.mean(w)))


def probability_of_overfitting(sum1: np.ndarray, sum2: np.ndarray, counts: np.ndarray, *,
                               chunk: int = DEFAULT_CHUNK) -> Overfitting:
    """PBO of selecting, among N columns, the one with the best per-bar Sharpe ratio,
    by CSCV over the S blocks of ``sum1`` / ``sum2`` ((N, S) per-block sums of each
    column's bar returns and of their squares) and ``counts`` ((S,) returns per block):
    see the module doc for the definitions, ranks and ties. ``chunk``: combinations one
    parallel task walks from one direct summation (it changes the rounding of the sums,
    never the method). ValueError, naming the argument, for mismatched shapes, S odd,
    < 2 or > 32, N < 2, or a count not positive."""
    s1 = np.asarray(sum1, dtype=np.float64)
    s2 = np.asarray(sum2, dtype=np.float64)
    cnt = np.asarray(counts)
    _validate(s1, s2, cnt, int(chunk))
    cnt = cnt.astype(np.int64)
    N, S = s1.shape
    masks, lex_a, lex_b = _plan(S)

    finite = np.isfinite(s1) & np.isfinite(s2)
    s1t = np.ascontiguousarray(np.where(finite, s1, 0.0).T)
    s2t = np.ascontiguousarray(np.where(finite, s2, 0.0).T)
    dirty = np.flatnonzero(~finite.all(axis=1)).astype(np.int64)
    bad = (~finite[dirty]).astype(np.int64) @ (np.int64(1) << np.arange(S, dtype=np.int64))
    P = len(masks)
    sel_a, sel_b = np.empty(P, np.int64), np.empty(P, np.int64)
    r2_a, r2_b = np.empty(P, np.int64), np.empty(P, np.int64)
    _cscv_nb(s1t, s2t, s1t.sum(axis=0), s2t.sum(axis=0), cnt, masks, max(1, int(chunk) // 2), dirty, bad,
             sel_a, sel_b, r2_a, r2_b)

    C = 2 * P
    selected, rank2 = np.empty(C, np.int64), np.empty(C, np.int64)
    selected[lex_a], selected[lex_b] = sel_a, sel_b
    rank2[lex_a], rank2[lex_b] = r2_a, r2_b
    logits = np.log(rank2 / (2.0 * (N + 1) - rank2))

    # the selected column's own Sharpe ratios, summed directly (NaN blocks included)
    member = np.zeros((C, S), dtype=bool)
    member[lex_a] = (masks[:, None] >> np.arange(S)) & 1 == 1
    member[lex_b] = ~member[lex_a]
    blk1, blk2 = s1[selected], s2[selected]
    n_is = member @ cnt
    n_oos = cnt.sum() - n_is
    is_sr = _sharpe(np.where(member, blk1, 0.0).sum(axis=1), np.where(member, blk2, 0.0).sum(axis=1), n_is)
    oos_sr = _sharpe(np.where(member, 0.0, blk1).sum(axis=1), np.where(member, 0.0, blk2).sum(axis=1), n_oos)
    return Overfitting(pbo=float(np.mean(logits <= 0)), blocks=S, combinations=C, columns=N,
                       degradation=_degradation(is_sr, oos_sr, rank2 / (2.0 * (N + 1))), logits=logits,
                       selected=selected, is_sharpe=is_sr, oos_sharpe=oos_sr)
