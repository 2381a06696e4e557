"""Published meta-analysis datasets with their citations and published results.

Each dataset is a CSV beside this file, described in ``catalog.json`` with the
full citation of the source, where the per-study figures were printed, and the
pooled results the authors printed (``published(name)``), so that a re-analysis
can be checked against the paper digit by digit (``tests/meta/test_datasets.py``).

>>> import peertrial as pt
>>> pt.datasets.list_datasets()
['bcg', 'hackshaw1998', 'hine1989', 'normand1999']
>>> bcg = pt.datasets.load("bcg")
>>> print(pt.datasets.citation("bcg"))                     # doctest: +ELLIPSIS
Colditz, G. A., ...

No peer-support meta-analysis printing per-study data in its text could be
found for this release; the datasets are classic, fully reproducible teaching
examples from medicine and health-services research.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

__all__ = [
    "list_datasets",
    "load",
    "citation",
    "describe",
    "published",
    "published_studies",
    "load_bcg",
    "load_normand1999",
    "load_hine1989",
    "load_hackshaw1998",
]

_Z975 = 1.959963984540054  # qnorm(0.975), as used to back-calculate Hackshaw's variances


@cache
def _catalog() -> dict:
    text = resources.files(__name__).joinpath("catalog.json").read_text(encoding="utf-8")
    return json.loads(text)


def _entry(name: str) -> dict:
    catalog = _catalog()
    if name not in catalog:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(sorted(catalog))}")
    return catalog[name]


def list_datasets() -> list[str]:
    """Names of the shipped datasets, sorted.

    Returns
    -------
    list of str

    Notes
    -----
    R equivalent: none (catalogue metadata); the data themselves are the ``metadat``
    datasets (metadat 1.2-0), e.g. ``help(dat.bcg)`` prints the citation.

    References
    ----------
    .. [1] White, T., Noble, D., Senior, A., Hamilton, W. K., & Viechtbauer, W. (2022). metadat:
       Meta-Analysis Datasets. R package version 1.2-0.

    Examples
    --------
    >>> pt.datasets.list_datasets()
    ['bcg', 'hackshaw1998', 'hine1989', 'normand1999']
    """
    return sorted(_catalog())


def citation(name: str) -> str:
    """Full reference of the study that produced dataset ``name``.

    Parameters
    ----------
    name : str
        A dataset name from :func:`list_datasets`.

    Returns
    -------
    str

    Notes
    -----
    R equivalent: none (catalogue metadata); the data themselves are the ``metadat``
    datasets (metadat 1.2-0), e.g. ``help(dat.bcg)`` prints the citation.

    References
    ----------
    .. [1] White, T., Noble, D., Senior, A., Hamilton, W. K., & Viechtbauer, W. (2022). metadat:
       Meta-Analysis Datasets. R package version 1.2-0.

    Examples
    --------
    >>> pt.datasets.citation("bcg")[:29]
    'Colditz, G. A., Brewer, T. F.'
    """
    return _entry(name)["citation"]


def describe(name: str) -> str:
    """Title, columns, citation and where the data and results were printed.

    Parameters
    ----------
    name : str
        A dataset name from :func:`list_datasets`.

    Returns
    -------
    str

    Notes
    -----
    R equivalent: none (catalogue metadata); the data themselves are the ``metadat``
    datasets (metadat 1.2-0), e.g. ``help(dat.bcg)`` prints the citation.

    References
    ----------
    .. [1] White, T., Noble, D., Senior, A., Hamilton, W. K., & Viechtbauer, W. (2022). metadat:
       Meta-Analysis Datasets. R package version 1.2-0.

    Examples
    --------
    >>> print(pt.datasets.describe("bcg").splitlines()[0])
    BCG vaccine against tuberculosis: 13 trials (2x2 tables)
    """
    e = _entry(name)
    return "\n".join(
        [
            e["title"],
            "",
            e["description"],
            "",
            f"Source: {e['citation']}",
            f"Published analysis: {e['published_in']}",
            f"Data: {e['data_source']}",
        ]
    )


def published(name: str) -> list[dict]:
    """The pooled results printed in the source, one dict per analysis.

    Each dict holds ``analysis`` (text), ``where`` (page/table), ``escalc`` and
    ``rma`` (the arguments that reproduce it), ``transform`` (``"exp"`` when the
    paper reports back-transformed ratios), ``figures`` (name -> printed value)
    and ``digits`` (decimals printed, an int or a dict per figure).

    Parameters
    ----------
    name : str
        A dataset name from :func:`list_datasets`.

    Returns
    -------
    list of dict

    Notes
    -----
    R equivalent: none (catalogue metadata); the data themselves are the ``metadat``
    datasets (metadat 1.2-0), e.g. ``help(dat.bcg)`` prints the citation.

    References
    ----------
    .. [1] White, T., Noble, D., Senior, A., Hamilton, W. K., & Viechtbauer, W. (2022). metadat:
       Meta-Analysis Datasets. R package version 1.2-0.

    Examples
    --------
    >>> sorted(pt.datasets.published("bcg")[0])
    ['analysis', 'digits', 'escalc', 'figures', 'notes', 'rma', 'transform', 'where']
    """
    return json.loads(json.dumps(_entry(name)["published"]))  # a deep copy


def published_studies(name: str) -> dict | None:
    """Per-study effect sizes as printed in the source (when it printed them).

    Parameters
    ----------
    name : str
        A dataset name from :func:`list_datasets`.

    Returns
    -------
    dict or None
        None when the source printed no per-study effect sizes.

    Notes
    -----
    R equivalent: none (catalogue metadata); the data themselves are the ``metadat``
    datasets (metadat 1.2-0), e.g. ``help(dat.bcg)`` prints the citation.

    References
    ----------
    .. [1] White, T., Noble, D., Senior, A., Hamilton, W. K., & Viechtbauer, W. (2022). metadat:
       Meta-Analysis Datasets. R package version 1.2-0.

    Examples
    --------
    >>> pt.datasets.published_studies("bcg") is None
    True
    >>> pt.datasets.published_studies("normand1999") is None
    False
    """
    e = _entry(name).get("published_studies")
    return None if e is None else json.loads(json.dumps(e))


def load(name: str) -> pd.DataFrame:
    """Dataset ``name`` as a new DataFrame (one row per study).

    Parameters
    ----------
    name : str
        A dataset name from :func:`list_datasets`.

    Returns
    -------
    pandas.DataFrame
        One row per study; a new frame on every call.

    Notes
    -----
    R equivalent: the ``metadat`` datasets (metadat 1.2-0), e.g. ``dat.bcg`` for ``"bcg"``.

    References
    ----------
    .. [1] Colditz, G. A., et al. (1994). Efficacy of BCG vaccine in the prevention of
       tuberculosis: meta-analysis of the published literature. JAMA, 271, 698-702.

    Examples
    --------
    >>> pt.datasets.load("bcg").shape
    (13, 9)
    """
    e = _entry(name)
    with resources.files(__name__).joinpath(e["file"]).open("r", encoding="utf-8") as fh:
        frame = pd.read_csv(fh)
    if name == "hackshaw1998":
        frame["yi"] = np.log(frame["or"])
        frame["vi"] = ((np.log(frame["or_ub"]) - np.log(frame["or_lb"])) / (2 * _Z975)) ** 2
    return frame


def load_bcg() -> pd.DataFrame:
    """BCG vaccine trials (Colditz et al. 1994): 2x2 tables, latitude, allocation.

    Returns
    -------
    pandas.DataFrame
        One row per trial: ``trial, author, year, tpos, tneg, cpos, cneg`` (TB cases and
        non-cases by arm), ``ablat`` (absolute latitude), ``alloc`` (allocation method).

    Notes
    -----
    R equivalent: ``metadat::dat.bcg`` (metadat 1.2-0).

    References
    ----------
    .. [1] Colditz, G. A., Brewer, T. F., Berkey, C. S., Wilson, M. E., Burdick, E., Fineberg,
       H. V., & Mosteller, F. (1994). Efficacy of BCG vaccine in the prevention of
       tuberculosis: meta-analysis of the published literature. JAMA, 271, 698-702.

    Examples
    --------
    >>> pt.datasets.load_bcg().shape
    (13, 9)
    """
    return load("bcg")


def load_normand1999() -> pd.DataFrame:
    """Stroke length-of-stay studies (Normand 1999, Table VIII): means, SDs, sizes.

    Returns
    -------
    pandas.DataFrame
        One row per study: ``study, source`` and ``n1i, m1i, sd1i, n2i, m2i, sd2i`` (size, mean
        and SD of length of stay in days, specialist care then routine care).

    Notes
    -----
    R equivalent: ``metadat::dat.normand1999`` (metadat 1.2-0).

    References
    ----------
    .. [1] Normand, S.-L. T. (1999). Meta-analysis: formulating, evaluating, combining, and
       reporting. Statistics in Medicine, 18, 321-359.

    Examples
    --------
    >>> pt.datasets.load_normand1999().shape
    (9, 8)
    """
    return load("normand1999")


def load_hine1989() -> pd.DataFrame:
    """Lidocaine mortality trials (Hine et al. 1989; Normand 1999, Table I).

    Returns
    -------
    pandas.DataFrame
        One row per trial: ``study, source`` and ``n1i, n2i, ai, ci`` (patients and deaths,
        lidocaine then control).

    Notes
    -----
    R equivalent: ``metadat::dat.hine1989`` (metadat 1.2-0).

    References
    ----------
    .. [1] Hine, L. K., Laird, N., Hewitt, P., & Chalmers, T. C. (1989). Meta-analytic evidence
       against prophylactic use of lidocaine in acute myocardial infarction. Archives of
       Internal Medicine, 149, 2694-2698.

    Examples
    --------
    >>> pt.datasets.load_hine1989().shape
    (6, 6)
    """
    return load("hine1989")


def load_hackshaw1998() -> pd.DataFrame:
    """Passive smoking and lung cancer (Hackshaw et al. 1997): ORs, CIs, yi, vi.

    Returns
    -------
    pandas.DataFrame
        One row per study: ``study, author, year, country, design, cases``, the printed odds
        ratio and limits ``or, or_lb, or_ub``, and ``yi`` (log OR) and ``vi`` (its variance
        from the 95% limits).

    Notes
    -----
    R equivalent: ``metadat::dat.hackshaw1998`` (metadat 1.2-0).

    References
    ----------
    .. [1] Hackshaw, A. K., Law, M. R., & Wald, N. J. (1997). The accumulated evidence on lung
       cancer and environmental tobacco smoke. BMJ, 315, 980-988.

    Examples
    --------
    >>> pt.datasets.load_hackshaw1998().shape
    (37, 11)
    """
    return load("hackshaw1998")
