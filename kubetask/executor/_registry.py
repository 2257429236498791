"""Handler registry: a name → callable map (with the handler's version), filled by `@handler`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kubetask.executor.errors import TaskFailed

Handler = Callable[[Any], Any]
F = TypeVar("F", bound=Handler)

__all__ = ["Handler", "Registry", "TaskFailed", "default_registry", "handler"]


class Registry:
    """Named handlers; a name registers once."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._versions: dict[str, str] = {}

    def register(self, name: str, fn: Handler, *, version: str | None = None) -> None:
        if name in self._handlers and self._handlers[name] is not fn:
            raise ValueError(f"handler {name!r} is already registered")
        self._handlers[name] = fn
        if version is not None:
            self._versions[name] = version

    def handler(self, name: str, *, version: str | None = None) -> Callable[[F], F]:
        """Decorator: register the function as handler `name` (its `version` goes into each report)."""

        def deco(fn: F) -> F:
            self.register(name, fn, version=version)
            return fn

        return deco

    def version(self, name: str) -> str | None:
        """The version handler `name` was registered with, if any."""
        return self._versions.get(name)

    def get(self, name: str) -> Handler:
        try:
            return self._handlers[name]
        except KeyError:
            known = ", ".join(sorted(self._handlers)) or "none"
            raise LookupError(f"no handler named {name!r} (registered: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._handlers)


default_registry = Registry()
handler = default_registry.handler
