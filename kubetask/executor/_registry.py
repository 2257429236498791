"""Handler registry: a name → handler map, filled by `@handler`, with each handler's version and models.

A handler is registered once per name: a second function under a taken name is refused with
`DuplicateHandler`, which names both (`module:function`), so two packages that claim one name fail
the executor's start instead of one silently winning. Registering the same function again (a
module imported twice, under `KUBETASK_HANDLER_MODULES` and an entry point) is no conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kubetask.executor import _typed
from kubetask.executor._context import Context, takes_context
from kubetask.executor.errors import TaskFailed

Handler = Callable[..., Any]  # (params) or (params, ctx): `kubetask.executor._context.takes_context`
F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["DuplicateHandler", "Handler", "Registered", "Registry", "TaskFailed", "default_registry", "handler"]


def origin(fn: Callable[..., Any]) -> str:
    """Where a handler is defined, as `module:function`."""
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def _place(fn: Callable[..., Any]) -> tuple[str, int]:
    code = getattr(fn, "__code__", None)
    return origin(fn), code.co_firstlineno if code is not None else -1


class DuplicateHandler(ValueError):
    """Two functions registered under one handler name."""

    def __init__(self, name: str, first: str, second: str) -> None:
        super().__init__(f"handler {name!r} is already registered by {first}; {second} registers it too")
        self.name, self.first, self.second = name, first, second


@dataclass(frozen=True)
class Registered:
    """One registered handler: its function, version, and the models of its params and result."""

    name: str
    fn: Handler
    version: str | None = None
    params: type | None = None  # a dataclass or pydantic model; the handler gets an instance of it
    result: type | None = None  # the handler returns one; it is serialized to JSON
    takes_context: bool = False  # called `fn(params, ctx)` (`kubetask.executor._context`)

    @property
    def origin(self) -> str:
        return origin(self.fn)

    def call(self, params: Any, ctx: Context | None = None) -> Any:
        """Run the handler on JSON params: parse them into `params`, serialize what it returns; a
        handler that takes a context gets `ctx` (without one, a context whose frames go nowhere)."""
        arg = _typed.load(self.params, params) if self.params is not None else params
        if not self.takes_context:
            return _typed.dump(self.fn(arg), self.result, handler=self.name)
        out = self.fn(arg, ctx if ctx is not None else Context(lambda _line: None))
        return _typed.dump(out, self.result, handler=self.name)


class Registry:
    """Named handlers; a name registers once."""

    def __init__(self) -> None:
        self._handlers: dict[str, Registered] = {}

    def register(
        self,
        name: str,
        fn: Handler,
        *,
        version: str | None = None,
        params: type | None = None,
        result: type | None = None,
    ) -> None:
        for model in (params, result):
            if model is not None:
                _typed.check_model(model)
        old = self._handlers.get(name)
        if old is not None and old.fn is not fn and _place(old.fn) != _place(fn):
            first, second = old.origin, origin(fn)
            if first == second:
                first, second = f"{first} (line {_place(old.fn)[1]})", f"{second} (line {_place(fn)[1]})"
            raise DuplicateHandler(name, first, second)
        self._handlers[name] = Registered(
            name, fn, version=version, params=params, result=result, takes_context=takes_context(fn)
        )

    def handler(
        self, name: str, *, params: type | None = None, result: type | None = None, version: str | None = None
    ) -> Callable[[F], F]:
        """Decorator: register the function as handler `name`.

        `params`/`result` (dataclasses or pydantic models) type its input and output: the handler is
        called with an instance of `params`, and returns one of `result`; `version` goes into each report.
        A function with a second positional parameter gets the `Context` there (`ctx.progress`).
        """

        def deco(fn: F) -> F:
            self.register(name, fn, version=version, params=params, result=result)
            return fn

        return deco

    def entry(self, name: str) -> Registered:
        """The handler registered as `name` (LookupError naming the known ones when there is none)."""
        try:
            return self._handlers[name]
        except KeyError:
            known = ", ".join(sorted(self._handlers)) or "none"
            raise LookupError(f"no handler named {name!r} (registered: {known})") from None

    def version(self, name: str) -> str | None:
        """The version handler `name` was registered with, if any."""
        found = self._handlers.get(name)
        return found.version if found else None

    def get(self, name: str) -> Handler:
        return self.entry(name).fn

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def entries(self) -> list[Registered]:
        return [self._handlers[n] for n in sorted(self._handlers)]


default_registry = Registry()
handler = default_registry.handler
