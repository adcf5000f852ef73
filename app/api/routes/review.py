"""The HTML pages (the editors' review page, the API docs) and the files
they load, all served by this service: the pages' CSPs allow nothing else."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

import swagger_ui_bundle  # type: ignore[import-untyped]  # ships no py.typed
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.errors import ApiError
from app.api.security import DOCS_CSP, REVIEW_CSP

router = APIRouter(tags=["review"])

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}
# Only these names are served: a file name from the URL never becomes a path.
PAGE_FILES = ("review.js", "review.css", "docs.js")
SWAGGER_UI: Traversable = swagger_ui_bundle.swagger_ui_path
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
# The folder is named after Swagger UI's version, so its files never change under a URL.
SWAGGER_PREFIX = f"/static/{SWAGGER_UI.name}"


@cache
def _page_file(name: str) -> bytes:
    return files("app.web").joinpath(name).read_bytes()


@cache
def _swagger_file(name: str) -> bytes:
    return SWAGGER_UI.joinpath(name).read_bytes()


def _typed(content: bytes, name: str, cache: str) -> Response:
    media = _TYPES[name[name.rindex(".") :]]
    return Response(content, media_type=media, headers={"cache-control": cache})


@router.get("/", response_class=HTMLResponse, summary="Review page for editors")
async def review_page() -> HTMLResponse:
    return HTMLResponse(_page_file("review.html"), headers={"content-security-policy": REVIEW_CSP})


@router.get("/static/{name}", include_in_schema=False)
async def page_file(name: str) -> Response:
    if name not in PAGE_FILES:
        raise ApiError(404, f"no file {name!r}")
    # Revalidated on each load: the page and its script change together.
    return _typed(_page_file(name), name, "no-cache")


@router.get(SWAGGER_PREFIX + "/{name}", include_in_schema=False)
async def swagger_file(name: str) -> Response:
    if name not in SWAGGER_FILES:
        raise ApiError(404, f"no file {name!r}")
    return _typed(_swagger_file(name), name, "public, max-age=604800, immutable")


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def docs_page() -> HTMLResponse:
    page = _page_file("docs.html").decode().replace("{swagger}", SWAGGER_PREFIX)
    return HTMLResponse(page, headers={"content-security-policy": DOCS_CSP})


@router.get("/redoc", include_in_schema=False)
async def redoc() -> RedirectResponse:
    # ReDoc came from a CDN; the same documentation is at /docs.
    return RedirectResponse("/docs", status_code=308)
