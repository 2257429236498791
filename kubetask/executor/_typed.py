"""Typed handlers: JSON params into the handler's model, its return value back into JSON.

Two kinds of model, one behaviour (pydantic's defaults, so the executor accepts what the template's
schema, made by pydantic from the same model, accepts):

- a **dataclass** is read here with the standard library: each field by its annotation (`str`,
  `int`, `float`, `bool`, `None`, `Any`, `Literal[...]`, an `Enum`, `list[T]`, `dict[str, T]`,
  `T | None` and other unions, nested dataclasses), every problem collected with its JSON
  pointer; unknown keys are ignored unless the class says `__pydantic_config__ = {"extra":
  "forbid"}` (which pydantic's schema then shows as `additionalProperties: false`); the
  result is `dataclasses.asdict` (enums as their values).
- a **pydantic model** is read by pydantic (`model_validate`, dumped with `model_dump(mode="json")`)
  in `kubetask.executor._pydantic`, imported only then: an image whose handlers use dataclasses
  needs no pydantic, and pydantic is loaded already when a handler's module defined a model.

A mismatch raises `ParamsRejected` (permanent: the same params fail the same way).
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from kubetask.executor.errors import ParamsRejected, PermanentError

Problems = list[tuple[str, str]]


def is_pydantic(model: Any) -> bool:
    """Whether `model` is a pydantic model class (without importing pydantic when nobody has)."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(model, type) and issubclass(model, pydantic.BaseModel)


def check_model(model: Any) -> None:
    """Refuse, at registration, a model this module cannot read (TypeError naming the field)."""
    if is_pydantic(model):
        return
    if not (isinstance(model, type) and dataclasses.is_dataclass(model)):
        raise TypeError(f"a handler's params/result must be a dataclass or a pydantic model, not {model!r}")
    for name, tp in get_type_hints(model).items():
        if name in {f.name for f in dataclasses.fields(model)}:
            _check_type(tp, f"{model.__qualname__}.{name}")


def _check_type(tp: Any, where: str) -> None:
    origin, args = get_origin(tp), get_args(tp)
    if tp in (str, int, float, bool, type(None), Any, object) or origin is Literal:
        return
    if isinstance(tp, type) and (issubclass(tp, enum.Enum) or dataclasses.is_dataclass(tp)):
        if dataclasses.is_dataclass(tp):
            check_model(tp)
        return
    if origin in (list, tuple, typing.Sequence) or origin is dict:
        if origin is dict and args and args[0] is not str:
            raise TypeError(f"{where}: dict keys must be str (JSON object keys), not {args[0]!r}")
        for a in args:
            if a is not Ellipsis:
                _check_type(a, where)
        return
    if origin in (Union, types.UnionType):
        for a in args:
            _check_type(a, where)
        return
    raise TypeError(f"{where}: type {tp!r} is not supported in a dataclass model (use a pydantic model)")


def _bad(problems: Problems, problem: tuple[str, str]) -> None:
    problems.append(problem)


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__
    )


def _read(tp: Any, value: Any, at: str, problems: Problems) -> Any:  # noqa: C901 (one branch per type)
    origin, args = get_origin(tp), get_args(tp)
    if tp in (Any, object):
        return value
    if tp is type(None):
        return value if value is None else _bad(problems, (at, f"expected null, got {_kind(value)}"))
    if tp is bool:
        return value if isinstance(value, bool) else _bad(problems, (at, f"expected boolean, got {_kind(value)}"))
    if tp is str:
        return value if isinstance(value, str) else _bad(problems, (at, f"expected string, got {_kind(value)}"))
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return _bad(problems, (at, f"expected integer, got {_kind(value)}"))
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return _bad(problems, (at, f"expected number, got {_kind(value)}"))
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        return _bad(problems, (at, f"expected one of {', '.join(map(repr, args))}"))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            return _bad(problems, (at, f"expected one of {', '.join(repr(m.value) for m in tp)}"))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _read_dataclass(tp, value, at, problems)
    if origin in (list, tuple, typing.Sequence):
        if not isinstance(value, list):
            return _bad(problems, (at, f"expected array, got {_kind(value)}"))
        item = args[0] if args else Any
        items = [_read(item, v, f"{at}/{i}", problems) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            return _bad(problems, (at, f"expected object, got {_kind(value)}"))
        item = args[1] if args else Any
        return {k: _read(item, v, f"{at}/{_escape(k)}", problems) for k, v in value.items()}
    if origin in (Union, types.UnionType):
        for a in sorted(args, key=lambda a: a is not type(None)):  # null first: `X | None` with None
            trial: Problems = []
            out = _read(a, value, at, trial)
            if not trial:
                return out
        return _bad(problems, (at, f"expected {' or '.join(_name(a) for a in args)}, got {_kind(value)}"))
    raise TypeError(f"unsupported type {tp!r}")  # check_model refused it at registration


def _name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", None) or str(tp)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _read_dataclass(model: type, value: Any, at: str, problems: Problems) -> Any:
    if not isinstance(value, dict):
        return _bad(problems, (at, f"expected object, got {_kind(value)}"))
    hints = get_type_hints(model)
    fields = {f.name: f for f in dataclasses.fields(model) if f.init}
    kwargs: dict[str, Any] = {}
    before = len(problems)
    for name, f in fields.items():
        if name in value:
            kwargs[name] = _read(hints[name], value[name], f"{at}/{_escape(name)}", problems)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            problems.append((f"{at}/{_escape(name)}", "required"))
    config = getattr(model, "__pydantic_config__", None) or {}
    if config.get("extra") == "forbid":
        problems.extend((f"{at}/{_escape(k)}", "not a field of the model") for k in value if k not in fields)
    return model(**kwargs) if len(problems) == before else None


def load(model: type, params: Any) -> Any:
    """`params` (JSON) as an instance of `model`, or ParamsRejected listing every problem."""
    if is_pydantic(model):
        from kubetask.executor import _pydantic  # only when a handler uses a pydantic model

        return _pydantic.load(model, params)
    problems: Problems = []
    out = _read_dataclass(model, params, "", problems)
    if problems:
        raise ParamsRejected(problems)
    return out


def _plain(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, enum.Enum) else v for k, v in items}


def dump(value: Any, model: type | None, *, handler: str) -> Any:
    """A handler's return value as JSON-ready data (a model instance serialized, anything else as is)."""
    if model is not None and not isinstance(value, model):
        if isinstance(value, dict):  # a plain mapping is read through the model, then serialized
            try:
                value = load(model, value)
            except ParamsRejected as e:
                msg = f"handler {handler!r} returned a mapping that is no {model.__qualname__}: " + "; ".join(
                    f"{p or '/'}: {m}" for p, m in e.problems
                )
                raise PermanentError(msg, kind="ResultRejected") from None
        else:
            kind = type(value).__qualname__
            raise PermanentError(
                f"handler {handler!r} returned {kind}, not its result model {model.__qualname__}",
                kind="ResultRejected",
            )
    if is_pydantic(type(value)):
        from kubetask.executor import _pydantic

        return _pydantic.dump(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value, dict_factory=_plain)
    return value
