"""Meta-analysis: effect sizes, fixed/random-effects models, meta-regression (metafor-equal).

Core (``escalc``, ``rma``, ``rma_batch``, ``rma_mh``, ``rma_peto``) is described in
:mod:`peertrial.meta.rma`; the fitted ``RMAResult`` keeps ``yi``, ``vi``, ``X``,
``weights``, ``slab``, ``method``, ``test``, ``measure``, ``ni`` (sample sizes, from
``escalc``'s ``attrs["ni"]`` or ``ni=``) and ``data`` (a copy of the rows used), and offers
``refit(mask, ...)`` for methods built on top of it. Bias, influence and subgroup tools are appended below.
"""

from peertrial.meta.escalc import escalc
from peertrial.meta.mh import MHResult, rma_mh, rma_peto
from peertrial.meta.rma import BatchResult, PredictResult, RMAResult, rma, rma_batch

__all__ = ["escalc", "rma", "rma_batch", "rma_mh", "rma_peto", "RMAResult", "PredictResult", "BatchResult",
           "MHResult"]

from peertrial.meta.bias import fsn, ranktest, regtest, trimfill  # noqa: E402
from peertrial.meta.influence import baujat, cumul, influence, leave1out  # noqa: E402
from peertrial.meta.subgroup import subgroup  # noqa: E402

__all__ += ["regtest", "ranktest", "trimfill", "fsn", "leave1out", "influence", "cumul", "baujat", "subgroup"]

from peertrial.meta.compare import anova, blup, permutest, ranef  # noqa: E402

__all__ += ["anova", "blup", "ranef", "permutest"]

from peertrial.meta.rma_mv import RMAMVResult, rma_mv  # noqa: E402

__all__ += ["rma_mv", "RMAMVResult"]

from peertrial.meta.revman import Review, arm_columns, read_revman  # noqa: E402

__all__ += ["read_revman", "Review", "arm_columns"]

from peertrial.meta.robust import RobustResult, robust  # noqa: E402

__all__ += ["robust", "RobustResult"]

from peertrial.meta.dependence import aggregate, vcalc  # noqa: E402

__all__ += ["vcalc", "aggregate"]
