"""``GET /``: the web page that shows what temperature does (its scripts and styles live in ``/static``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from dreamwright.decoding.defaults import DEFAULT_TEMPERATURE

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
#: a strict policy: the page loads nothing but its own files (and the blob: URLs its scripts make of the audio and
#: spectrograms they fetched)
PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}

router = APIRouter()




def render_index() -> str:
    """The page with the decoding defaults filled in, so its slider starts where the CLI and the API do."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return (html.replace("{{DEFAULT_TEMPERATURE_2}}", f"{DEFAULT_TEMPERATURE:.2f}")
            .replace("{{DEFAULT_TEMPERATURE}}", f"{DEFAULT_TEMPERATURE:g}"))


@router.get("/", include_in_schema=False)
async def index() -> HTMLResponse:
    return HTMLResponse(render_index(), headers=PAGE_HEADERS)
