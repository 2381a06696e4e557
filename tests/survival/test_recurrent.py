"""MCF of recurrent events against R survfit (robust std.chaz), a hand-coded Ghosh-Lin, and glm+sandwich."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.survival import recurrent

FIX = json.loads((Path(__file__).parent / "fixtures" / "recurrent_cases.json").read_text())
RTOL = 1e-6


@pytest.mark.parametrize("name", ["cgd", "bladder2", "simulated"])
def test_mcf_equals_survfit_robust(name):
    case = FIX[name]
    d = pd.DataFrame(case["data"])
    fit = pt.survival.mcf(d, id="id", time="time", event="event", group="group", entry="entry")
    ref = pd.DataFrame(case["mcf"])
    got = fit.to_frame()
    assert len(got) == len(ref)
    for col in ("time", "n_risk", "n_event", "estimate", "se"):
        np.testing.assert_allclose(got[col], ref[col], rtol=RTOL, err_msg=col)
    assert list(got["group"].astype(str)) == list(ref["group"])


@pytest.mark.parametrize("name", ["cgd", "bladder2", "simulated"])
def test_rate_ratio_equals_poisson_sandwich(name):
    case = FIX[name]
    d = pd.DataFrame(case["data"])
    fit = pt.survival.mcf(d, id="id", time="time", event="event", group="group", entry="entry")
    row = fit.compare(horizon=100).iloc[0]
    assert row["measure"] == "rate ratio"
    np.testing.assert_allclose(np.log(row["estimate"]), case["rate"]["log_rr"], rtol=RTOL)
    np.testing.assert_allclose(row["se"], case["rate"]["se"], rtol=RTOL)


@pytest.mark.parametrize("arm", [0, 1])
def test_ghosh_lin_equals_hand_coded(arm):
    case = FIX["ghosh_lin"]
    d = pd.DataFrame(case["data"])
    fit = pt.survival.mcf(d[d["arm"] == arm], id="id", time="time", event="event", terminal="death")
    ref = case[f"arm{arm}"]
    got = fit.to_frame()
    np.testing.assert_allclose(got["time"], ref["time"])
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=RTOL)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=RTOL)
    assert fit.method == "Ghosh-Lin"


def test_fast_variance_equals_dense_influence():
    """The O(N log N) Lawless-Nadeau sums equal the dense per-subject influence sums."""
    rng = np.random.default_rng(3)
    n = 80
    entry = np.where(rng.random(n) < 0.3, rng.integers(1, 20, n), 0).astype(float)
    end = entry + rng.integers(5, 60, n)
    ev_sub = rng.integers(0, n, 150)
    ev_time = np.floor(entry[ev_sub] + rng.random(150) * (end[ev_sub] - entry[ev_sub])) + 1
    ev_time = np.minimum(ev_time, end[ev_sub])
    s = recurrent._Subjects(entry, end, np.zeros(n), ev_time, np.ones(150), ev_sub)
    u, Y, dN, mu, var = recurrent._lawless_nadeau(s)
    at_risk = (entry[:, None] < u) & (u <= end[:, None])
    dNi = np.zeros((n, len(u)))
    np.add.at(dNi, (ev_sub, np.searchsorted(u, ev_time)), 1.0)
    c = np.cumsum((dNi - at_risk * dN / Y) / Y, axis=1)
    np.testing.assert_allclose(var, (c**2).sum(axis=0), rtol=1e-10)


def test_level_percent_and_plain_limits():
    d = pd.DataFrame(FIX["cgd"]["data"])
    a = pt.survival.mcf(d, id="id", time="time", event="event", group="group", level=0.9)
    b = pt.survival.mcf(d, id="id", time="time", event="event", group="group", level=90,
                        conf_type="plain")
    z = 1.6448536269514722
    np.testing.assert_allclose(b.table["ci_lb"], b.table["estimate"] - z * b.table["se"])
    np.testing.assert_allclose(a.table["ci_ub"], a.table["estimate"] * np.exp(z * a.table["se"] / a.table["estimate"]))


def test_at_and_bad_input():
    d = pd.DataFrame({"id": [1, 1, 2, 3], "t": [10, 50, 40, 60], "e": [1, 0, 0, 0]})
    fit = pt.survival.mcf(d, id="id", time="t", event="e")
    at = fit.at([5, 10, 100])
    assert at["estimate"].tolist() == [0.0, pytest.approx(1 / 3), pytest.approx(1 / 3)]
    with pytest.raises(ValueError, match="'e'"):
        pt.survival.mcf(d.assign(e=[1, -1, 0, 0]), id="id", time="t", event="e")
    with pytest.raises(ValueError, match="missing"):
        pt.survival.mcf(d.assign(t=[10, None, 40, 60]), id="id", time="t", event="e")
    with pytest.raises(ValueError, match="'x'"):
        pt.survival.mcf(d, id="id", time="t", event="x")
    with pytest.raises(ValueError, match="level"):
        pt.survival.mcf(d, id="id", time="t", event="e", level=150)
    before = d.copy()
    pt.survival.mcf(d, id="id", time="t", event="e")
    pd.testing.assert_frame_equal(d, before)


def test_survsplit_matches_r_semantics():
    d = pd.DataFrame({"id": [1, 2, 3], "time": [100.0, 400.0, 180.0], "event": [1, 0, 1]})
    out = pt.survival.survsplit(d, cut=[180, 365], episode="ep")
    assert out[["id", "tstart", "time", "event", "ep"]].values.tolist() == [
        [1, 0, 100, 1, 1], [2, 0, 180, 0, 1], [2, 180, 365, 0, 2], [2, 365, 400, 0, 3],
        [3, 0, 180, 1, 1]]


def test_counting_process_rows_give_andersen_gill_as_coxph():
    """long form -> (start, stop] rows -> cox with robust SE by id equals coxph on cgd's own rows."""
    case = FIX["cgd"]
    long = pd.DataFrame(case["data"]).merge(pd.DataFrame(case["baseline"]), on="id")
    cp = pt.survival.counting_process(long, id="id", time="time", event="event", entry="entry")
    assert int(cp["event"].sum()) == int(long["event"].sum())
    fit = pt.survival.cox(cp.assign(treat=(cp["group"] == "rIFN-g").astype(int)), time="stop",
                          event="event", covariates=["treat", "age"], entry="start", cluster="id")
    ref = case["andersen_gill"]
    np.testing.assert_allclose(fit.coef.to_numpy(), ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.se.to_numpy(), ref["se"], rtol=1e-6)
    np.testing.assert_allclose(fit.naive_se.to_numpy(), ref["naive_se"], rtol=1e-6)


def test_simulated_readmission_episodes_match_the_counts():
    d = pt.simulate.trial(n=120, seed=5)
    long = pt.simulate.readmission_episodes(d, seed=1)
    per = long.groupby("id")["readmission"].sum()
    np.testing.assert_array_equal(per.reindex(d["id"]).to_numpy(), d["readmissions"].to_numpy())
    last = long.groupby("id")["day"].max()
    np.testing.assert_array_equal(last.reindex(d["id"]).to_numpy(), d["followup_days"].to_numpy())
    again = pt.simulate.readmission_episodes(d, seed=1)
    pd.testing.assert_frame_equal(long, again)
