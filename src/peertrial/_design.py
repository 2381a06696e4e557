"""The one model-specification layer: covariates -> design matrix, as R's ``model.matrix``.

Every model in peertrial (trial effects and mixed models, readmission and count models,
Cox and Fine–Gray, CEA adjustment, process models, balance tables, meta-regression) builds
its covariate columns here, with `formulaic <https://matthewwardrop.github.io/formulaic/>`_
underneath. It is part of the validation layer (:mod:`peertrial._data`).

Covariates are given either as a list of column names (``["age", "site"]``) or as an
R-style right-hand side (``"arm + C(site) + age"``, a leading ``~`` is optional; ``*``,
``:``, ``-``, ``I()`` and numpy functions work as in formulaic). A list is the formula of
its columns joined by ``+``.

The typing rule (one for every model, :func:`peertrial._data.is_factor`):

- numeric columns are numeric, **and so are text columns whose every value is a number**
  (``"2001"``): such a column enters as one column (a linear trend), as R would treat
  ``as.numeric(x)``;
- other text columns, categorical and boolean columns, columns written ``C(x)`` in the
  formula and columns listed in ``factors=`` (a shorthand for ``C()``) are factors;
- a text column mixing numbers and other text raises ``ValueError`` naming the rows.

Factors use treatment coding with the first level as reference: levels are the observed
values sorted as R's ``factor()`` sorts them (numbers numerically, text alphabetically;
a pandas Categorical keeps its own category order; unused levels are dropped). Columns and
terms are named and ordered as R names them for a factor column: ``site2``,
``diagnosispsychotic``, ``okTRUE``, ``arm:site2`` (the ``C()`` wrapper is a typing
instruction and does not appear in names); terms are ordered by degree, main effects first,
in the order written (R's ``terms()``). Without an intercept (``intercept=False``) the first
factor is coded with a column for every level, as in R.

Rank deficiency follows R: :func:`aliased` finds the columns that are linear combinations of
the columns before them (``lm``'s pivoting QR, tolerance ``1e-7``); models report their
coefficients as NaN (R's ``NA``) with a :class:`~peertrial.PeertrialWarning` naming them and
count degrees of freedom without them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._warnings import PeertrialWarning

__all__ = ["Design", "build", "variables", "aliased", "drop_aliased", "as_list", "factor_levels"]

_C_CALL = re.compile(r"\bC\(\s*(`[^`]+`|[A-Za-z_][\w.]*)\s*\)")
_LEVEL = re.compile(r"^(.*)\[(?:T\.)?(.*)\]$")


def as_list(columns) -> list:
    """``None`` -> ``[]``, a string -> ``[string]``, else a list."""
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    return list(columns)


def factor_levels(values) -> list:
    """Sorted distinct non-missing values (R's ``factor()`` order); mixed types sort by their text."""
    levels = [v for v in pd.unique(np.asarray(values, dtype=object)) if not _missing(v)]
    try:
        return sorted(levels)
    except TypeError:
        return sorted(levels, key=str)


def _missing(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _label(v) -> str:
    """A level as R prints it: ``2`` not ``2.0``, ``TRUE``/``FALSE`` for booleans."""
    if isinstance(v, (bool, np.bool_)):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _quote(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_]\w*", name) else f"`{name}`"


_DOTTED = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.\w+)+)(?![\w.])(?!\s*\()")


def _quote_dotted(text: str) -> str:
    """Backtick R-style dotted names (``ph.ecog``) outside backticks; ``np.log(`` stays a call."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = _DOTTED.sub(lambda m: f"`{m.group(1)}`", parts[i])
    return "`".join(parts)


def _is_formula(covariates) -> bool:
    return isinstance(covariates, str)


def _formula_text(covariates) -> str:
    """Right-hand side text: the formula as given (without ``~``) or the list joined by ``+``."""
    if _is_formula(covariates):
        text = covariates.strip()
        if text.startswith("~"):
            text = text[1:].strip()
        if not text:
            raise ValueError("covariates formula is empty; give e.g. 'arm + C(site) + age'")
        return text
    cols = as_list(covariates)
    for c in cols:
        if not isinstance(c, str):
            raise ValueError(f"covariates must be column names or a formula string, got {c!r}")
    return " + ".join(_quote(c) for c in cols) if cols else "1"


def _parse(covariates, factors) -> tuple[str, list[str], list[str]]:
    """(formula text with ``C(x)`` replaced by ``x``, needed columns, factor columns)."""
    from formulaic import Formula

    text = _formula_text(covariates)
    factor_cols = list(as_list(factors))

    def repl(m):
        name = m.group(1).strip("`")
        if name not in factor_cols:
            factor_cols.append(name)
        return _quote(name)

    text = _quote_dotted(_C_CALL.sub(repl, text))
    try:
        needed = {str(v) for v in Formula(text).required_variables}
        for q in re.findall(r"`([^`]+)`", text):  # formulaic reports `ph.ecog` as 'ph'
            needed.add(q)
            base = re.split(r"\W", q)[0]
            if base != q and not re.search(rf"(?<![\w.`]){re.escape(base)}(?![\w.`])", text):
                needed.discard(base)
        needed = sorted(needed, key=lambda v: text.find(v))
    except Exception as exc:  # formulaic's parser errors: say which formula
        raise ValueError(f"cannot read the covariates formula {covariates!r}: {exc}") from exc
    return text, [str(v) for v in needed], factor_cols


def variables(covariates, factors=()) -> list[str]:
    """Columns of the data that ``covariates`` (list or formula) needs, in order of appearance."""
    if covariates is None or (not _is_formula(covariates) and not as_list(covariates)):
        return []
    return _parse(covariates, factors)[1]


@dataclass(frozen=True, eq=False)
class Design:
    """A design matrix with R-style column names and the recipe to rebuild it on new data."""

    X: np.ndarray
    names: list[str]
    index: pd.Index
    terms: list[str]  # R-style term label of each column
    variables: list[str]
    factors: dict = field(default_factory=dict)  # column -> (levels, labels)
    _spec: object = field(default=None, repr=False)
    _drop_intercept: bool = False

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.X, index=self.index, columns=self.names)

    def new(self, data) -> np.ndarray:
        """The same columns for ``data`` (prediction): same levels, same coding."""
        frame = _data.as_frame(data, what="newdata")
        _data.require_columns(frame, self.variables)
        typed = _typed(frame, self.variables, self.factors, None)
        mm = self._spec.get_model_matrix(typed, na_action="raise")
        X = np.asarray(mm, dtype=float)
        return X[:, 1:] if self._drop_intercept else X


def _typed(frame: pd.DataFrame, needed, fixed_levels: dict | None, factor_cols, fix_of=None) -> pd.DataFrame:
    """Columns of ``needed`` converted by the typing rule: float, or Categorical of R labels."""
    out = {}
    levels_out = {} if fixed_levels is None else None
    for col in needed:
        s = frame[col]
        if fixed_levels is not None:
            factor = col in fixed_levels
        else:
            factor = _data.is_factor(s, col, factor_cols, fix=fix_of(col) if fix_of else None)
        if not factor:
            out[col] = _data.numeric(s, col)
            continue
        if fixed_levels is not None:
            levels, labels = fixed_levels[col]
            unknown = ~s.isin(levels).to_numpy() & s.notna().to_numpy()
            if unknown.any():
                raise ValueError(f"column {col!r} has level(s) {factor_levels(s[unknown])[:5]} not seen "
                                 f"when the model was fitted (levels {labels}), at rows "
                                 f"{_data.row_labels(s.index, unknown)}")
        else:
            if isinstance(s.dtype, pd.CategoricalDtype):
                present = set(pd.unique(s.dropna()))
                levels = [c for c in s.cat.categories if c in present]
            else:
                levels = factor_levels(s.to_numpy())
            labels = [_label(v) for v in levels]
            if len(set(labels)) < len(labels):  # e.g. 1 and "1": keep them apart
                labels = [repr(v) for v in levels]
            levels_out[col] = (levels, labels)
        mapping = dict(zip(levels, labels))
        values = [mapping.get(v) if not _missing(v) else None for v in s.to_numpy(dtype=object)]
        out[col] = pd.Categorical(values, categories=labels)
    typed = pd.DataFrame(out, index=frame.index)
    if levels_out is not None:
        typed.attrs["levels"] = levels_out
    return typed


def _r_name(name: str) -> str:
    if name == "Intercept":
        return "(Intercept)"
    parts = []
    for part in name.split(":"):
        m = _LEVEL.match(part)
        parts.append(f"{m.group(1)}{m.group(2)}" if m else part)
    return ":".join(parts)


def build(data: pd.DataFrame, covariates, factors=(), *, intercept: bool | str = "drop",
          what: str = "covariates") -> Design:
    """Design matrix of ``covariates`` on the rows of ``data`` (no missing values allowed).

    Parameters
    ----------
    data : DataFrame holding the needed columns; rows with missing values must have been
        dropped before (``_data.drop_missing`` on :func:`variables`), so rows stay aligned.
    covariates : list of column names, or an R-style right-hand side such as
        ``"arm + C(site) + age"``.
    factors : columns to treat as factors whatever their type (shorthand for ``C()``).
    intercept : ``True`` keeps the ``(Intercept)`` column; ``"drop"`` codes factors as in a
        model with an intercept and removes that column (the covariate block of a model
        whose intercept or baseline comes from elsewhere, as ``coxph``); ``False`` builds
        the model without an intercept (R's ``- 1``: the first factor gets every level).

    Returns
    -------
    Design with ``X`` (n, p), R-style ``names``, ``terms`` and the recipe ``new(data)``.
    """
    from formulaic import model_matrix

    frame = _data.as_frame(data)
    text, needed, factor_cols = _parse(covariates, factors)
    _data.require_columns(frame, needed)
    missing = frame[needed].isna().any(axis=1).to_numpy() if needed else np.zeros(len(frame), bool)
    if missing.any():
        raise ValueError(f"{what}: missing values at rows {_data.row_labels(frame.index, missing)}")
    def fix(col):
        return f"write C({col}) in the covariates formula (or factors=[{col!r}] where offered)"

    typed = _typed(frame, needed, None, factor_cols, fix)
    levels = typed.attrs.get("levels", {})
    rhs = text if intercept else f"{text} - 1"
    if not needed and text.strip() in ("1", ""):
        X = np.ones((len(frame), 1)) if intercept is True else np.empty((len(frame), 0))
        return Design(X, ["(Intercept)"] if intercept is True else [], frame.index,
                      ["(Intercept)"] if intercept is True else [], [], {}, None, intercept == "drop")
    try:
        mm = model_matrix(rhs, typed if needed else pd.DataFrame(index=frame.index), na_action="raise")
    except Exception as exc:
        raise ValueError(f"cannot build the design of {what} {covariates!r}: {exc}") from exc
    spec = mm.model_spec
    X = np.asarray(mm, dtype=float)
    names = [_r_name(str(c)) for c in mm.columns]
    term_of = [""] * len(names)
    for term, idx in spec.term_indices.items():
        label = ":".join(_r_name(str(f)) for f in term.factors) if str(term) != "1" else "(Intercept)"
        for i in idx:
            term_of[i] = label
    if intercept == "drop" and names and names[0] == "(Intercept)":
        X, names, term_of = X[:, 1:], names[1:], term_of[1:]
    return Design(X, names, frame.index, term_of, needed, levels, spec, intercept == "drop")


def aliased(X: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Boolean mask of columns that are linear combinations of the columns before them.

    R's rule for ``lm``/``glm`` (LINPACK ``dqrdc2``): a column whose norm after projecting
    out the previously kept columns falls below ``tol`` times its original norm is aliased
    (coefficient ``NA``). All-zero columns are aliased.
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    out = np.zeros(p, dtype=bool)
    Q = np.empty((n, 0))
    for j in range(p):
        x = X[:, j]
        norm = np.linalg.norm(x)
        if norm == 0 or not np.isfinite(norm):
            out[j] = True
            continue
        r = x - Q @ (Q.T @ x)
        r = r - Q @ (Q.T @ r)  # re-orthogonalise (classical Gram–Schmidt twice)
        rn = np.linalg.norm(r)
        if rn < tol * norm:
            out[j] = True
        else:
            Q = np.column_stack([Q, r / rn])
    return out


def drop_aliased(X: np.ndarray, names: Sequence[str], *, what: str = "model", protect: Sequence[str] = (),
                 stacklevel: int = 3, tol: float = 1e-7) -> np.ndarray:
    """Mask of the columns to keep; warns naming the aliased ones (reported NaN, as R's ``NA``).

    ``protect``: columns that must be estimable (e.g. the arm): if one of them is aliased,
    ``ValueError`` says which columns it is confounded with.
    """
    bad = aliased(X, tol)
    if not bad.any():
        return ~bad
    names = list(names)
    hit = [n for n, b in zip(names, bad) if b]
    lost = [n for n in protect if n in hit]
    if lost:
        raise ValueError(f"{what}: {lost} is a linear combination of the other design columns "
                         f"({[n for n, b in zip(names, bad) if not b]}); it is not estimable. Remove or "
                         "recode the covariates confounded with it.")
    warnings.warn(f"{what}: coefficient(s) {hit} not estimable (aliased: linear combinations of the "
                  "columns before them, as R reports NA); they are reported as NaN and the degrees of "
                  "freedom count only estimable coefficients", PeertrialWarning, stacklevel=stacklevel)
    return ~bad


def spec(covariates):
    """``covariates`` as given, normalised: a formula string stays a string, anything else a list."""
    return covariates if isinstance(covariates, str) else as_list(covariates)


def combine(first: Sequence[str], covariates):
    """The columns ``first`` followed by ``covariates`` (a list stays a list; a formula grows)."""
    if isinstance(covariates, str):
        head = " + ".join(_quote(c) for c in first)
        return f"{head} + {_formula_text(covariates)}" if head else covariates
    return [*first, *as_list(covariates)]


def describe(covariates) -> str:
    """Covariates as text for messages and method labels (``a + b``)."""
    if isinstance(covariates, str):
        return _formula_text(covariates)
    return " + ".join(as_list(covariates))


def factor_columns(frame: pd.DataFrame, covariates, factors=()) -> list[str]:
    """Columns of ``covariates`` that enter as factors under the typing rule."""
    _, needed, factor_cols = _parse(covariates, factors) if variables(covariates, factors) else ("", [], [])
    return [c for c in needed if _data.is_factor(frame[c], c, factor_cols)]


def without(covariates, column: str, factors=()):
    """``(covariates, factors)`` with every term that involves ``column`` removed."""
    if not isinstance(covariates, str):
        return [c for c in as_list(covariates) if c != column], [f for f in as_list(factors) if f != column]
    from formulaic import Formula

    text, _, factor_cols = _parse(covariates, factors)
    kept = []
    for term in Formula(text):
        names = [str(f) for f in term.factors]
        if str(term) == "1" or column in names:
            continue
        kept.append(":".join(_quote(n) for n in names))
    return (" + ".join(kept) if kept else []), [f for f in factor_cols if f != column]


def aliased_information(info: np.ndarray, toler: float = np.finfo(float).eps ** 0.75) -> np.ndarray:
    """Aliased columns from an information matrix, by R's ``cholesky2`` rule (``coxph``).

    The symmetric matrix is factored in column order; a pivot below ``toler`` times the
    largest diagonal element marks its column as not estimable (``coxph`` reports ``NA``),
    e.g. a covariate constant within every stratum.
    """
    A = np.array(info, dtype=float, copy=True)
    p = A.shape[0]
    out = np.zeros(p, dtype=bool)
    diag = np.diag(A)
    eps = (np.max(diag) if p and np.isfinite(diag).all() else 0.0) * toler
    for i in range(p):
        pivot = A[i, i]
        if not np.isfinite(pivot) or pivot < eps or pivot <= 0:
            out[i] = True
            continue
        col = A[i + 1:, i] / pivot
        A[i + 1:, i + 1:] -= np.outer(col, A[i, i + 1:])
    return out


def join(*specs):
    """Several covariate specifications as one: lists concatenate; with a formula, one formula."""
    specs = [spec(s) for s in specs]
    if not any(isinstance(s, str) for s in specs):
        return [c for s in specs for c in s]
    return " + ".join(_formula_text(s) for s in specs if isinstance(s, str) or s)


def from_cli(values):
    """``--covariates`` as given on a command line: column names, or one quoted formula
    (``--covariates "arm + C(site) + age"``) when a single value holds formula syntax."""
    if values is None:
        return None
    values = list(values)
    if len(values) == 1 and re.search(r"[+*:()~]|\s-\s", values[0]):
        return values[0]
    return values
