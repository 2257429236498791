"""Debian's chromium, driven by playwright, for tests of pages the API serves: nothing leaves loopback.

`browser()` launches /usr/bin/chromium (installed by scripts/setup.sh; playwright's own browser
download, `playwright install`, is never run) headless, with host-resolver rules under which every
name but `localhost` fails to resolve, and a route on its context that lets through only requests to
the allowed hosts (127.0.0.1 and localhost, plus e.g. the local cluster's bridge address when a test
passes it): any other is aborted and recorded, and the test fails when the browser closes. Pages'
uncaught errors fail it too. `Browser.screenshot` saves a page's PNG under SCREENSHOTS
(`test-artifacts/screenshots/` of the checkout, git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, Route, sync_playwright

CHROMIUM = "/usr/bin/chromium"
LOOPBACK = ("127.0.0.1", "localhost")
# every name fails to resolve (NXDOMAIN) but localhost; an address literal is not resolved at all
RESOLVER_RULES = "MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--no-proxy-server",
    f"--host-resolver-rules={RESOLVER_RULES}",
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def leaves(url: str, allowed: Iterable[str]) -> bool:
    """Whether a request to `url` goes anywhere but the allowed hosts (pure). URLs without a network
    location the page made itself (`data:`, `blob:`, `about:`) go nowhere."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return False
    return parts.hostname not in set(allowed)


@dataclass
class Browser:
    """A browser context of the test's: its pages, and what they tried that they may not."""

    context: BrowserContext
    allowed: tuple[str, ...]
    refused: list[str] = field(default_factory=list)  # URLs of requests to other hosts, aborted
    errors: list[str] = field(default_factory=list)  # pages' uncaught errors

    def page(self) -> Page:
        page = self.context.new_page()
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        page.on("websocket", lambda ws: self.refused.append(ws.url) if leaves(ws.url, self.allowed) else None)
        return page

    def screenshot(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        """Save the page (the whole of it, or what the viewport shows) as SCREENSHOTS/NAME.png; the path."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    def _route(self, route: Route) -> None:
        if self._check(route.request.url):
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def _check(self, url: str) -> bool:
        if leaves(url, self.allowed):
            self.refused.append(url)
            return True
        return False


@contextmanager
def browser(*, allow: Iterable[str] = ()) -> Iterator[Browser]:
    """Chromium with a fresh context whose requests may reach loopback and the `allow` hosts only;
    the test fails on leaving if a page tried any other or raised an uncaught error."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=list(ARGS), headless=True)
        try:
            context = chromium.new_context(service_workers="block")
            b = Browser(context, (*LOOPBACK, *allow))
            context.route("**/*", b._route)
            yield b
            context.close()
        finally:
            chromium.close()
    assert not b.refused, f"requests to hosts other than {b.allowed}: {b.refused}"
    assert not b.errors, f"uncaught errors in pages: {b.errors}"
