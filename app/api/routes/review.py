from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["review"])


@lru_cache(maxsize=1)
def _page() -> str:
    return files("app.web").joinpath("review.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, summary="Review page for editors")
async def review_page() -> HTMLResponse:
    # Self-contained: styles and script are inline, nothing comes from a CDN.
    return HTMLResponse(_page(), headers={"content-security-policy": "default-src 'self' 'unsafe-inline'"})
