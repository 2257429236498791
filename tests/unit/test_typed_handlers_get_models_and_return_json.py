"""Typed handlers: params arrive as the handler's model, a mismatch is ParamsRejected, results are serialized."""

from __future__ import annotations

import enum
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pydantic
import pytest

from kubetask import conditions as c
from kubetask.executor import DuplicateHandler, Registry
from kubetask.executor.report import Failure, decode
from kubetask.executor.runtime import execute, run
from kubetask.observe import ContainerExit, PodObservation, _terminated
from kubetask.retry import NEVER_RETRIED


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Recipient:
    address: str
    name: str | None = None


@dataclass
class Send:
    to: list[Recipient]
    subject: str
    copies: int = 1
    weight: float = 1.0
    color: Color = Color.RED
    mode: Literal["fast", "slow"] = "fast"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Sent:
    count: int
    color: Color


class PSend(pydantic.BaseModel):
    to: str
    copies: int = pydantic.Field(default=1, ge=1)


class PSent(pydantic.BaseModel):
    to: str
    total: int


def _registry() -> Registry:
    reg = Registry()

    @reg.handler("send", params=Send, result=Sent, version="3")
    def send(p: Send) -> Sent:
        assert isinstance(p, Send) and all(isinstance(r, Recipient) for r in p.to)
        return Sent(count=len(p.to) * p.copies, color=p.color)

    @reg.handler("psend", params=PSend, result=PSent)
    def psend(p: PSend) -> PSent:
        return PSent(to=p.to, total=p.copies * 2)

    return reg


def test_dataclass_params_arrive_as_the_model_and_the_result_is_its_json() -> None:
    params = {
        "to": [{"address": "a@x"}, {"address": "b@x", "name": "B"}],
        "subject": "hi",
        "copies": 2,
        "color": "blue",
    }
    attempt = execute("send", params, _registry())
    assert attempt.exit_code == 0
    assert attempt.report.result == {"count": 4, "color": "blue"} and attempt.report.version == "3"


def test_dataclass_params_that_do_not_fit_are_rejected_with_every_pointer() -> None:
    params = {"to": [{"name": 3}], "copies": "2", "weight": True, "color": "green", "mode": "medium"}
    attempt = execute("send", params, _registry())
    f = attempt.report.failure
    assert f is not None and f.kind == "ParamsRejected" and f.retryable is False and attempt.exit_code == 1
    for pointer in ("/to/0/address: required", "/to/0/name:", "/subject: required", "/copies: expected integer"):
        assert pointer in f.message
    for pointer in ("/weight: expected number", "/color: expected one of", "/mode: expected one of"):
        assert pointer in f.message


def test_a_float_that_is_whole_is_an_integer_and_an_integer_is_a_number() -> None:
    attempt = execute("send", {"to": [], "subject": "s", "copies": 2.0, "weight": 3}, _registry())
    assert attempt.exit_code == 0 and attempt.report.result == {"count": 0, "color": "red"}


def test_unknown_keys_are_ignored_unless_the_dataclass_forbids_them() -> None:
    @dataclass
    class Strict:
        __pydantic_config__ = {"extra": "forbid"}  # noqa: RUF012 (pydantic's spelling)
        n: int

    reg = _registry()
    reg.register("strict", lambda p: p.n, params=Strict)
    assert execute("send", {"to": [], "subject": "s", "typo": 1}, reg).exit_code == 0
    f = execute("strict", {"n": 1, "typo": 1}, reg).report.failure
    assert f is not None and f.kind == "ParamsRejected" and "/typo: not a field of the model" in f.message


def test_params_that_are_not_an_object_are_rejected_at_the_root() -> None:
    f = execute("send", [1, 2], _registry()).report.failure
    assert f is not None and f.kind == "ParamsRejected" and "/: expected object, got array" in f.message


def test_pydantic_params_are_validated_by_pydantic_with_pointers() -> None:
    reg = _registry()
    assert execute("psend", {"to": "x", "copies": 3}, reg).report.result == {"to": "x", "total": 6}
    f = execute("psend", {"copies": 0}, reg).report.failure
    assert f is not None and f.kind == "ParamsRejected" and f.retryable is False
    assert "/to: Field required" in f.message and "/copies: Input should be greater than or equal to 1" in f.message


def test_a_returned_mapping_is_read_through_the_result_model() -> None:
    reg = Registry()
    reg.register("ok", lambda _p: {"count": 1, "color": "red"}, result=Sent)
    reg.register("bad", lambda _p: {"count": "one"}, result=Sent)
    reg.register("wrong", lambda _p: 5, result=Sent)
    assert execute("ok", {}, reg).report.result == {"count": 1, "color": "red"}
    for name in ("bad", "wrong"):
        f = execute(name, {}, reg).report.failure
        assert f is not None and f.kind == "ResultRejected" and f.retryable is False


def test_a_model_the_runtime_cannot_read_is_refused_at_registration() -> None:
    @dataclass
    class Odd:
        when: set[int]

    with pytest.raises(TypeError, match="Odd.when"):
        Registry().register("odd", lambda p: p, params=Odd)
    with pytest.raises(TypeError, match="dataclass or a pydantic model"):
        Registry().register("odd", lambda p: p, params=dict)


def test_params_rejected_is_its_own_reason_and_never_retried() -> None:
    text = execute("send", {}, _registry()).envelope
    pod = PodObservation(name="p", phase="Failed", terminated=ContainerExit(exit_code=1, message=text))
    out = _terminated(pod, ContainerExit(exit_code=1, message=text))
    assert out.reason == c.REASON_PARAMS_REJECTED == "ParamsRejected"
    assert c.REASON_PARAMS_REJECTED in NEVER_RETRIED and c.REASON_PARAMS_REJECTED != c.REASON_INVALID_PARAMS


def test_two_handlers_under_one_name_are_refused_naming_both() -> None:
    reg = Registry()

    def first(p: object) -> object:
        return p

    def second(p: object) -> object:
        return p

    reg.register("dup", first)
    reg.register("dup", first)  # the same function again (a module imported twice) is no conflict
    with pytest.raises(DuplicateHandler) as e:
        reg.register("dup", second)
    mod = __name__
    assert str(e.value) == (
        f"handler 'dup' is already registered by {mod}:{first.__qualname__}; "
        f"{mod}:{second.__qualname__} registers it too"
    )


def test_a_duplicate_in_the_handler_modules_fails_the_start_not_retryable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dup_one.py").write_text(
        "from kubetask.executor import handler\n@handler('dupe')\ndef a(p):\n    return 1\n"
    )
    (tmp_path / "dup_two.py").write_text(
        "from kubetask.executor import handler\n@handler('dupe')\ndef b(p):\n    return 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    term = tmp_path / "term"
    env = {"KUBETASK_TERMINATION_PATH": str(term), "KUBETASK_HANDLER_MODULES": "dup_one,dup_two"}
    assert run(["echo"], env) == 2
    report = decode(term.read_text())
    assert report is not None and report.failure == Failure(
        "DuplicateHandler",
        "handler 'dupe' is already registered by dup_one:a; dup_two:b registers it too",
        retryable=False,
    )


def test_the_runtime_does_not_import_pydantic_for_dataclass_handlers() -> None:
    code = (
        "import sys, json, dataclasses\n"
        "from kubetask.executor import Registry\n"
        "from kubetask.executor.runtime import execute\n"
        "@dataclasses.dataclass\nclass P:\n    n: int\n"
        "reg = Registry(); reg.register('d', lambda p: {'n': p.n}, params=P)\n"
        "a = execute('d', {'n': 2}, reg)\n"
        "print(json.dumps([a.report.result, 'pydantic' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [{"n": 2}, False]
