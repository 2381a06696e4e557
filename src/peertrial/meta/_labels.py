"""Study labels as metafor makes them unique (``.make.unique``)."""

from __future__ import annotations

import pandas as pd


def make_unique(labels) -> pd.Index:
    """Duplicated study labels get ``.1``, ``.2``, ... in order of appearance (every copy,
    the first too), as metafor does for ``slab``: two "Rosenthal et al" become
    "Rosenthal et al.1" and "Rosenthal et al.2". Unique labels are left alone."""
    text = pd.Series([str(x) for x in labels], dtype=object)
    dup = text.duplicated(keep=False)
    if dup.any():
        nth = text.groupby(text).cumcount() + 1
        text[dup] = text[dup] + "." + nth[dup].astype(str)
    return pd.Index(text.to_list())
