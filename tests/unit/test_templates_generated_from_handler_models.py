"""`kubetask templates generate MODULE`: one TaskTemplate per handler, schemas from its models by pydantic."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter
from typer.testing import CliRunner

from kubetask import schema_check
from kubetask.cli import app
from kubetask.executor import default_registry
from kubetask.executor.runtime import execute
from kubetask.models import TaskTemplate

MODULE = textwrap.dedent(
    '''
    from dataclasses import dataclass, field
    from typing import Literal

    import pydantic

    from kubetask.executor import handler


    @dataclass
    class Item:
        sku: str
        qty: int = 1


    @dataclass
    class Order:
        items: list[Item]
        speed: Literal["fast", "slow"] = "slow"
        note: str | None = None


    @dataclass
    class Placed:
        total: int


    class Refund(pydantic.BaseModel):
        order: str = pydantic.Field(min_length=3, description="Order id.")
        cents: int = pydantic.Field(ge=1)


    @handler("gen-place-order", params=Order, result=Placed, version="4.1")
    def place(p: Order) -> Placed:
        """Place an order.

        Longer text that stays out of the description.
        """
        return Placed(total=sum(i.qty for i in p.items))


    @handler("gen-refund", params=Refund)
    def refund(p: Refund) -> dict:
        return {"order": p.order}


    @handler("gen-untyped")
    def untyped(p):
        return p
    '''
)


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "gen_handlers.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "gen_handlers"


def _generate(*args: str) -> list[dict[str, object]]:
    r = CliRunner().invoke(app, ["templates", "generate", *args])
    assert r.exit_code == 0, r.output
    return list(yaml.safe_load_all(r.output))


def test_each_handler_of_the_module_becomes_a_valid_template(module: str) -> None:
    docs = _generate(module, "--image", "local/shop:1")
    assert [d["metadata"]["name"] for d in docs] == ["gen-place-order", "gen-refund", "gen-untyped"]  # type: ignore[index]
    for d in docs:
        TaskTemplate.model_validate(d)
    place = docs[0]
    assert place["metadata"] == {"name": "gen-place-order", "annotations": {"kubetask.io/handler-version": "4.1"}}
    spec = place["spec"]
    assert isinstance(spec, dict)
    assert (spec["image"], spec["handler"], spec["description"]) == (
        "local/shop:1",
        "gen-place-order",
        "Place an order.",
    )
    assert "paramSchema" not in docs[2]["spec"] and "resultSchema" not in docs[1]["spec"]  # type: ignore[operator]


def test_the_schemas_are_pydantics_for_dataclasses_and_models(module: str) -> None:
    import gen_handlers  # type: ignore[import-not-found]

    docs = _generate(module)
    assert docs[0]["spec"]["paramSchema"] == TypeAdapter(gen_handlers.Order).json_schema()  # type: ignore[index]
    assert docs[0]["spec"]["resultSchema"] == TypeAdapter(gen_handlers.Placed).json_schema(mode="serialization")  # type: ignore[index]
    assert docs[1]["spec"]["paramSchema"] == gen_handlers.Refund.model_json_schema()  # type: ignore[index]
    assert docs[0]["spec"]["image"] == "docker.io/kubetask/executor:dev"  # type: ignore[index]


@pytest.mark.parametrize(
    "params",
    [
        {"items": [{"sku": "a"}, {"sku": "b", "qty": 3}]},
        {"items": [], "speed": "fast", "note": None},
        {"items": [{"qty": 2}]},
        {"items": [{"sku": "a", "qty": "2"}]},
        {"items": "none", "speed": "warp"},
        {},
    ],
    ids=["good", "good-optional", "missing-sku", "qty-a-string", "wrong-types", "empty"],
)
def test_the_api_schema_and_the_executor_agree_on_dataclass_params(module: str, params: dict[str, object]) -> None:
    schema = _generate(module)[0]["spec"]["paramSchema"]  # type: ignore[index]
    assert schema_check.schema_errors(schema) == []
    api_accepts = schema_check.validate(params, schema) == []
    failure = execute("gen-place-order", params, default_registry).report.failure
    assert (failure is None) == api_accepts
    assert failure is None or failure.kind == "ParamsRejected"


def test_a_module_without_handlers_or_that_does_not_import_is_a_usage_error() -> None:
    r = CliRunner().invoke(app, ["templates", "generate", "json"])
    assert r.exit_code == 2 and "json defines no handlers" in r.output
    r = CliRunner().invoke(app, ["templates", "generate", "no_such_module_here"])
    assert r.exit_code == 2 and "cannot import no_such_module_here" in r.output
