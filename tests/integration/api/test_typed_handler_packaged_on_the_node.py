"""A typed handler as a user ships it: a wheel with a `kubetask.handlers` entry point, installed into an
image FROM the executor image, its template generated from the code and applied with kubectl; the API
refuses bad params before any pod, the pod returns the model and records the version, and `kubetask
run` and `run_handler` give what the pod gives. Two packages claiming one name fail the pod's start."""

from __future__ import annotations

import hashlib
import json
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kubetask.cli import app as cli
from kubetask.testing.cluster import Cluster, create, list_objects, task, wait_task
from kubetask.testing.handlers import run_handler

pytestmark = pytest.mark.usefixtures("operator")

ROOT = Path(__file__).resolve().parents[3]
SYSTEM_PYTHON = "/usr/bin/python3"  # has setuptools and wheel (the venv has no `wheel`); no network needed

SHOP = '''
"""The shop's handlers."""

from dataclasses import dataclass
from typing import Literal

from kubetask.executor import PermanentError, handler


@dataclass
class Line:
    sku: str
    qty: int = 1


@dataclass
class QuoteRequest:
    lines: list[Line]
    currency: Literal["EUR", "USD"] = "EUR"
    coupon: str | None = None


@dataclass
class Quote:
    total_cents: int
    currency: str
    items: int


PRICES = {"apple": 120, "pear": 95}


@handler("shop-quote", params=QuoteRequest, result=Quote, version="2.5")
def quote(p: QuoteRequest) -> Quote:
    """Price a basket of lines."""
    unknown = sorted(line.sku for line in p.lines if line.sku not in PRICES)
    if unknown:
        raise PermanentError(f"unknown sku: {', '.join(unknown)}")
    total = sum(PRICES[line.sku] * line.qty for line in p.lines)
    return Quote(total // 2 if p.coupon == "HALF" else total, p.currency, sum(line.qty for line in p.lines))
'''

STORE = """
from kubetask.executor import handler


@handler("shop-quote")
def quote(p):
    return {"from": "store"}
"""

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "{version}"
dependencies = ["kubetask"]

[project.entry-points."kubetask.handlers"]
{entry} = "{module}"
"""


@dataclass(frozen=True)
class Shop:
    src: Path  # the shop package's sources, for the host's imports
    image: str  # the executor image plus the shop wheel
    dup_image: str  # plus a second wheel that claims the same handler name


def _wheel(root: Path, dist: str, module: str, code: str, out: Path) -> None:
    pkg = root / dist
    (pkg / "src" / module).mkdir(parents=True)
    (pkg / "src" / module / "__init__.py").write_text(textwrap.dedent(code))
    (pkg / "pyproject.toml").write_text(
        PYPROJECT.format(dist=dist, version="2.5.0", entry=dist.split("-")[0], module=module)
    )
    cmd = [SYSTEM_PYTHON, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*cmd, "-w", str(out), str(pkg)], check=True, capture_output=True, timeout=120)


def _image(context: Path, base: str, tag: str, tar: Path) -> None:
    (context / "Dockerfile").write_text(
        f"FROM {base}\nCOPY *.whl /tmp/wheels/\nUSER root\n"
        "RUN python3 -m pip install -q --no-index --break-system-packages /tmp/wheels/*.whl && rm -rf /tmp/wheels\n"
        "USER 65532:65532\n"  # the executor image's user, as README "Handler packages" has it
    )
    cmd = ["bash", str(ROOT / "scripts/images.sh"), "derived", str(context), tag, str(tar)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def _import_into_node(cluster: Cluster, tar: Path) -> None:
    """Load an image tar into the node's containerd, as scripts/cluster/cluster.sh does with executor.tar."""
    node = hashlib.md5(str(cluster.dir).encode()).hexdigest()[:6]  # cluster.sh node_vars: md5 of its dir
    sock = f"/run/kubetask-{node}/containerd.sock"
    subprocess.run(["ctr", "-a", sock, "-n", "k8s.io", "images", "import", str(tar)], check=True, timeout=300)


@pytest.fixture(scope="module")
def shop(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    d = tmp_path_factory.mktemp("shop")
    one, two = d / "image", d / "dup-image"
    one.mkdir()
    two.mkdir()
    _wheel(d, "shop-handlers", "shop_handlers", SHOP, one)
    _wheel(d, "store-handlers", "store_handlers", STORE, two)
    _image(one, "docker.io/kubetask/executor:dev", "local/shop:1", d / "shop.tar")
    _image(two, "local/shop:1", "local/shop-dup:1", d / "shop-dup.tar")
    for tar in ("shop.tar", "shop-dup.tar"):
        _import_into_node(cluster, d / tar)
    return Shop(src=d / "shop-handlers" / "src", image="local/shop:1", dup_image="local/shop-dup:1")


@pytest.fixture
def on_host(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> Shop:
    """The shop's module importable in this process (for `kubetask run` and `run_handler`)."""
    monkeypatch.syspath_prepend(str(shop.src))
    return shop


def _generated(shop: Shop) -> str:
    env = {"PYTHONPATH": str(shop.src), "PATH": f"{ROOT / '.venv/bin'}:/usr/bin:/bin"}
    cmd = [str(ROOT / ".venv/bin/kubetask"), "templates", "generate", "shop_handlers", "--image", shop.image]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=60).stdout


def _without_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _without_nulls(x) for k, x in v.items() if x is not None}
    return [_without_nulls(x) for x in v] if isinstance(v, list) else v


@pytest.fixture
def applied(cluster: Cluster, namespace: str, shop: Shop) -> dict[str, Any]:
    """The generated template, applied with kubectl; the template as the cluster has it."""
    text = _generated(shop)
    out = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=text).stdout
    assert out.strip() == "tasktemplate.kubetask.io/shop-quote created"
    got = json.loads(cluster.kubectl("get", "-n", namespace, "tasktemplate", "shop-quote", "-o", "json").stdout)
    # compared without nulls: the apiserver drops pydantic's `"default": null` (of `coupon: str | None = None`)
    assert _without_nulls(got["spec"]) == _without_nulls(yaml.safe_load(text)["spec"])
    assert got["metadata"]["annotations"]["kubetask.io/handler-version"] == "2.5"
    return dict(got)


GOOD = {"lines": [{"sku": "apple", "qty": 3}, {"sku": "pear"}], "currency": "USD", "coupon": "HALF"}


@pytest.mark.usefixtures("applied")
def test_bad_params_are_refused_by_the_api_with_pointers_before_any_pod(
    http: TestClient, cluster: Cluster, namespace: str
) -> None:
    params = {"lines": [{"qty": "2"}], "currency": "GBP"}
    r = http.post(f"/api/v1/namespaces/{namespace}/tasks", json={"template": "shop-quote", "params": params})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"] == "https://kubetask.io/problems/invalid-params"
    assert sorted(e["pointer"] for e in body["errors"]) == [
        "/params/currency",
        "/params/lines/0",
        "/params/lines/0/qty",
    ]
    assert list_objects(cluster, namespace, "tasks") == []
    assert cluster.core().list_namespaced_pod(namespace).items == []


@pytest.mark.usefixtures("applied", "on_host")
def test_a_good_task_returns_the_model_and_the_attempt_shows_the_version(
    http: TestClient, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    r = http.post(
        f"/api/v1/namespaces/{namespace}/tasks", json={"template": "shop-quote", "name": "q1", "params": GOOD}
    )
    assert r.status_code in (200, 201), r.text
    st = wait_task(cluster, namespace, "q1", timeout=180)["status"]
    assert (st["phase"], st["reason"]) == ("Succeeded", "Completed"), st
    assert st["result"] == {"total_cents": (3 * 120 + 95) // 2, "currency": "USD", "items": 4}
    (attempt,) = st["attempts"]
    assert (attempt["handler"]["name"], attempt["handler"]["version"]) == ("shop-quote", "2.5")

    # the same params here: the pytest helper and `kubetask run` give what the pod gave
    report = run_handler("shop-quote", GOOD, modules=["shop_handlers"])
    assert (report.result, report.version, report.failure) == (st["result"], "2.5", None)
    (tmp_path / "params.json").write_text(json.dumps(GOOD))
    ran = CliRunner().invoke(cli, ["run", "shop-quote", "-m", "shop_handlers", "-f", str(tmp_path / "params.json")])
    assert ran.exit_code == 0 and json.loads(ran.stdout) == st["result"]


@pytest.mark.usefixtures("on_host")
def test_params_the_model_refuses_fail_on_the_node_as_params_rejected_like_locally(
    cluster: Cluster, namespace: str, shop: Shop
) -> None:
    # a template without the generated paramSchema: only the handler's model stands in the way
    loose = {"image": shop.image, "handler": "shop-quote"}
    create(cluster, namespace, "tasktemplates", {**_template_body("loose"), "spec": loose})
    params = {"lines": "apple", "currency": "GBP"}
    retry = {"maxAttempts": 3, "delaySeconds": 0, "retryOn": ["NonZeroExit"]}
    create(cluster, namespace, "tasks", task("bad", templateRef={"name": "loose"}, params=params, retry=retry))
    st = wait_task(cluster, namespace, "bad", timeout=180)["status"]
    assert (st["phase"], st["reason"]) == ("Failed", "ParamsRejected"), st
    assert len(st["attempts"]) == 1
    local = run_handler("shop-quote", params, modules=["shop_handlers"]).failure
    assert local is not None and local.kind == "ParamsRejected"
    assert st["message"] == f"exit code 1: ParamsRejected: {local.message}"
    ran = CliRunner().invoke(
        cli, ["run", "shop-quote", "-m", "shop_handlers", "-p", "lines=apple", "-p", "currency=GBP"]
    )
    assert ran.exit_code == 1 and ran.stderr.strip() == f"ParamsRejected: {local.message}"


def test_two_packages_claiming_one_name_fail_the_start_and_the_task_says_so(
    cluster: Cluster, namespace: str, shop: Shop
) -> None:
    create(
        cluster,
        namespace,
        "tasktemplates",
        {**_template_body("dup"), "spec": {"image": shop.dup_image, "handler": "shop-quote"}},
    )
    create(cluster, namespace, "tasks", task("dup", templateRef={"name": "dup"}, params=GOOD))
    st = wait_task(cluster, namespace, "dup", timeout=180)["status"]
    assert (st["phase"], st["reason"]) == ("Failed", "PermanentFailure"), st
    assert st["message"] == (
        "exit code 2: DuplicateHandler: handler 'shop-quote' is already registered by shop_handlers:quote; "
        "store_handlers:quote registers it too"
    )
    (attempt,) = st["attempts"]
    assert attempt["exitCode"] == 2 and attempt["handler"]["failureKind"] == "DuplicateHandler"


def _template_body(name: str) -> dict[str, Any]:
    return {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskTemplate", "metadata": {"name": name}}
