"""A template's spec is declared in the OpenAPI document as the model the CRD is generated from, and
the model takes what the CRD and Kubernetes take: no coercion of JSON types, integers within int32,
an image without whitespace, a ServiceAccount name that is a DNS-1123 subdomain. Whatever the API
refuses it refuses with a 422 naming the field, before any call to the apiserver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft4Validator
from kubernetes import client

from kubetask import crdgen
from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.models import TaskTemplateSpec

# no call reaches a cluster: a body that passed validation is answered 503 (nothing listens there)
_NOWHERE = client.Configuration(host="http://127.0.0.1:9")
INT32_MAX = 2**31 - 1
FULL = {
    "description": "",
    "image": "registry.local:5000/team/echo_v2:1.0-rc.1@sha256:" + "ab" * 32,
    "imagePullPolicy": "IfNotPresent",
    "command": ["python3", ""],
    "args": [],
    "handler": "echo",
    "env": [{"name": "A", "value": ""}, {"name": ".a-b_c.1"}, {"name": "_"}],
    "resources": {"limits": {"memory": "64Mi", "cpu": 1}, "requests": {"cpu": "500m", "memory": "1e3", "x": ".5"}},
    "serviceAccountName": "runner.team-a",
    "paramSchema": {"type": "object"},
    "resultSchema": {},
    "timeoutSeconds": INT32_MAX,
    "retry": {"maxAttempts": 100, "delaySeconds": 0, "factor": 1.5, "retryOn": [3, "OOMKilled"]},
    "pendingTimeoutSeconds": 1,
    "deadlineSeconds": INT32_MAX,
    "ttlSecondsAfterFinished": 0,
}


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'spec.db'}", auth="none")  # no apiserver to review
    app = create_app(settings, api=client.ApiClient(_NOWHERE))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _crd_spec_schema() -> dict[str, Any]:
    crd = crdgen.crds()["kubetask.io_tasktemplates.yaml"]
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def test_the_document_declares_the_spec_as_the_model_the_crd_is_generated_from(http: TestClient) -> None:
    doc = http.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    spec = schemas["TemplateBody"]["properties"]["spec"]
    assert (spec["allOf"], "type" in spec) == ([{"$ref": "#/components/schemas/TaskTemplateSpec"}], False)
    model = TaskTemplateSpec.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    for name, schema in model.pop("$defs").items():
        assert schemas[name] == schema, name
    assert schemas["TaskTemplateSpec"] == model


def test_a_full_spec_at_the_limits_is_taken_by_the_model_and_the_crd() -> None:
    spec = TaskTemplateSpec.model_validate(FULL, by_alias=True, by_name=False, strict=True)
    assert list(Draft4Validator(_crd_spec_schema()).iter_errors(spec.to_wire())) == []


def test_a_full_spec_is_past_validation(http: TestClient) -> None:
    r = http.post("/api/v1/namespaces/n/templates", json={"name": "t", "spec": FULL})
    assert r.status_code == 503, r.text  # the apiserver call, after validation


@pytest.mark.parametrize(
    ("field", "value", "pointer"),
    [
        ("timeoutSeconds", "30", "/spec/timeoutSeconds"),
        ("timeoutSeconds", True, "/spec/timeoutSeconds"),
        ("timeoutSeconds", 1.5, "/spec/timeoutSeconds"),
        ("timeoutSeconds", INT32_MAX + 1, "/spec/timeoutSeconds"),
        ("deadlineSeconds", 2**63, "/spec/deadlineSeconds"),
        ("pendingTimeoutSeconds", 0, "/spec/pendingTimeoutSeconds"),
        ("ttlSecondsAfterFinished", -1, "/spec/ttlSecondsAfterFinished"),
        ("image", "", "/spec/image"),
        ("image", " busybox", "/spec/image"),
        ("image", 5, "/spec/image"),
        ("serviceAccountName", "", "/spec/serviceAccountName"),
        ("serviceAccountName", "Runner", "/spec/serviceAccountName"),
        ("serviceAccountName", "a" * 254, "/spec/serviceAccountName"),
        ("imagePullPolicy", "always", "/spec/imagePullPolicy"),
        ("command", ["sh", 1], "/spec/command/1"),
        ("retry", {"maxAttempts": "3"}, "/spec/retry/maxAttempts"),
        ("retry", {"maxAttempts": 101}, "/spec/retry/maxAttempts"),
        ("retry", {"delaySeconds": INT32_MAX + 1}, "/spec/retry/delaySeconds"),
        ("retry", {"maxDelaySeconds": 1e12}, "/spec/retry/maxDelaySeconds"),
        ("env", [{"name": 5}], "/spec/env/0/name"),
        ("env", [{"name": "1X"}], "/spec/env/0/name"),
        ("env", [{"name": "A B"}], "/spec/env/0/name"),
        ("env", [{"name": "."}], "/spec/env/0/name"),
        ("env", [{"name": "..x"}], "/spec/env/0/name"),
        ("resources", {"limits": {"cpu": "-1"}}, "/spec/resources/limits/cpu"),
        ("resources", {"limits": {"memory": "64 Mi"}}, "/spec/resources/limits/memory"),
        ("resources", {"requests": {"cpu": -1}}, "/spec/resources/requests/cpu"),
    ],
)
def test_what_kubernetes_refuses_is_a_422_naming_the_field_and_the_crd_refuses_it_too(
    http: TestClient, field: str, value: Any, pointer: str
) -> None:
    spec = {**FULL, field: value}
    r = http.post("/api/v1/namespaces/n/templates", json={"name": "t", "spec": spec})
    assert r.status_code == 422, r.text
    assert [e["pointer"] for e in r.json()["errors"]] == [pointer]
    crd_refusals = {
        "/spec/" + "/".join(str(p) for p in e.absolute_path)
        for e in Draft4Validator(_crd_spec_schema()).iter_errors(spec)
    }
    assert pointer in crd_refusals


_INT64 = "Input should be a string or an integer within int64 (±9223372036854775807)"
_QUANTITY = "Input should be a quantity such as 2, 500m, 1.5 or 64Mi (not negative)"


@pytest.mark.parametrize(
    ("field", "value", "pointer", "message"),
    [
        ("resources", {"limits": {"cpu": True}}, "/spec/resources/limits/cpu", _QUANTITY),
        ("resources", {"requests": {"memory": 1.5}}, "/spec/resources/requests/memory", _QUANTITY),
        ("retry", {"retryOn": ["OOMKilled", False]}, "/spec/retry/retryOn/1", _INT64),
        ("retry", {"noRetryOn": [2**63]}, "/spec/retry/noRetryOn/0", _INT64),
    ],
)
def test_an_int_or_string_that_is_neither_is_one_problem_at_its_place(
    http: TestClient, field: str, value: Any, pointer: str, message: str
) -> None:
    # the apiserver's x-kubernetes-int-or-string refuses these too (Draft 4 alone cannot say it)
    r = http.post("/api/v1/namespaces/n/templates", json={"name": "t", "spec": {**FULL, field: value}})
    assert r.status_code == 422, r.text
    assert [(e["pointer"], e["detail"]) for e in r.json()["errors"]] == [(pointer, message)]


def test_a_whole_number_is_an_integer_as_json_schema_and_the_apiserver_read_it() -> None:
    spec = {
        "image": "x",
        "timeoutSeconds": 30.0,
        "resources": {"limits": {"cpu": 2.0}},
        "retry": {"maxAttempts": 3.0, "retryOn": [137.0, "OOMKilled"]},
    }
    wire = TaskTemplateSpec.model_validate(spec, by_alias=True, by_name=False, strict=True).to_wire()
    assert wire == {
        "image": "x",
        "timeoutSeconds": 30,
        "resources": {"limits": {"cpu": 2}},
        "retry": {"maxAttempts": 3, "retryOn": [137, "OOMKilled"]},
    }
    assert [type(v) for v in (wire["timeoutSeconds"], wire["retry"]["maxAttempts"], wire["retry"]["retryOn"][0])] == [
        int,
        int,
        int,
    ]


@pytest.mark.parametrize(("field", "value"), [("image", "busybox:1\n"), ("serviceAccountName", "runner\n")])
def test_a_trailing_newline_is_refused_as_the_apiserver_refuses_it(http: TestClient, field: str, value: str) -> None:
    # Python's `$` matches before a final newline (jsonschema's Python check would take these);
    # pydantic's and the apiserver's Go `$` match only at the end, as ECMA 262's does
    r = http.post("/api/v1/namespaces/n/templates", json={"name": "t", "spec": {**FULL, field: value}})
    assert r.status_code == 422, r.text
    assert [e["pointer"] for e in r.json()["errors"]] == [f"/spec/{field}"]


def test_a_factor_beyond_floats_is_refused_not_sent_as_null(http: TestClient) -> None:
    body = '{"name": "t", "spec": {"image": "x", "retry": {"factor": 1e400}}}'  # Python reads inf
    r = http.post("/api/v1/namespaces/n/templates", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert [e["pointer"] for e in r.json()["errors"]] == ["/spec/retry/factor"]


def test_a_snake_case_key_is_an_unknown_field_ignored_as_the_apiserver_ignores_it(http: TestClient) -> None:
    spec = {**FULL, "timeout_seconds": "not a number", "service_account_name": "Bad"}
    r = http.post("/api/v1/namespaces/n/templates", json={"name": "t", "spec": spec})
    assert r.status_code == 503, r.text  # past validation


def test_every_bad_field_is_reported_at_once(http: TestClient) -> None:
    spec = {**FULL, "image": " x", "timeoutSeconds": "1", "paramSchema": {"type": 5}}
    r = http.post("/api/v1/namespaces/n/templates", json={"name": "Bad_Name", "spec": spec})
    assert r.status_code == 422, r.text
    pointers = sorted(e["pointer"] for e in r.json()["errors"])
    assert pointers == ["/name", "/spec/image", "/spec/paramSchema/type", "/spec/timeoutSeconds"]


def test_a_replace_names_a_mismatched_name_with_every_other_problem(http: TestClient) -> None:
    r = http.put("/api/v1/namespaces/n/templates/t", json={"name": "u", "spec": {**FULL, "image": ""}})
    assert r.status_code == 422, r.text
    assert [(e["pointer"], e["detail"]) for e in r.json()["errors"]] == [
        ("/name", "the body's name must match the URL: expected 't'"),
        ("/spec/image", "String should have at least 1 character"),
    ]
