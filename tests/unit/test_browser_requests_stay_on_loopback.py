"""Which URLs the test browser refuses (kubetask.testing.browser.leaves: pure), and the flags chromium runs with."""

from __future__ import annotations

import pytest

from kubetask.testing.browser import ARGS, LOOPBACK, leaves


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/docs",
        "http://localhost:1/static/x.js",
        "ws://127.0.0.1:9/stream",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "blob:http://127.0.0.1:8080/0b6a",
        "about:blank",
    ],
)
def test_loopback_and_page_made_urls_stay(url: str) -> None:
    assert not leaves(url, LOOPBACK)


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js",
        "https://cdn.redoc.ly/redoc/logo-mini.svg",
        "http://127.0.0.2/",
        "http://10.244.0.1:8080/",  # a bridge address, unless the test allows it
        "http://localhost.example.com/",
        "wss://example.com/",
        "http://[::1]:8080/",  # not an allowed name either
    ],
)
def test_any_other_host_leaves(url: str) -> None:
    assert leaves(url, LOOPBACK)


def test_an_allowed_bridge_address_stays() -> None:
    assert not leaves("http://10.244.0.1:8080/", (*LOOPBACK, "10.244.0.1"))


def test_chromium_resolves_no_name_but_localhost_and_downloads_nothing() -> None:
    assert "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1" in ARGS
    assert {"--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu"} <= set(ARGS)
