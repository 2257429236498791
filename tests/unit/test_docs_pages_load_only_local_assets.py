"""/docs and /redoc name only the API's own URLs (vendored assets under /static), need no token, and the
assets served are the vendored files their README's checksums describe (kubetask.api.docs_pages)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kubernetes import client

from kubetask.api import docs_pages
from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings

_NOWHERE = client.Configuration(host="http://127.0.0.1:9")  # pages and assets call no apiserver
_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")
_VENDOR = docs_pages.ASSETS / "vendor"


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'p.db'}", auth="kubernetes")
    with TestClient(create_app(settings, api=client.ApiClient(_NOWHERE))) as c:
        yield c


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_a_docs_page_names_no_other_host(http: TestClient, page: str) -> None:
    r = http.get(page)  # no token
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://|//[a-z]", r.text.replace("window.location.origin + '/", "")), r.text
    for url in [a or b for a, b in _URL.findall(r.text)]:
        assert url.startswith("/") and not url.startswith("//"), url
        assert http.get(url).status_code == 200, url


def test_the_pages_load_the_vendored_files(http: TestClient) -> None:
    docs, redoc = http.get("/docs").text, http.get("/redoc").text
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/{docs_pages.SWAGGER_UI}/{name}" in docs
    assert f"/static/{docs_pages.REDOC_JS}" in redoc
    assert "url: '/openapi.json'" in docs and 'spec-url="/openapi.json"' in redoc
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in docs
    assert '"validatorUrl": null' in docs  # no badge fetched from validator.swagger.io


def test_each_vendored_file_is_served_as_the_readme_checksums_it(http: TestClient) -> None:
    readme = (_VENDOR / "README.md").read_text()
    files = [p for p in sorted(_VENDOR.rglob("*")) if p.is_file() and p.name != "README.md"]
    assert len(files) == 9
    for path in files:
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() in readme, path
        assert http.get(f"/static/vendor/{path.relative_to(_VENDOR)}").content == data
    for folder in _VENDOR.iterdir():
        if folder.is_dir():
            assert (folder / "LICENSE").is_file(), folder


def test_the_docs_pages_stay_out_of_the_document_and_authorize_takes_a_bearer_token(http: TestClient) -> None:
    doc = http.get("/openapi.json").json()
    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & set(doc["paths"])
    assert not any(p.startswith("/static") for p in doc["paths"])
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
