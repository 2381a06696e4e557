"""Run the analyses an analysis plan declares, with the library's estimators, in memory.

Nothing here fits a model itself: every estimate comes from ``peertrial.trial``,
``peertrial.survival`` or ``peertrial.econ``. The output is a :class:`Report` (sections
of text, tables and figures plus the ``results.json`` records), written by ``_write``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial.plan._reader import Outcome, Plan

POPULATION = {"itt": "ITT", "as_treated": "as-treated", "per_protocol": "per-protocol", "cace": "CACE"}
POP_TEXT = {
    "ITT": "ITT (randomised)",
    "as-treated": "as-treated (NOT randomised)",
    "per-protocol": "per-protocol (NOT randomised)",
    "CACE": "CACE (randomised: effect in compliers)",
}


@dataclass
class Table:
    """A numbered table: ``data`` is written as CSV, ``display`` (strings) is shown."""

    name: str
    caption: str
    data: pd.DataFrame
    display: pd.DataFrame
    note: str = ""


@dataclass
class Figure:
    name: str
    caption: str
    fig: object


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list = field(default_factory=list)

    def text(self, text: str) -> None:
        self.blocks.append(("text", text))

    def add(self, item) -> None:
        self.blocks.append(item)


@dataclass
class Report:
    plan: Plan
    summary: Section
    sections: list[Section]
    records: list[dict]
    notes: list[str]


# ------------------------------------------------------------------ formatting


def fmt_p(p) -> str:
    if p is None or not np.isfinite(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_num(x, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return ""
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:,.{digits}f}"


def fmt_ci(est, lo, hi, digits: int = 2) -> str:
    if not np.isfinite(lo) or not np.isfinite(hi):
        return fmt_num(est, digits)
    return f"{fmt_num(est, digits)} ({fmt_num(lo, digits)} to {fmt_num(hi, digits)})"


def _digits(measure: str) -> int:
    return 3 if measure == "RD" else 2


def _ci_digits(lo: float, hi: float) -> int:
    """Decimals that show a confidence interval of this width with two significant digits
    (a QALY difference 0.024 (0.001 to 0.048), a cost difference 506 (-2,280 to 3,292))."""
    width = abs(float(hi) - float(lo))
    if not np.isfinite(width) or width == 0:
        return 2
    return int(min(4, max(0, 1 - np.floor(np.log10(width)))))


# ------------------------------------------------------------------ the analyses


class _Runner:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.records: list[dict] = []
        self.sections: list[Section] = []
        self.tables = 0
        self.figures = 0
        self.names: set[str] = set()
        self.level = plan.level
        self.pct = f"{100 * plan.level:g}"

    # numbering and unique file names
    def table(self, name, caption, data, display, note="") -> Table:
        self.tables += 1
        return Table(self._unique("t:" + name)[2:], f"Table {self.tables}. {caption}", data, display, note)

    def figure(self, name, caption, fig) -> Figure:
        self.figures += 1
        return Figure(self._unique("f:" + name)[2:], f"Figure {self.figures}. {caption}", fig)

    def _unique(self, name: str) -> str:
        base, k = name, 2
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def record(self, outcome: Outcome, population, measure, adjusted, est, lo, hi, p, n, analysis, se=np.nan):
        self.records.append({
            "outcome": outcome.name, "primary": outcome.primary, "type": outcome.type,
            "population": population, "measure": measure, "adjusted": bool(adjusted),
            "analysis": analysis, "estimate": _f(est), "se": _f(se), "ci_lb": _f(lo), "ci_ub": _f(hi),
            "pval": _f(p), "n": int(n),
        })

    # ---------------------------------------------------------------- sections
    def run(self) -> Report:
        plan = self.plan
        self.flow_and_table1()
        for o in plan.outcomes:
            sec = Section(o.name + (" (primary outcome)" if o.primary else ""), f"outcome-{o.index + 1}")
            {"binary": self.binary, "continuous": self.continuous, "cost": self.continuous,
             "time_to_event": self.time_to_event, "count": self.count, "recurrent": self.recurrent}[o.type](o, sec)
            self.sections.append(sec)
        if plan.subgroups:
            self.subgroups()
        if plan.fidelity:
            self.fidelity()
        if plan.economics:
            self.economics()
        summary = self.summary()
        return Report(plan, summary, self.sections, self.records, [])

    def _adjusted(self) -> str:
        p = self.plan
        if not p.strata:
            return "unadjusted (no stratification factors in the plan)"
        return f"adjusted for the stratification factors ({', '.join(p.strata)}) as factors"

    def flow_and_table1(self):
        import peertrial as pt

        p = self.plan
        d = p.data
        labels = (p.control_label, p.intervention_label)
        primary = next(o for o in p.outcomes if o.primary)
        sec = Section("Participant flow and baseline characteristics", "flow")
        received = p.received or p.arm
        flow = pt.trial.consort(d, outcome=primary.column or primary.event, arm=p.arm, received=received,
                                arm_labels=labels)
        t = flow.table.copy()
        names = {"randomised": "Randomised", "received_allocated": "Received allocated intervention",
                 "not_received_allocated": "Did not receive allocated intervention",
                 "lost_to_follow_up": f"Primary outcome missing ({primary.name})",
                 "analysed": "Analysed (primary outcome observed)"}
        if not p.received:
            t = t.drop(index=["received_allocated", "not_received_allocated"])
        t.index = [names[i] for i in t.index]
        t.index.name = "stage"
        sec.add(self.table("consort", "CONSORT flow by arm", t, t.map(lambda v: f"{int(v):,}")))
        if p.received:
            definition = f" ({p.received_definition})" if p.received_definition else ""
            sec.text(f"Receipt of the intervention is the column '{p.received}'{definition}.")
            sec.add(self.figure("consort", "CONSORT flow diagram", flow.plot()))
        cfg = p.table1 or {}
        variables = cfg.get("variables") or list(dict.fromkeys(
            [*p.strata, *[o.baseline for o in p.outcomes if o.baseline]]))
        if variables:
            tab = pt.randomise.balance_table(d[[p.arm, *variables]], arm=p.arm, variables=variables,
                                             categorical=cfg.get("categorical") or [
                                                 s for s in p.strata if s in variables],
                                             nonnormal=cfg.get("nonnormal"), arm_labels=p.arm_labels)
            sec.add(self.table("table1", "Baseline characteristics by arm (Table 1); SMD: standardised mean "
                               "difference", tab, tab))
        self.sections.append(sec)

    def _covariates(self, *extra) -> str | None:
        terms = [e for e in extra if e] + [f"C({s})" for s in self.plan.strata]
        return " + ".join(terms) or None

    def _effects(self, o: Outcome, covariates):
        import peertrial as pt

        p = self.plan
        return pt.trial.estimate_effects(p.data, outcome=o.column, arm=p.arm, received=p.received or p.arm,
                                         covariates=covariates, cluster=p.cluster, level=self.level)

    def _arm_rows(self, rows: dict) -> pd.DataFrame:
        p = self.plan
        frame = pd.DataFrame(rows, index=[p.control_label, p.intervention_label])
        frame.index.name = "arm"
        return frame

    def _populations(self, o: Outcome, eff: pd.DataFrame, measure: str, adjusted_text: str):
        """Non-ITT rows of estimate_effects as records (with [compliance])."""
        rows = []
        if not self.plan.received:
            return rows
        for key in ("as_treated", "per_protocol", "cace"):
            r = eff.loc[key]
            pop = POPULATION[key]
            self.record(o, pop, measure, True, r["estimate"], r["ci_lb"], r["ci_ub"], r["pval"], r["n"],
                        f"{pop}, {adjusted_text}", r["se"])
            rows.append((POP_TEXT[pop], adjusted_text, r["estimate"], r["ci_lb"], r["ci_ub"], r["pval"], r["n"]))
        return rows

    def _received_populations(self, o: Outcome, measure: str, fit, model: str):
        """As-treated and per-protocol ratios (with [compliance]) for models without an IV estimator.

        As-treated compares by intervention received (everyone); per-protocol keeps the participants
        who received what they were randomised to (controls without it, intervention with it). Neither is randomised. A CACE needs an
        instrumental-variable estimator, which exists for differences (2SLS) but not for hazard or
        rate ratios without further structural assumptions, so none is reported for these.
        """
        p = self.plan
        if not p.received:
            return []
        d = p.data
        received = pd.to_numeric(d[p.received], errors="coerce")
        rows = []
        for pop, data, arm in (("as-treated", d, p.received),
                               ("per-protocol", d[received == d[p.arm]], p.arm)):
            res = fit(data, arm)
            text = f"{model}, {self._adjusted()}"
            self.record(o, pop, measure, bool(p.strata), res.hr[arm], res.hr_ci_lb[arm], res.hr_ci_ub[arm],
                        res.pval[arm], res.n, f"{pop}, {text}", res.se[arm])
            rows.append((POP_TEXT[pop], text, res.hr[arm], res.hr_ci_lb[arm], res.hr_ci_ub[arm],
                         res.pval[arm], res.n))
        return rows

    def _estimates_table(self, o: Outcome, rows, measure_label: str, digits: int, name: str, caption: str):
        data = pd.DataFrame(rows, columns=["population", "analysis", "estimate", "ci_lb", "ci_ub", "pval", "n"])
        display = pd.DataFrame({
            "Population": data["population"], "Analysis": data["analysis"],
            f"{measure_label} ({self.pct}% CI)": [fmt_ci(e, a, b, digits) for e, a, b in
                                          zip(data["estimate"], data["ci_lb"], data["ci_ub"])],
            "p": data["pval"].map(fmt_p), "n": data["n"].map(lambda v: f"{int(v):,}"),
        })
        return self.table(name, caption, data.set_index("population"), display.set_index("Population"))

    def binary(self, o: Outcome, sec: Section):
        import peertrial as pt

        p = self.plan
        cov = self._covariates()
        adj = pt.survival.readmission_12m(p.data, o.column, p.arm, covariates=cov, level=self.level, cluster=p.cluster)
        unadj = pt.survival.readmission_12m(p.data, o.column, p.arm, level=self.level, cluster=p.cluster)
        eff = self._effects(o, cov)
        arms = adj.arms
        n = int(arms["n"].sum())
        tab = self._arm_rows({"n": arms["n"].to_numpy(), "events": arms["events"].to_numpy(),
                              "proportion": arms["proportion"].to_numpy(), "ci_lb": arms["ci_lb"].to_numpy(),
                              "ci_ub": arms["ci_ub"].to_numpy()})
        disp = pd.DataFrame({"n": tab["n"].map(lambda v: f"{int(v):,}"),
                             "events": tab["events"].map(lambda v: f"{int(v):,}"),
                             f"% (exact {self.pct}% CI)": [f"{100 * r.proportion:.1f} ({100 * r.ci_lb:.1f} to {100 * r.ci_ub:.1f})"
                                                  for r in tab.itertuples()]}, index=tab.index)
        sec.add(self.table(f"{_slug(o.name)}_arms", f"{o.name}: events by arm (participants with the outcome "
                           "observed)", tab, disp))
        a_or = adj.effects.loc["adjusted_odds_ratio"]
        u = unadj.effects
        itt = eff.loc["itt"]
        adj_text = self._adjusted()
        main = [("OR", "logistic regression" + (f", robust SE clustered by {p.cluster}" if p.cluster else ""), a_or, n), ("RD", "linear probability model, robust SE", itt, itt["n"])]
        marginal = eff.attrs.get("itt_marginal")
        if marginal is not None:  # absent under separation on the arm (no finite logistic fit)
            main.append(("RR", "ratio of standardised risks (g-computation) from the logistic regression", marginal.loc["risk_ratio"],
                         int(marginal.attrs["n"])))
        for measure, model, r, nn in main:
            self.record(o, "ITT", measure, bool(p.strata), r["estimate"], r["ci_lb"], r["ci_ub"], r["pval"], nn,
                        "primary" if p.strata else "primary (no stratification factors)", r["se"])
            self._summary_rows.append((o, measure, model + ", " + adj_text, r["estimate"], r["ci_lb"],
                                       r["ci_ub"], r["pval"], nn))
        rows = []
        for measure, key in (("OR", "adjusted_odds_ratio"), ("RD", "risk_difference"), ("RR", "risk_ratio")):
            if not p.strata and any(m == measure for m, *_ in main):
                continue  # identical to the primary analysis
            r = u.loc[key]
            self.record(o, "ITT", measure, False, r["estimate"], r["ci_lb"], r["ci_ub"], r["pval"], n,
                        "sensitivity: unadjusted", r["se"])
            rows.append((f"ITT (randomised): {measure}", "unadjusted (sensitivity)", r["estimate"], r["ci_lb"],
                         r["ci_ub"], r["pval"], n))
        for row in self._populations(o, eff, "RD", f"RD, {adj_text}"):
            rows.append(row)
        if rows:
            sec.add(self._estimates_table(o, rows, "Estimate", 3, f"{_slug(o.name)}_sensitivity",
                                          f"{o.name}: sensitivity analyses and other populations "
                                          "(RD: risk difference; RR: risk ratio; OR: odds ratio; "
                                          "intervention vs control)"))
        self._compliance_figure(o, eff, sec, "Risk difference (intervention - control)")

    def continuous(self, o: Outcome, sec: Section):
        import peertrial as pt

        p = self.plan
        d = p.data
        y = pd.to_numeric(d[o.column], errors="coerce")
        g = d[p.arm]
        stats = [(int(y[g == k].notna().sum()), int(y[g == k].isna().sum()), float(y[g == k].mean()),
                  float(y[g == k].std())) for k in (0, 1)]
        tab = self._arm_rows({"n": [s[0] for s in stats], "missing": [s[1] for s in stats],
                              "mean": [s[2] for s in stats], "sd": [s[3] for s in stats]})
        disp = pd.DataFrame({"n": tab["n"].map(lambda v: f"{int(v):,}"),
                             "missing": tab["missing"].map(lambda v: f"{int(v):,}"),
                             "mean (SD)": [f"{r.mean:,.2f} ({r.sd:,.2f})" for r in tab.itertuples()]},
                            index=tab.index)
        sec.add(self.table(f"{_slug(o.name)}_arms", f"{o.name}: observed values by arm", tab, disp))
        cov = self._covariates(o.baseline)
        eff = self._effects(o, cov)
        unadj = self._effects(o, None) if cov else None
        adj_parts = ([f"baseline {o.baseline}"] if o.baseline else []) + (
            [f"stratification factors ({', '.join(p.strata)}) as factors"] if p.strata else [])
        adj_text = ("ANCOVA adjusted for " + " and ".join(adj_parts)) if adj_parts else "unadjusted"
        mi = None
        strategy = (p.missing or {}).get("strategy", "complete-case")
        if strategy == "multiple-imputation" and y.isna().any():
            m = p.missing.get("m", 20)
            mi = pt.trial.multiple_imputation(d, o.column, p.arm, covariates=cov, m=m, seed=p.seed,
                                              auxiliary=p.missing.get("auxiliary") or None, level=self.level,
                                              method=p.missing.get("method"), by_arm=p.missing.get("by_arm", False))
        itt = eff.loc["itt"]
        rows = []
        if mi is not None:
            r = mi.effect.loc["multiple_imputation"]
            n_mi = int(y.shape[0])
            self.record(o, "ITT", "MD", bool(adj_parts), r["estimate"], r["ci_lb"], r["ci_ub"], r["pval"], n_mi,
                        f"primary: multiple imputation (m = {m})", r["se"])
            self._summary_rows.append((o, "MD", f"{adj_text}; multiple imputation (m = {m}, Rubin's rules)",
                                       r["estimate"], r["ci_lb"], r["ci_ub"], r["pval"], n_mi))
            self.record(o, "ITT", "MD", bool(adj_parts), itt["estimate"], itt["ci_lb"], itt["ci_ub"], itt["pval"],
                        itt["n"], "sensitivity: complete case", itt["se"])
            rows.append(("ITT (randomised)", adj_text + ", complete case (sensitivity)", itt["estimate"],
                         itt["ci_lb"], itt["ci_ub"], itt["pval"], itt["n"]))
        else:
            self.record(o, "ITT", "MD", bool(adj_parts), itt["estimate"], itt["ci_lb"], itt["ci_ub"], itt["pval"],
                        itt["n"], "primary", itt["se"])
            self._summary_rows.append((o, "MD", adj_text + ", complete case", itt["estimate"], itt["ci_lb"],
                                       itt["ci_ub"], itt["pval"], itt["n"]))
        if unadj is not None:
            r = unadj.loc["itt"]
            self.record(o, "ITT", "MD", False, r["estimate"], r["ci_lb"], r["ci_ub"], r["pval"], r["n"],
                        "sensitivity: unadjusted", r["se"])
            rows.append(("ITT (randomised)", "unadjusted (sensitivity)", r["estimate"], r["ci_lb"], r["ci_ub"],
                         r["pval"], r["n"]))
        rows += self._populations(o, eff, "MD", adj_text)
        if rows:
            sec.add(self._estimates_table(o, rows, "Mean difference", 2, f"{_slug(o.name)}_sensitivity",
                                          f"{o.name}: sensitivity analyses and other populations (mean "
                                          "difference, intervention - control)"))
        if mi is not None:
            sec.text(f"Missing values of '{o.column}' were multiply imputed (m = {m}, chained equations, seed "
                     f"{p.seed}) from the arm, the covariates"
                     + (f" and {', '.join(p.missing.get('auxiliary'))}" if p.missing.get("auxiliary") else "")
                     + f"; imputed per arm: {p.control_label} {int(mi.n_imputed.get(0, 0))}, "
                     f"{p.intervention_label} {int(mi.n_imputed.get(1, 0))}.")
        self._compliance_figure(o, eff, sec, "Mean difference (intervention - control)")

    def _compliance_figure(self, o, eff, sec, xlabel):
        if not self.plan.received:
            return
        a = eff.attrs
        sec.text(f"Compliance: {100 * a['compliance_rate']:.1f}% of the {self.plan.intervention_label} arm "
                 f"received the intervention; {100 * a['control_uptake']:.1f}% of the {self.plan.control_label} "
                 f"arm did ({a['contamination']} participants). First-stage F = {a['first_stage_F']:.1f}. As-treated "
                 "and per-protocol compare self-selected groups and are not randomised comparisons; the CACE is "
                 "the randomised effect among compliers (2SLS with the arm as instrument).")

    def time_to_event(self, o: Outcome, sec: Section):
        import peertrial as pt

        p = self.plan
        d = p.data
        km = pt.survival.kaplan_meier(d, o.time, o.event, p.arm, level=self.level)
        cols = [o.time, o.event, p.arm, *p.strata]
        frame = d.dropna(subset=cols)
        events = frame.groupby(p.arm)[o.event].agg(["size", "sum"])
        rm = km.rmst(o.horizon).set_index("group")
        tab = self._arm_rows({"n": events["size"].to_numpy(), "events": events["sum"].astype(int).to_numpy(),
                              "rmst": rm["rmst"].to_numpy(), "rmst_se": rm["se"].to_numpy()})
        unit = o.time_unit
        disp = pd.DataFrame({"n": tab["n"].map(lambda v: f"{int(v):,}"),
                             "events": tab["events"].map(lambda v: f"{int(v):,}"),
                             f"restricted mean to {o.horizon:g} {unit}": tab["rmst"].map(lambda v: f"{v:,.1f}")},
                            index=tab.index)
        sec.add(self.table(f"{_slug(o.name)}_arms", f"{o.name}: events and restricted mean event-free time by "
                           "arm (Kaplan-Meier)", tab, disp))
        adj_text = f"Cox model, {self._adjusted()}"
        cox_adj = pt.survival.cox(d, o.time, o.event, self._covariates(p.arm), cluster=p.cluster, level=self.level)
        cox_un = pt.survival.cox(d, o.time, o.event, [p.arm], cluster=p.cluster, level=self.level)
        if p.cluster:
            adj_text += f", robust SE clustered by {p.cluster}"
        self.record(o, "ITT", "HR", bool(p.strata), cox_adj.hr[p.arm], cox_adj.hr_ci_lb[p.arm],
                    cox_adj.hr_ci_ub[p.arm], cox_adj.pval[p.arm], cox_adj.n, "primary", cox_adj.se[p.arm])
        self._summary_rows.append((o, "HR", adj_text, cox_adj.hr[p.arm], cox_adj.hr_ci_lb[p.arm],
                                   cox_adj.hr_ci_ub[p.arm], cox_adj.pval[p.arm], cox_adj.n))
        diff = km.rmst_diff(o.horizon).iloc[0]
        rows = []
        if p.strata:
            self.record(o, "ITT", "HR", False, cox_un.hr[p.arm], cox_un.hr_ci_lb[p.arm], cox_un.hr_ci_ub[p.arm],
                        cox_un.pval[p.arm], cox_un.n, "sensitivity: unadjusted", cox_un.se[p.arm])
            rows.append(("ITT (randomised): HR", "Cox, unadjusted (sensitivity)", cox_un.hr[p.arm],
                         cox_un.hr_ci_lb[p.arm], cox_un.hr_ci_ub[p.arm], cox_un.pval[p.arm], cox_un.n))
        self.record(o, "ITT", "RMST difference", False, diff["estimate"], diff["ci_lb"], diff["ci_ub"],
                    diff["pval"], int(events["size"].sum()), f"restricted mean to {o.horizon:g} {unit}", diff["se"])
        rows.append((f"ITT (randomised): RMST difference ({unit})", f"Kaplan-Meier, restricted to {o.horizon:g} "
                     f"{unit}, unadjusted", diff["estimate"], diff["ci_lb"], diff["ci_ub"], diff["pval"],
                     int(events["size"].sum())))
        rows += self._received_populations(o, "HR", lambda data, arm: pt.survival.cox(
            data, o.time, o.event, self._covariates(arm), cluster=p.cluster, level=self.level), "Cox model")
        sec.add(self._estimates_table(o, rows, "Estimate", 2, f"{_slug(o.name)}_sensitivity",
                                      f"{o.name}: unadjusted hazard ratio and difference in restricted mean "
                                      f"event-free time (intervention - control)"
                                      + ("; as-treated and per-protocol hazard ratios" if p.received else "")))
        ph = cox_adj.test_ph()
        sec.text(f"Proportional hazards (Grambsch-Therneau test of the adjusted model, KM time transform): "
                 f"global p = {fmt_p(float(ph.loc['GLOBAL', 'pval']))}.")
        sec.add(self.figure(f"{_slug(o.name)}_km", f"{o.name}: Kaplan-Meier curves with {self.pct}% confidence bands and "
                            "numbers at risk", pt.plot.km_plot(km, labels=p.arm_labels, xlabel=unit.capitalize(),
                                                               ylabel="Proportion event-free")))

    def count(self, o: Outcome, sec: Section):
        import peertrial as pt

        p = self.plan
        d = p.data
        cols = [o.column, p.arm, *p.strata] + ([o.exposure] if o.exposure else [])
        frame = d.dropna(subset=cols)
        y = pd.to_numeric(frame[o.column])
        g = frame[p.arm]
        expo = pd.to_numeric(frame[o.exposure]) if o.exposure else pd.Series(1.0, index=frame.index)
        tab = self._arm_rows({"n": [int((g == k).sum()) for k in (0, 1)],
                              "total": [int(y[g == k].sum()) for k in (0, 1)],
                              "exposure": [float(expo[g == k].sum()) for k in (0, 1)]})
        tab["rate"] = tab["total"] / tab["exposure"]
        disp = pd.DataFrame({"n": tab["n"].map(lambda v: f"{int(v):,}"),
                             "total count": tab["total"].map(lambda v: f"{int(v):,}")}, index=tab.index)
        if o.exposure:
            disp[f"total {o.exposure}"] = tab["exposure"].map(lambda v: f"{v:,.0f}")
            disp[f"rate per 1,000 {o.exposure}"] = (1000 * tab["rate"]).map(lambda v: f"{v:,.2f}")
        else:
            disp["mean count"] = tab["rate"].map(lambda v: f"{v:,.2f}")
        sec.add(self.table(f"{_slug(o.name)}_arms", f"{o.name}: counts by arm", tab, disp))
        n = len(frame)
        adj = pt.survival.count_ratio(d, o.column, p.arm, exposure=o.exposure, covariates=self._covariates() or (),
                                      level=self.level, cluster=p.cluster)
        adj_text = f"negative binomial regression, {self._adjusted()}" + (
            f", offset log({o.exposure})" if o.exposure else "") + (
            f", robust SE clustered by {p.cluster}" if p.cluster else "")
        self.record(o, "ITT", "rate ratio", bool(p.strata), adj.estimate, adj.ci_lb, adj.ci_ub, adj.pval, n,
                    "primary", adj.se)
        self._summary_rows.append((o, "rate ratio", adj_text, adj.estimate, adj.ci_lb, adj.ci_ub, adj.pval, n))
        rows = []
        if p.strata:
            un = pt.survival.count_ratio(d, o.column, p.arm, exposure=o.exposure, level=self.level, cluster=p.cluster)
            self.record(o, "ITT", "rate ratio", False, un.estimate, un.ci_lb, un.ci_ub, un.pval, n,
                        "sensitivity: unadjusted", un.se)
            rows.append(("ITT (randomised)", "negative binomial, unadjusted (sensitivity)",
                         un.estimate, un.ci_lb, un.ci_ub, un.pval, n))

        def rate_ratio(data, arm):
            r = pt.survival.count_ratio(data, o.column, arm, exposure=o.exposure,
                                        covariates=self._covariates() or (), level=self.level, cluster=p.cluster)
            used = data.dropna(subset=[o.column, arm, *p.strata] + ([o.exposure] if o.exposure else []))
            return _RatioAsCox(arm, r, len(used))

        rows += self._received_populations(o, "rate ratio", rate_ratio, "negative binomial regression")
        if rows:
            sec.add(self._estimates_table(o, rows, "Rate ratio", 2, f"{_slug(o.name)}_sensitivity",
                                          f"{o.name}: unadjusted rate ratio"
                                          + ("; as-treated and per-protocol rate ratios" if p.received else "")))

    def recurrent(self, o: Outcome, sec: Section):
        """Every event per participant: MCF by arm, Andersen-Gill rate ratio (primary), negative binomial and
        Poisson (robust) rate ratios and the MCF difference at the horizon."""
        import peertrial as pt

        p = self.plan
        idc = p.id
        long = o.events_data
        unit = o.time_unit
        mcf = pt.survival.mcf(long, id=idc, time=o.time, event=o.event, group=p.arm, level=self.level)
        at = mcf.at([o.horizon]).set_index("group")
        per = long.groupby(idc, sort=True).agg(events=(o.event, "sum"), followup=(o.time, "max"))
        per = per.join(long.drop_duplicates(idc).set_index(idc).drop(columns=[o.time, o.event]))
        per = per.reset_index()
        g = per[p.arm]
        tab = self._arm_rows({"n": [int((g == k).sum()) for k in (0, 1)],
                              "events": [int(per.loc[g == k, "events"].sum()) for k in (0, 1)],
                              "followup": [float(per.loc[g == k, "followup"].sum()) for k in (0, 1)],
                              "mcf": [at.at[k, "estimate"] for k in (0, 1)],
                              "mcf_ci_lb": [at.at[k, "ci_lb"] for k in (0, 1)],
                              "mcf_ci_ub": [at.at[k, "ci_ub"] for k in (0, 1)]})
        disp = pd.DataFrame({"n": tab["n"].map(lambda v: f"{int(v):,}"),
                             "events": tab["events"].map(lambda v: f"{int(v):,}"),
                             f"follow-up ({unit})": tab["followup"].map(lambda v: f"{v:,.0f}"),
                             f"mean events per participant by {o.horizon:g} {unit} ({self.pct}% CI)":
                                 [fmt_ci(a, b, c, 2) for a, b, c in zip(tab["mcf"], tab["mcf_ci_lb"], tab["mcf_ci_ub"])]},
                            index=tab.index)
        sec.add(self.table(f"{_slug(o.name)}_arms", f"{o.name}: events by arm and the mean cumulative number of "
                           f"events per participant (MCF, Lawless-Nadeau limits) at {o.horizon:g} {unit}", tab, disp))
        n = len(per)
        rows_cp = pt.survival.counting_process(long, id=idc, time=o.time, event=o.event)
        by = p.cluster or idc
        ag = pt.survival.cox(rows_cp, time="stop", event=o.event, covariates=self._covariates(p.arm), entry="start",
                             cluster=by, level=self.level)
        adj_text = (f"Andersen-Gill Cox model of every event, robust SE clustered by "
                    f"{'participant' if by == idc else by}, {self._adjusted()}")
        self.record(o, "ITT", "rate ratio", bool(p.strata), ag.hr[p.arm], ag.hr_ci_lb[p.arm], ag.hr_ci_ub[p.arm],
                    ag.pval[p.arm], n, "primary: Andersen-Gill", ag.se[p.arm])
        self._summary_rows.append((o, "rate ratio", adj_text, ag.hr[p.arm], ag.hr_ci_lb[p.arm], ag.hr_ci_ub[p.arm],
                                   ag.pval[p.arm], n))
        rows = []
        nb = pt.survival.count_ratio(per, "events", p.arm, exposure="followup", covariates=self._covariates() or (),
                                     level=self.level, cluster=p.cluster)
        nb_text = f"negative binomial, events per participant with offset log(follow-up), {self._adjusted()}"
        self.record(o, "ITT", "rate ratio", bool(p.strata), nb.estimate, nb.ci_lb, nb.ci_ub, nb.pval, n,
                    "sensitivity: negative binomial", nb.se)
        rows.append(("ITT (randomised): rate ratio", nb_text, nb.estimate, nb.ci_lb, nb.ci_ub, nb.pval, n))
        comp = mcf.compare(horizon=o.horizon, reference=0).set_index("measure")
        rr = comp.loc["rate ratio"]
        self.record(o, "ITT", "rate ratio", False, rr["estimate"], rr["ci_lb"], rr["ci_ub"], rr["pval"], n,
                    "sensitivity: events per follow-up, robust (Poisson) variance", rr["se"])
        rows.append(("ITT (randomised): rate ratio", "events per unit of follow-up, robust variance by participant, "
                     "unadjusted", rr["estimate"], rr["ci_lb"], rr["ci_ub"], rr["pval"], n))
        sec.add(self._estimates_table(o, rows, "Rate ratio", 2, f"{_slug(o.name)}_sensitivity",
                                      f"{o.name}: rate ratios (intervention / control) by other models"))
        md = comp.loc[f"MCF difference at {o.horizon:g}"]
        self.record(o, "ITT", "MCF difference", False, md["estimate"], md["ci_lb"], md["ci_ub"], md["pval"], n,
                    f"difference in the mean cumulative function at {o.horizon:g} {unit}", md["se"])
        sec.add(self._estimates_table(o, [(f"ITT (randomised): MCF difference at {o.horizon:g} {unit}",
                                           "Nelson-Aalen MCF by arm, Lawless-Nadeau variance, arms independent",
                                           md["estimate"], md["ci_lb"], md["ci_ub"], md["pval"], n)],
                                      "Difference in events per participant", 2, f"{_slug(o.name)}_mcf_difference",
                                      f"{o.name}: difference in the mean number of events per participant by "
                                      f"{o.horizon:g} {unit} (intervention - control)"))
        sec.add(self.figure(f"{_slug(o.name)}_mcf", f"{o.name}: mean cumulative number of events per participant "
                            f"by arm with {self.pct}% limits",
                            mcf.plot(labels=p.arm_labels, xlabel=unit.capitalize(),
                                     ylabel="Mean number of events per participant")))

    def subgroups(self):
        import peertrial as pt

        p = self.plan
        primary = next(o for o in p.outcomes if o.primary)
        sec = Section("Subgroup analyses", "subgroups")
        if primary.type not in ("continuous", "binary", "cost"):
            sec.text(f"Subgroup analyses are run for a continuous or binary primary outcome; the primary outcome "
                     f"'{primary.name}' is {primary.type.replace('_', ' ')}, so none are reported.")
            self.sections.append(sec)
            return
        measure = "risk difference" if primary.type == "binary" else "mean difference"
        sec.text(f"Effect of {p.intervention_label} vs {p.control_label} on the primary outcome within each "
                 f"subgroup ({measure}, {'adjusted for ' + primary.baseline if primary.baseline else 'unadjusted'}); interaction tests are "
                 "exploratory.")
        for var in p.subgroups:
            res = pt.trial.subgroup_effects(p.data, primary.column, subgroup=var, arm=p.arm,
                                            covariates=[primary.baseline] if primary.baseline else None,
                                            level=self.level)
            e = res.effects
            disp = pd.DataFrame({f"{measure} ({self.pct}% CI)": [fmt_ci(a, b, c, 2) for a, b, c in
                                                         zip(e["estimate"], e["ci_lb"], e["ci_ub"])],
                                 "p": e["pval"].map(fmt_p)}, index=e.index)
            if "n" in e:
                disp["n"] = e["n"].map(lambda v: f"{int(v):,}")
            sec.add(self.table(f"subgroup_{_slug(var)}", f"{primary.name} by {var}: interaction "
                               f"F({res.df1}, {res.df2}) = {res.F:.2f}, p = {fmt_p(res.pval)}", e, disp))
        self.sections.append(sec)

    def fidelity(self):
        import peertrial as pt

        p = self.plan
        f = p.fidelity
        sec = Section("Intervention fidelity", "fidelity")
        scale = tuple(f["scale"]) if "scale" in f else None
        scores = pt.fidelity.score_fidelity(p.fidelity_ratings, peer_worker=f["peer_worker"], rater=f["rater"],
                                            session=f["session"], domain=f["domain"], item=f["item"],
                                            score=f["score"], scale=scale)
        workers = scores.by_worker()
        cols = [*scores.domains, "total"]
        desc = pd.DataFrame({"peer workers": [int(workers[c].notna().sum()) for c in cols],
                             "mean": [workers[c].mean() for c in cols], "sd": [workers[c].std() for c in cols],
                             "min": [workers[c].min() for c in cols], "max": [workers[c].max() for c in cols]},
                            index=pd.Index(cols, name="domain"))
        disp = pd.DataFrame({"peer workers": desc["peer workers"].map(lambda v: f"{int(v):,}"),
                             "mean (SD)": [f"{m:.2f} ({sd:.2f})" for m, sd in zip(desc["mean"], desc["sd"])],
                             "range": [f"{a:.2f} to {b:.2f}" for a, b in zip(desc["min"], desc["max"])]},
                            index=desc.index)
        sec.text(f"Fidelity ratings ({f['ratings_path'].name}) scored per rated session; a peer worker's score is "
                 "the mean over their rated sessions.")
        sec.add(self.table("fidelity_scores", "Fidelity scores of the peer workers by domain", desc, disp))
        alpha = pt.fidelity.cronbach_alpha(scores, level=self.level).to_frame()
        disp = pd.DataFrame({"items": alpha["n_items"].map(lambda v: f"{int(v):,}"),
                             "sessions": alpha["n"].map(lambda v: f"{int(v):,}"),
                             f"alpha ({self.pct}% CI)": [fmt_ci(a, b, c, 2) for a, b, c in
                                                         zip(alpha["alpha"], alpha["ci_lb"], alpha["ci_ub"])]},
                            index=alpha.index)
        sec.add(self.table("fidelity_alpha", "Internal consistency of the fidelity scale (Cronbach's alpha, Feldt "
                           "CI)", alpha, disp))
        if p.fidelity_ratings[f["rater"]].nunique() > 1:
            icc = pt.fidelity.icc(scores, ratings="total", level=self.level).to_frame()
            icc = icc.drop(columns=[c for c in ("description", "psych") if c in icc])
            row = icc.loc[["ICC(2,1)"]] if "ICC(2,1)" in icc.index else icc.iloc[:1]
            disp = pd.DataFrame({f"ICC ({self.pct}% CI)": [fmt_ci(r["icc"], r["ci_lb"], r["ci_ub"], 2)
                                                          for _, r in row.iterrows()]}, index=row.index)
            sec.add(self.table("fidelity_icc", "Inter-rater agreement on the total fidelity score (two-way random "
                               "effects, single rater)", row, disp))
        if "outcome" in f:
            o = next(x for x in p.outcomes if x.name == f["outcome"])
            res = pt.fidelity.fidelity_moderation(p.data, scores, o.column, peer_worker=f["peer_worker"], arm=p.arm,
                                                  covariates=[o.baseline] if o.baseline else None, level=self.level)
            fr = res.to_frame()
            r = fr.loc["fidelity"]
            sec.text(f"{o.name} in the {p.intervention_label} arm on the peer worker's fidelity score (random "
                     f"peer-worker effect{', adjusted for ' + o.baseline if o.baseline else ''}): "
                     f"{fmt_ci(r['estimate'], r['ci_lb'], r['ci_ub'], 2)} per point of fidelity, p = {fmt_p(r['pval'])}. "
                     "This is NOT a randomised comparison: fidelity was not allocated at random.")
        self.sections.append(sec)

    def economics(self):
        import peertrial as pt

        p = self.plan
        e = p.economics
        wtp = float(e.get("wtp", 20000))
        cur = e.get("currency", "GBP")
        label = e.get("effect_label", "QALY")
        sec = Section("Economic evaluation", "economics")
        res = pt.econ.cea(p.data, cost=e["cost"], effect=e["effect"], arm=p.arm, n_boot=e.get("n_boot", 2000),
                          seed=p.seed, wtp=wtp, currency=cur, effect_label=label, missing="drop", level=self.level)
        frame = res.to_frame()
        names = {"delta_cost": f"Incremental cost ({cur})", "delta_effect": f"Incremental effect ({label})"}
        rows = frame.loc[[k for k in names if k in frame.index]]
        disp = pd.DataFrame({f"estimate ({self.pct}% CI)": [fmt_ci(r["estimate"], r["ci_lb"], r["ci_ub"],
                                                                   _ci_digits(r["ci_lb"], r["ci_ub"]))
                                                   for _, r in rows.iterrows()]},
                            index=[names[k] for k in rows.index])
        prob = float(res.ceac([wtp])["prob_cost_effective"].iloc[0])
        icer = "undefined" if not np.isfinite(res.icer) else f"{res.icer:,.0f} {cur} per {label}"
        disp.loc["ICER"] = icer
        disp.loc[f"Probability cost-effective at {wtp:,.0f} {cur} per {label}"] = f"{prob:.2f}"
        sec.text(f"Costs ('{e['cost']}') and effects ('{e['effect']}'), {p.intervention_label} vs {p.control_label}; "
                 f"bootstrap with {res.n_boot:,} replicates (seed {p.seed}); participants missing either are "
                 "dropped.")
        sec.add(self.table("economics", "Incremental cost, effect and cost-effectiveness", frame, disp))
        sec.add(self.figure("ce_plane", "Cost-effectiveness plane (bootstrap replicates)", res.plot(kind="plane")))
        sec.add(self.figure("ceac", "Cost-effectiveness acceptability curve", res.plot(kind="ceac")))
        self.sections.append(sec)

    def summary(self) -> Section:
        p = self.plan
        sec = Section("Summary of results", "summary")
        n = len(p.data)
        n1 = int((p.data[p.arm] == 1).sum())
        text = (f"{n:,} participants were randomised: {n - n1:,} to {p.control_label} and {n1:,} to "
                f"{p.intervention_label}.")
        if p.strata:
            text += f" Randomisation was stratified by {', '.join(p.strata)}; the primary analyses adjust for them."
        if p.description:
            text = p.description.strip() + "\n\n" + text
        sec.text(text)
        rows = []
        for o, measure, model, est, lo, hi, pv, nn in self._summary_rows:
            rows.append({"outcome": o.name, "role": "primary" if o.primary else "secondary", "measure": measure,
                         "model": model, "estimate": est, "ci_lb": lo, "ci_ub": hi, "pval": pv, "n": int(nn)})
        data = pd.DataFrame(rows)
        data["_order"] = data["role"].map({"primary": 0, "secondary": 1})
        data = data.sort_values("_order", kind="stable").drop(columns="_order").set_index("outcome")
        disp = pd.DataFrame({
            "Measure": data["measure"].to_numpy(),
            f"Estimate ({self.pct}% CI)": [fmt_ci(r.estimate, r.ci_lb, r.ci_ub, _digits(r.measure)) for r in data.itertuples()],
            "p": data["pval"].map(fmt_p).to_numpy(), "n": data["n"].map(lambda v: f"{int(v):,}").to_numpy(),
            "Analysis": data["model"].to_numpy()},
            index=[f"{o} ({r})" for o, r in zip(data.index, data["role"])])
        disp.index.name = "Outcome"
        sec.add(self.table("summary", f"Intention-to-treat effects of {p.intervention_label} vs {p.control_label} "
                           "(OR: odds ratio; RD: risk difference; RR: risk ratio; MD: mean difference; HR: hazard ratio; "
                           f"{self.pct}% confidence intervals)", data, disp))
        return sec


def _f(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def _slug(s: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")[:40]


def analyse(plan: Plan) -> Report:
    """Run every analysis of ``plan`` in memory; warnings raised by the estimators are kept as notes."""
    runner = _Runner(plan)
    runner._summary_rows = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = runner.run()
    notes = []
    for w in caught:
        msg = str(w.message)
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)) or msg in notes:
            continue
        notes.append(msg)
    report.notes = notes
    # summary first (its table is numbered last while it is built; renumber in reading order)
    _renumber(report)
    return report


def _renumber(report: Report) -> None:
    import re

    t = f = 0
    for sec in [report.summary, *report.sections]:
        for b in sec.blocks:
            if isinstance(b, Table):
                t += 1
                b.caption = re.sub(r"^Table \d+\.", f"Table {t}.", b.caption)
            elif isinstance(b, Figure):
                f += 1
                b.caption = re.sub(r"^Figure \d+\.", f"Figure {f}.", b.caption)


class _RatioAsCox:
    """A count-model ratio exposed with the Cox result's attribute names (one code path above)."""

    def __init__(self, arm, r, n: int):
        self.hr, self.hr_ci_lb, self.hr_ci_ub = {arm: r.estimate}, {arm: r.ci_lb}, {arm: r.ci_ub}
        self.pval, self.se, self.n = {arm: r.pval}, {arm: r.se}, n
