"""Integers as JSON reads them (3 and 3.0 are the same integer, "3" and true are none), and
Kubernetes quantities."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError


def _whole(value: object) -> object:
    """A float without fraction as the int it spells (JSON Schema's `integer`, and the apiserver's,
    include 3.0); anything else is left to the int validator, which refuses 3.5, "3" and true when strict."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _one_error(kind: str, message: str) -> WrapValidator:
    """One error for a value of an int-or-string that is neither, at the value's own place (not
    one per branch of the union)."""

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(_whole(value))
        except ValidationError:
            raise PydanticCustomError(kind, message) from None

    return WrapValidator(validate)


# The apiserver reads a larger integer as a float: "must be of type integer" (or "integer,string").
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# The longest time in seconds a field takes: 68 years, an int32 as Kubernetes' own seconds fields,
# and far from the overflow of Python's date arithmetic (now + 10^12 s is past the year 9999).
INT32_MAX = 2**31 - 1

# `int | None` and `int | str` fields that strict validation keeps strict but for 3.0, which no JSON
# client has to tell from 3; a field's own constraints (`ge`, `le`) still apply to the int. The int
# of an int-or-string is an int64, as Kubernetes' IntOrString and Quantity take it.
OptionalInt = Annotated[int | None, BeforeValidator(_whole)]
IntOrStr = Annotated[
    Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)] | str,
    _one_error("int_or_string", "Input should be a string or an integer within int64 (±9223372036854775807)"),
]

# A container's resource quantity as a Pod takes it: Kubernetes' Quantity grammar (the pattern
# controller-gen declares for it), not negative. The pattern stands beside the int-or-string too,
# where it reaches the CRD (JSON Schema applies a pattern to strings only, a minimum to numbers only).
QUANTITY = (
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
Quantity = Annotated[
    Annotated[int, Field(ge=0, le=INT64_MAX)] | Annotated[str, Field(pattern=QUANTITY)],
    _one_error("quantity", "Input should be a quantity such as 2, 500m, 1.5 or 64Mi (not negative)"),
    Field(json_schema_extra={"pattern": QUANTITY, "minimum": 0}),
]
