"""The API's own documentation pages, `/docs` (Swagger UI) and `/redoc`, from vendored assets.

FastAPI's default pages load Swagger UI and Redoc from a CDN (and Redoc its fonts from Google), so on
a machine without internet they are blank. Here both load the files under `static/vendor/` (copied
unchanged from their npm packages; `static/vendor/README.md` says which, with each file's sha256),
served by the API at `/static` without a token, like the pages themselves. Every URL a page names is
relative to the API (under the request's `root_path`, for an API behind a path prefix): nothing else
is reached, and each page's Content-Security-Policy (`CSP`) holds the browser to that: Redoc 2's
sidebar shows the Redocly logo from cdn.redoc.ly, a URL in its bundle that no option removes, and CSP
refuses that image before any request is made (the link's text stays). The Swagger UI's "Authorize"
button takes a bearer token (the document's `bearer` scheme).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from .permissions import DOCS, OAUTH2_REDIRECT, REDOC, STATIC

ASSETS = Path(__file__).resolve().parent / "static"  # resolved: an editable install links each file
SWAGGER_UI = "vendor/swagger-ui-dist-5.35.0"
REDOC_JS = "vendor/redoc-2.5.2/redoc.standalone.js"
# the API's own origin only; inline scripts (the pages' set-up) and styles (Redoc's styled-components),
# data: images (Swagger UI's icons) and blob: workers (Redoc's search) are made by the pages themselves
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)


def install(app: FastAPI) -> None:
    """Serve `/static`, `/docs`, `/docs/oauth2-redirect` and `/redoc` (none of them in the OpenAPI
    document); the app is made with `docs_url=None, redoc_url=None` so FastAPI's CDN pages are not."""
    app.mount(STATIC, StaticFiles(directory=ASSETS), name="static")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return _local(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{STATIC}/{SWAGGER_UI}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{STATIC}/{SWAGGER_UI}/swagger-ui.css",
                swagger_favicon_url=f"{root}{STATIC}/{SWAGGER_UI}/favicon-32x32.png",
                oauth2_redirect_url=root + OAUTH2_REDIRECT,
                # no badge asking validator.swagger.io about the document
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return _local(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return _local(
            get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{STATIC}/{REDOC_JS}",
                redoc_favicon_url=f"{root}{STATIC}/{SWAGGER_UI}/favicon-32x32.png",
                with_google_fonts=False,
            )
        )


def _local(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")
