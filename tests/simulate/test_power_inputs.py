"""Closed-form power functions reject impossible input with a ValueError naming the argument."""

import numpy as np
import pytest
from scipy import stats

import peertrial.simulate as sim


@pytest.mark.parametrize("args, kwargs, match", [
    ((0.5, 0, 64), {}, "sd must be a positive"),
    ((0.5, -1, 64), {}, "sd must be a positive"),
    ((0.5, 1, 1), {}, "n0 must be at least 2 per arm"),
    ((0.5, 1, 64, 1), {}, "n1 must be at least 2 per arm"),
    ((np.nan, 1, 64), {}, "delta must be a number"),
    ((np.inf, 1, 64), {}, "delta must be finite"),
    ((0.5, 1, 64), {"alpha": 0}, "alpha must be a probability"),
    ((0.5, "x", 64), {}, "sd must be a number, got 'x'"),
])
def test_power_t_rejects(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sim.power_t(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, match", [
    ((0.3, 1.2, 100), {}, "p1 must be a probability strictly between 0 and 1, got 1.2"),
    ((-0.1, 0.3, 100), {}, "p0 must be a probability"),
    ((0.0, 0.3, 100), {}, "p0 must be a probability"),
    ((0.3, 1.0, 100), {}, "p1 must be a probability"),
    ((0.3, 0.4, 0), {}, "n0 must be at least 1 per arm"),
    ((0.3, 0.4, 100, -5), {}, "n1 must be at least 1 per arm"),
    ((0.3, 0.4, 100), {"alpha": 1.5}, "alpha must be a probability"),
])
def test_power_two_proportions_rejects(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sim.power_two_proportions(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, match", [
    ((-1, 100), {}, "hr must be a positive finite number, got -1"),
    ((0, 100), {}, "hr must be a positive finite number, got 0"),
    ((np.inf, 100), {}, "hr must be a positive finite"),
    ((0.7, 0), {}, "events must be a positive finite number"),
    ((0.7, -3), {}, "events must be a positive finite number"),
    ((0.7, 100), {"p_treated": 1.0}, "p_treated must be a probability"),
    ((0.7, 100), {"alpha": 0.0}, "alpha must be a probability"),
])
def test_power_schoenfeld_rejects(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sim.power_schoenfeld(*args, **kwargs)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_no_effect_gives_power_alpha(alpha):
    """Under the null every two-sided test rejects with probability alpha (exactly, for these forms)."""
    assert sim.power_schoenfeld(1.0, 150, alpha=alpha) == pytest.approx(alpha, rel=1e-12)
    assert sim.power_two_proportions(0.3, 0.3, 80, alpha=alpha) == pytest.approx(alpha, rel=1e-12)
    assert sim.power_t(0.0, 2.0, 30, alpha=alpha) == pytest.approx(alpha, rel=1e-10)


def test_smallest_allowed_sizes_are_finite():
    assert np.isfinite(sim.power_t(1.0, 1.0, 2))
    assert np.isfinite(sim.power_two_proportions(0.2, 0.5, 1))
    # hr symmetric on the log scale: hr and 1/hr have equal power
    assert sim.power_schoenfeld(0.5, 40) == pytest.approx(sim.power_schoenfeld(2.0, 40), rel=1e-12)
    assert sim.power_schoenfeld(0.5, 40) == pytest.approx(
        stats.norm.cdf(np.log(2) * np.sqrt(10) - stats.norm.isf(0.025))
        + stats.norm.cdf(-np.log(2) * np.sqrt(10) - stats.norm.isf(0.025)), rel=1e-12)
