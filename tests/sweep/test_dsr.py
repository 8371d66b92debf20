"""Deflated Sharpe Ratio against the worked example of Bailey and Lopez de Prado.

D. H. Bailey, M. Lopez de Prado, "The Deflated Sharpe Ratio: Correcting for Selection
Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5),
2014. Formulas (per-period, non-annualized Sharpe ratios):

    SR0 = sqrt(V[SR_n]) * ((1 - g) * Z^-1[1 - 1/N] + g * Z^-1[1 - 1/(N e)])      (expected max SR)
    DSR = Z[(SR - SR0) * sqrt(T - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2)]    (PSR at SR0)

with g = 0.5772156649 (Euler-Mascheroni), Z the standard normal CDF, g3 the skewness
and g4 the kurtosis of the returns. The paper's numerical example: N = 100 trials
with annualized V[SR_n] = 1/2, the best annualized SR = 2.5 over T = 1250 daily
observations (250 a year), skewness -3, kurtosis 10; it reports SR0 = 0.1132 per day
and DSR = 0.9004.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlbt.sim.stats_nb import probabilistic_sharpe_nb as probabilistic_sharpe
from mlbt.sweep.dsr import deflated_sharpe, expected_max_sharpe


def test_worked_example_by_hand():
    # Inputs, converted to daily: V = 0.5 / 250, SR = 2.5 / sqrt(250).
    var_daily = 0.5 / 250                       # 0.002
    sr = 2.5 / math.sqrt(250)                   # 0.1581139
    # Z^-1[1 - 1/100] = Z^-1[0.99] = 2.3263479 and Z^-1[1 - 1/(100 e)] = Z^-1[0.9963212] = 2.6802104
    # (standard normal quantiles, from tables).
    q1, q2 = 2.3263479, 2.6802104
    sr0 = math.sqrt(var_daily) * ((1 - 0.5772156649) * q1 + 0.5772156649 * q2)
    assert sr0 == pytest.approx(0.044721360 * (0.4227843 * 2.3263479 + 0.5772157 * 2.6802104), rel=1e-7)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)                       # the paper's SR0
    # PSR at SR0: numerator (SR - SR0) sqrt(1249), denominator sqrt(1 + 3 SR + 9/4 SR^2).
    num = (sr - sr0) * math.sqrt(1250 - 1)      # 0.0449419 * 35.341194 = 1.588300
    den = math.sqrt(1 - (-3) * sr + (10 - 1) / 4 * sr**2)  # sqrt(1 + 0.4743416 + 0.05625) = 1.2371708
    z = num / den                               # 1.283816
    assert z == pytest.approx(1.283816, abs=2e-6)
    dsr = 0.5 * (1 + math.erf(z / math.sqrt(2)))  # standard normal CDF
    assert dsr == pytest.approx(0.9004, abs=5e-5)                       # the paper's DSR
    # The module reproduces the hand computation.
    assert expected_max_sharpe(var_daily, 100) == pytest.approx(sr0, rel=1e-7)
    assert probabilistic_sharpe(sr, sr0, 1250, -3.0, 10.0) == pytest.approx(dsr, rel=1e-6)


def test_deflated_sharpe_from_trials_and_moments():
    rng = np.random.default_rng(3)
    # 100 trials whose per-period SRs have sample variance exactly 0.002
    trials = rng.normal(size=100)
    trials = (trials - trials.mean()) / trials.std(ddof=1) * math.sqrt(0.002)
    d = deflated_sharpe(2.5 / math.sqrt(250), trials, 1250, -3.0, 10.0)
    assert d.trials == 100 and d.trials_sharpe_var == pytest.approx(0.002)
    assert d.sharpe_0 == pytest.approx(0.1132, abs=5e-5) and d.dsr == pytest.approx(0.9004, abs=5e-5)
    assert set(d.to_dict()) >= {"dsr", "sharpe", "sharpe_0", "trials", "skew", "kurtosis"}
    # NaN trials are ignored; one trial means no selection: SR0 = 0, DSR = PSR(0)
    one = deflated_sharpe(0.05, np.array([0.05, np.nan]), 1000, 0.0, 3.0)
    assert one.sharpe_0 == 0.0 and one.dsr == pytest.approx(0.5 * (1 + math.erf(0.05 * math.sqrt(999) /
                                                                               math.sqrt(1 + 0.5 * 0.0025) /
                                                                               math.sqrt(2))))
    # more trials, same variance: a higher bar
    assert expected_max_sharpe(0.002, 1000) > expected_max_sharpe(0.002, 100)
