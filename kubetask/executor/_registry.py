"""Handler registry: a name → callable map, filled by the `@handler` decorator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Handler = Callable[[Any], Any]
F = TypeVar("F", bound=Handler)


class TaskFailed(Exception):
    """Raise in a handler to fail the task with `message` and a chosen exit code (default 1)."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Registry:
    """Named handlers; a name registers once."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str, fn: Handler) -> None:
        if name in self._handlers and self._handlers[name] is not fn:
            raise ValueError(f"handler {name!r} is already registered")
        self._handlers[name] = fn

    def handler(self, name: str) -> Callable[[F], F]:
        """Decorator: register the function as handler `name`."""

        def deco(fn: F) -> F:
            self.register(name, fn)
            return fn

        return deco

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
