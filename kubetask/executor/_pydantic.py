"""The pydantic side of typed handlers, imported only when a handler's model is a pydantic model.

The one executor module that may import pydantic (the import contract in pyproject.toml says so):
the rest of the runtime stays standard-library only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from kubetask.executor.errors import ParamsRejected


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in loc)


def load(model: type[BaseModel], params: Any) -> BaseModel:
    """`params` validated into `model`; ParamsRejected with every error's pointer when they do not fit."""
    try:
        return model.model_validate(params)
    except ValidationError as e:
        raise ParamsRejected([(_pointer(err["loc"]), err["msg"]) for err in e.errors()]) from None


def dump(value: BaseModel) -> Any:
    """The model as JSON-ready data."""
    return value.model_dump(mode="json")
