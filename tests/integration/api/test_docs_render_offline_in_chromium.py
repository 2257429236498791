"""/docs (Swagger UI) and /redoc render every operation of the OpenAPI document in Debian's chromium
from the API's vendored assets, served by uvicorn with authentication on, and no request the pages
make leaves loopback (kubetask.testing.browser refuses and records any; every name but localhost
fails to resolve). Screenshots: test-artifacts/screenshots/docs-swagger-ui.png, docs-redoc.png."""

from __future__ import annotations

import httpx

from kubetask.testing.browser import browser
from kubetask.testing.cluster import Cluster
from kubetask.testing.tokens import admin_token


def _operations(api_url: str) -> dict[str, str]:
    """operationId -> "METHOD /path" of each operation of the document."""
    doc = httpx.get(f"{api_url}/openapi.json", timeout=30).json()
    return {op["operationId"]: f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m, op in ops.items()}


def test_swagger_ui_lists_every_operation_and_sends_the_token_authorize_takes(api_url: str, cluster: Cluster) -> None:
    operations = _operations(api_url)
    with browser() as b:
        page = b.page()
        page.goto(f"{api_url}/docs")
        page.locator(".opblock").first.wait_for()
        blocks = page.locator(".opblock")
        assert blocks.count() == len(operations)
        shown = {
            f"{o.locator('.opblock-summary-method').inner_text()} "
            f"{o.locator('.opblock-summary-path').get_attribute('data-path')}"
            for o in blocks.all()
        }
        assert shown == set(operations.values())
        for summary in ("Create Task", "List All Tasks", "Redrive Many", "List Audit"):
            assert page.get_by_text(summary, exact=True).first.is_visible(), summary
        b.screenshot(page, "docs-swagger-ui")
        page.locator("button.authorize").first.click()
        dialog = page.locator(".auth-container")
        dialog.first.wait_for()
        assert "bearer" in dialog.first.inner_text() and "Bearer" in dialog.first.inner_text()
        b.screenshot(page, "docs-swagger-ui-authorize", full_page=False)
        dialog.first.locator("input").fill(admin_token(cluster))
        dialog.first.get_by_role("button", name="Apply credentials").click()
        dialog.first.locator("button.btn-done").click()
        listing = page.locator("#operations-tasks-list_all_tasks_api_v1_tasks_get")
        listing.locator(".opblock-summary-control").click()
        listing.get_by_role("button", name="Try it out").click()
        listing.get_by_role("button", name="Execute").click()
        status = listing.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for()
        assert status.inner_text().strip() == "200", status.inner_text()  # without the token: 401
        assert '"items"' in listing.locator(".live-responses-table tbody .response-col_description").first.inner_text()
        status.scroll_into_view_if_needed()
        b.screenshot(page, "docs-swagger-ui-try-it-out", full_page=False)


def test_redoc_renders_every_operation(api_url: str) -> None:
    operations = _operations(api_url)
    with browser() as b:
        page = b.page()
        page.goto(f"{api_url}/redoc")
        sections = page.locator('[data-section-id^="operation/"]')
        sections.first.wait_for()
        ids = {s.get_attribute("data-section-id") for s in sections.all()}
        assert ids == {f"operation/{op}" for op in operations}
        assert page.locator("h1").first.inner_text().startswith("kubetask")
        assert page.get_by_text("API docs by Redocly").is_visible()  # its logo refused by the page's CSP
        b.screenshot(page, "docs-redoc", full_page=False)
