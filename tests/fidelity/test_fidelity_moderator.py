"""Fidelity moderation (MixedLM, REML) against lme4::lmer (fixtures/make_fixtures.R)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial.fidelity as F
from peertrial._warnings import PeertrialWarning

REF = json.loads((Path(__file__).parent / "fixtures" / "fidelity_moderator.json").read_text())
TRIAL = pd.DataFrame(REF["trial"])
FID = pd.Series(REF["worker_fidelity"])
NAMES = {"(Intercept)": "(Intercept)", "fc": "fidelity", "arm": "arm", "arm:fc": "arm:fidelity", "age": "age"}


@pytest.mark.parametrize("population", ["intervention", "all"])
def test_matches_lmer_reml(population):
    with pytest.warns(PeertrialWarning, match="single participant.*PW01"):
        res = F.fidelity_moderation(TRIAL, FID, "hope_12", covariates=["age"], population=population)
    ref = REF[population]
    terms = [NAMES[t] for t in ref["fixef"]]
    np.testing.assert_allclose(res.coef.loc[terms, "estimate"], list(ref["fixef"].values()), rtol=1e-6)
    np.testing.assert_allclose(res.coef.loc[terms, "se"], list(ref["se"].values()), rtol=1e-6)
    np.testing.assert_allclose(res.var_worker, ref["var_worker"], rtol=1e-5)
    np.testing.assert_allclose(res.var_residual, ref["var_residual"], rtol=1e-6)
    np.testing.assert_allclose(res.loglik, ref["loglik"], rtol=1e-9)
    assert res.n == ref["n"] and res.singleton_workers == ("PW01",)
    np.testing.assert_allclose(res.fidelity_center, REF["fbar"], rtol=1e-12)
    assert "NON-RANDOMISED" in res.summary()


def test_missing_fidelity_named_and_excluded():
    fid = FID.drop(["PW03", "PW07"])
    with pytest.warns(PeertrialWarning) as rec:
        res = F.fidelity_moderation(TRIAL, fid, "hope_12")
    msg = " ".join(str(w.message) for w in rec)
    assert "'PW03', 'PW07'" in msg and "14 participants" in msg
    assert res.excluded_workers == ("PW03", "PW07") and res.n_excluded == 14
    assert res.n == 60 - 14
    assert "Excluded, no fidelity score" in res.summary()


@pytest.mark.filterwarnings("ignore:peer workers with a single participant")
def test_intervention_participant_without_worker_excluded():
    t = TRIAL.copy()
    t.loc[3, "peer_worker"] = np.nan
    with pytest.warns(PeertrialWarning, match=r"1 intervention participants with no peer worker.*rows 3"):
        res = F.fidelity_moderation(t, FID, "hope_12")
    assert res.n == 59


def test_data_untouched():
    before = TRIAL.copy(deep=True)
    with pytest.warns(PeertrialWarning):
        F.fidelity_moderation(TRIAL, FID, "hope_12", population="all")
    pd.testing.assert_frame_equal(TRIAL, before)
