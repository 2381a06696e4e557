"""A statistical analysis plan in a file: ``peertrial analyse PLAN.toml --out DIR``.

The plan (TOML) names the data, the arms, the stratification factors and the outcomes;
:func:`analyse` validates it against the data (errors name the plan's line, the key and
the column), runs the analyses a trial steering committee expects (CONSORT flow, Table 1,
ITT adjusted for the stratification factors with unadjusted sensitivity analyses;
as-treated, per-protocol and CACE with ``[compliance]``; economics, subgroups and
multiple imputation when declared) and writes ``report.html``, ``report.pdf``, every
table as CSV, every figure as PNG and SVG, and ``results.json``. See
``docs/analysis_plan.rst`` for the format.
"""

from __future__ import annotations

from pathlib import Path

from peertrial.plan._reader import OUTCOME_TYPES, Outcome, Plan, read_plan

__all__ = ["analyse", "read_plan", "Plan", "Outcome", "OUTCOME_TYPES"]


def analyse(plan, out_dir) -> list[Path]:
    """Run an analysis plan and write its report.

    Parameters
    ----------
    plan : str or Path
        The analysis plan (TOML). Paths in it are relative to its folder.
    out_dir : str or Path
        Folder for ``report.html``, ``report.pdf``, ``results.json``, ``tables/*.csv`` and
        ``figures/*.png|svg`` (created; existing files of the same names are replaced).

    Returns
    -------
    list of Path
        The files written, sorted.

    Raises
    ------
    ValueError
        For a plan that does not fit its data (unknown key, wrong type, missing column,
        arm code absent, outcome without events), naming the plan's line, the key and the
        column. Every check and every analysis runs before the first file is written, so a
        failing plan writes nothing.

    Notes
    -----
    The estimates are those of :func:`peertrial.trial.estimate_effects` (R ``lm``,
    ``AER::ivreg``), :func:`peertrial.survival.readmission_12m` (``glm(binomial)``),
    :func:`peertrial.survival.cox` (``survival::coxph``),
    :func:`peertrial.survival.kaplan_meier` (``survfit``, RMST as ``print(survfit, rmean=)``)
    and :func:`peertrial.survival.count_ratio` (``MASS::glm.nb``). Two runs of one plan on
    one machine give byte-identical files.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> plan = Path(pt.__file__).parents[2] / "simulated_data" / "plan.toml"
    >>> if plan.exists():                                             # doctest: +SKIP
    ...     files = pt.plan.analyse(plan, tempfile.mkdtemp())
    """
    from peertrial.plan import _analyse, _write

    parsed = read_plan(plan)
    report = _analyse.analyse(parsed)
    files = _write.render(report)
    return _write.write(files, out_dir)
