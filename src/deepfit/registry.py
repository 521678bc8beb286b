"""One registry shape for the names a config takes: optimizers, schedules, losses and metrics so far.

A :class:`Registry` maps a name to an object, or to a lazy ``"package.module:attr"`` string imported on the first
:meth:`~Registry.get`, so that checking a config's names (:meth:`~Registry.check`) never imports torch. Users add
their own entries from Python, with a call or as a decorator (Keras's ``optimizers.get("adam")``, one shape)::

    >>> from deepfit.registry import Registry
    >>> activations = Registry("activation", {"relu": "torch.nn:ReLU"})
    >>> @activations.register("square")
    ... def square(x):
    ...     return x * x
    >>> activations.names(), "relu" in activations  # torch is not imported yet
    (['relu', 'square'], True)
    >>> activations.get("square") is square
    True
    >>> activations.get("sqare")
    Traceback (most recent call last):
    ...
    deepfit.errors.ConfigError: unknown activation 'sqare' (did you mean 'square'?); known: relu, square

Names keep their registration order: the built-in ones first, in the order their module lists them, then the
users'. Registering a name again replaces its entry. A registry made with ``entry_points="group"`` also holds
what installed packages declare in that entry-point group (``name = "package.module:attr"``), so that a plugin's
names are known to the ``deepfit`` command too; they are read on the first name not found (a lookup of a
built-in name never pays for the scan) and never replace a name registered from Python.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, cast, overload

from deepfit.code import is_code_name, load_code
from deepfit.errors import ConfigError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Names of one family (``"optimizer"``) mapped to objects or to lazy ``"package.module:attr"`` strings.

    ``key`` is the config key that names an entry (``train.optimizer.name``): :meth:`get` prefixes its errors
    with it. A string entry is always an import path; register the object itself to store anything else.
    """

    def __init__(
        self,
        family: str,
        entries: Mapping[str, T | str] | None = None,
        *,
        key: str | None = None,
        entry_points: str | None = None,
    ) -> None:
        self.family, self.key = family, key
        self._entries: dict[str, T | str] = {}
        self._entry_points = entry_points  # the group still to read; None once read (or when there is none)
        for name, entry in (entries or {}).items():
            self.register(name, entry)

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...
    @overload
    def register(self, name: str, entry: T | str) -> T | str: ...
    def register(self, name: str, entry: Any = None) -> Any:
        """Add (or replace) ``name``; without ``entry``, a decorator that registers what it decorates."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"A {self.family} name must be a non-empty string. Got {name!r} instead.")
        if entry is None:

            def decorator(obj: T) -> T:
                self.register(name, obj)
                return obj

            return decorator
        if isinstance(entry, str) and not _is_import_path(entry):
            raise ValueError(
                f"The {self.family} '{name}' must be an object or a 'package.module:attr' string. "
                f"Got {entry!r} instead."
            )
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a KeyError when it is not registered)."""
        del self._entries[name]

    @contextlib.contextmanager
    def scoped(self) -> Iterator[Registry[T]]:
        """Registrations made inside the block are undone when it ends (tests that register their own)."""
        saved = dict(self._entries)
        try:
            yield self
        finally:
            self._entries.clear()
            self._entries.update(saved)

    def get(self, name: str) -> T:
        """The entry under ``name``, imported on first use; an unknown name is a ConfigError listing the known.

        A name written as code (``"opt.py:make"``, ``"my_pkg.optim:make"``) is imported from there: the user's
        own config names it (a run records it, and runs it again only with trust_code: ``deepfit.code``)."""
        if name not in self and is_code_name(name):
            return cast(T, load_code(name, self.key or self.family))
        if name not in self:
            prefix = f"{self.key}: " if self.key else ""
            raise ConfigError(prefix + self.unknown(name))
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = self._entries[name] = self._import(name, entry)
        return entry

    def check(self, name: str) -> str:
        """``name`` if it is registered or written as code, else a ValueError (what config validators raise);
        imports nothing."""
        if name not in self and not is_code_name(name):
            raise ValueError(self.unknown(name))
        return name

    def unknown(self, name: str) -> str:
        """``unknown optimizer 'adamm' (did you mean 'adam'?); known: sgd, adam, ...``."""
        names = self.names()
        return f"unknown {self.family} '{name}'{did_you_mean(name, names)}; known: {', '.join(names)}"

    def names(self) -> list[str]:
        self._read_entry_points()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self._read_entry_points()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, {self.names()})"

    def _read_entry_points(self) -> None:
        group, self._entry_points = self._entry_points, None
        if group is None:
            return
        from importlib.metadata import entry_points  # ~0.1 s: only when a name is not found, or all are listed

        for point in entry_points(group=group):
            self._entries.setdefault(point.name, point.value)

    def _import(self, name: str, path: str) -> T:
        module, _, attr = path.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            # a builtin entry always imports: this is a user's registration that points nowhere
            raise ConfigError(
                f"the {self.family} '{name}' is registered as '{path}', which cannot be imported: {exc}",
                hint=f"register an importable 'package.module:attr', or the {self.family} object itself",
            ) from None


def _is_import_path(text: str) -> bool:
    module, sep, attr = text.partition(":")
    return bool(sep and attr.isidentifier() and all(part.isidentifier() for part in module.split(".")))
