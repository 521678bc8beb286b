"""Embedded datasets: scikit-learn's bundled files, so no download is ever needed."""

from __future__ import annotations

import pandas as pd

from deepfit.errors import DataError, did_you_mean

# name -> (sklearn loader, use the class names as labels)
BUILTIN = {
    "digits": ("load_digits", False),
    "iris": ("load_iris", True),
    "wine": ("load_wine", True),
    "breast_cancer": ("load_breast_cancer", True),
    "diabetes": ("load_diabetes", False),
}


def load_builtin(name: str) -> pd.DataFrame:
    """Return the named dataset as a DataFrame whose label column is ``target``.

    Digits keeps its 64 pixels as ``pixel_<row>_<col>`` columns; classification sets with class names
    (iris, wine, breast_cancer) use those names as labels, so predictions read as names.
    """
    if name not in BUILTIN:
        raise DataError(
            f"data.source: unknown builtin dataset '{name}'{did_you_mean(name, BUILTIN)}",
            hint=f"known: {', '.join('builtin:' + n for n in BUILTIN)}",
        )
    from sklearn import datasets  # heavy import (1.6 s): only when a builtin set is asked for

    loader, named = BUILTIN[name]
    bunch = getattr(datasets, loader)()
    columns = (
        [f"pixel_{i // 8}_{i % 8}" for i in range(64)] if name == "digits" else [str(c) for c in bunch.feature_names]
    )
    frame = pd.DataFrame(bunch.data, columns=columns)
    frame["target"] = [bunch.target_names[t] for t in bunch.target] if named else bunch.target
    return frame
