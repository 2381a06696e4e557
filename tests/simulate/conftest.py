import pytest

#: A trial model whose ITT power has a closed form: no covariate, site, worker or
#: severity effects on outcomes, everyone engages, no death, withdrawal or missing data.
#: Then P(readmitted | control) = 0.5, P(readmitted | peer) = 1 - 0.5**hr, the hazards
#: are proportional with ratio hr, and 12-month hope is normal with
#: SD sqrt(rho² hope_sd² + resid²) in both arms and mean difference hope_effect_12.
CLOSED_FORM = dict(
    frailty_sd=0.0, site_sd=0.0, worker_sd_readmit=0.0, worker_sd_hope=0.0, site_sd_hope=0.0,
    readmit_age=0.0, readmit_female=0.0, readmit_diagnosis=(0.0, 0.0, 0.0), readmit_prev=0.0,
    p_death_12m=0.0, p_withdraw_12m=0.0, p_received=1.0, miss_intercept=(-60.0, -60.0),
)


@pytest.fixture
def closed_form():
    return dict(CLOSED_FORM)
