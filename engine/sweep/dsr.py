"""Deflated Sharpe Ratio (Bailey and Lopez de Prado, 2014).

D. H. Bailey, M. Lopez de Prado, "The Deflated Sharpe Ratio: Correcting for Selection
Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5),
2014, pp. 94-107.

All Sharpe ratios here are per period (per bar, not annualized): SR = mean(r) /
std(r) of the T bar returns, the engine's ``sharpe`` divided by sqrt(periods per year).

- Probabilistic Sharpe Ratio, the probability that the true SR exceeds SR*:
  PSR(SR*) = Z[ (SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2) ],
  g3 the skewness and g4 the (non-excess) kurtosis of the returns, Z the standard
  normal CDF (``mlbt.sim.stats_nb.probabilistic_sharpe_nb``, the engine's own ``psr``).
- Expected maximum SR of N trials with true SR 0 and cross-trial variance V[SR_n]:
  SR0 = sqrt(V[SR_n]) ((1 - gamma) Z^-1[1 - 1/N] + gamma Z^-1[1 - 1/(N e)]),
  gamma the Euler-Mascheroni constant.
- DSR = PSR(SR0): the probability that the selected strategy's true SR is positive
  after correcting for the N trials it was chosen from and for non-normal returns.

Here N is the number of combinations swept (those with a finite Sharpe): correlated
combinations count as separate trials, which overstates the number of independent
trials and makes the DSR conservative.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from mlbt.sim.stats_nb import probabilistic_sharpe_nb

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


@dataclass(frozen=True)
class DeflatedSharpe:
    """The DSR of one selected strategy and its inputs (per-period Sharpe ratios)."""

    dsr: float
    sharpe: float  # the selected strategy's per-period SR
    sharpe_0: float  # expected maximum SR of the trials under the null (the deflation benchmark)
    trials: int
    trials_sharpe_var: float
    observations: int
    skew: float
    kurtosis: float  # non-excess (3 for normal returns)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def expected_max_sharpe(trials_sharpe_var: float, trials: int) -> float:
    """SR0: the expected maximum per-period SR among ``trials`` strategies whose true
    SR is 0 and whose estimated SRs have variance ``trials_sharpe_var`` (0 for one trial)."""
    if trials <= 1:
        return 0.0
    return math.sqrt(trials_sharpe_var) * ((1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / trials)
                                           + EULER_GAMMA * _NORMAL.inv_cdf(1.0 - 1.0 / (trials * math.e)))


def deflated_sharpe(sharpe: float, trials_sharpes: np.ndarray, observations: int, skew: float,
                    kurtosis: float) -> DeflatedSharpe:
    """DSR of a strategy with per-period SR ``sharpe`` chosen among the trials whose
    per-period SRs are ``trials_sharpes`` (NaN ignored; variance with ddof 1)."""
    srs = np.asarray(trials_sharpes, dtype="float64")
    srs = srs[np.isfinite(srs)]
    n = len(srs)
    var = float(srs.var(ddof=1)) if n > 1 else 0.0
    sr0 = expected_max_sharpe(var, n)
    return DeflatedSharpe(dsr=float(probabilistic_sharpe_nb(sharpe, sr0, observations, skew, kurtosis)), sharpe=sharpe,
                          sharpe_0=sr0, trials=n, trials_sharpe_var=var, observations=observations, skew=skew,
                          kurtosis=kurtosis)
