"""One exception root for everything a user can get wrong.

The CLI prints ``str(error)`` (what happened, where, what to do) and exits with ``exit_code``;
``--debug`` adds the traceback. Internal bugs are not ``DeepfitError`` and keep their traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DeepfitError(Exception):
    """Base of every error caused by input the user can fix."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  → {hint}")


class ConfigError(DeepfitError):
    """A config file, key or value is wrong."""


class DataError(DeepfitError):
    """A data file, column or value cannot be used."""


class TrainingError(DeepfitError):
    """Training cannot go on (NaN loss, divergence); the last good checkpoint is kept."""


class RunError(DeepfitError):
    """A run directory is missing, incomplete or incompatible."""


class DataWarning(UserWarning):
    """A data problem deepfit handled (cells treated as missing, a renamed column); the CLI prints it."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string.

    >>> did_you_mean("targt", ["target", "features"])
    " (did you mean 'target'?)"
    """
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
