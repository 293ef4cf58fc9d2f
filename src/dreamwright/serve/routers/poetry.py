"""作诗姬 on the server: ``POST /v1/poems`` and a small page at ``GET /poetry``.

``POST /v1/poems`` takes JSON ``{"form": "五绝", "acrostic": "春夏秋冬", "start": null, "keywords": "月,山",
"theme": null, "rhyme": "strict", "tones": "strict", "num_samples": 1, "temperature": 0.9, "seed": null}`` and
answers ``{"poems": [{"text", "lines", "pattern", "rhyme_group", "marked", "rows", ...}], "warnings": [...]}``
(``rows``: each line's ``text``, ``tones`` — one 平/仄/中 mark per character — and ``rhymes``; ``warnings``:
what ``dreamwright poem`` prints as ``warning:``, e.g. a theme or keyword the Tang statistics lack); a user
error is a 400 in OpenAI's error shape. Poems and couplets are tasks on the server's ``poetry`` lane
(:mod:`dreamwright.serve.lanes`): one at a time, 429 when the queue is full, cancelled while they wait if the
client goes away. The page (``static/poetry.html``, the text page's layout and
styles) loads its script from ``/poetry.js``, so a strict CSP holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from dreamwright.errors import DreamwrightError
from dreamwright.serve.errors import APIError, from_exception
from dreamwright.serve.jobs import run_task
from dreamwright.serve.lanes import Lane
from dreamwright.serve.routers.page import PAGE_HEADERS, STATIC_DIR
from dreamwright.serve.schemas import CoupletRequest, PoemRequest

#: the page is static/poetry.html, its script static/poetry.js (also at /poetry.js, so the router works alone)
PAGE_FILE, SCRIPT_FILE = STATIC_DIR / "poetry.html", STATIC_DIR / "poetry.js"


def _rows(poem: Any, table: Any) -> list[dict[str, Any]]:
    """Each line with its tone marks (平/仄/中, one per character) and whether it carries the rhyme."""
    from dreamwright.poetry.prosody import tone_marks

    rhyming = set(poem.pattern.rhyme_lines) if poem.pattern else set(range(1, len(poem.lines), 2))
    group = poem.rhyme_group or (poem.report.rhyme_group if poem.report else None)
    return [
        {
            "text": line,
            "tones": tone_marks(line, table) if table is not None else None,
            "rhymes": bool(i in rhyming and group is not None and table is not None
                           and group.id in table.groups_of(line[-1])),
        }
        for i, line in enumerate(poem.lines)
    ]


def _bundled_writer() -> Any:
    from dreamwright.poetry import load_writer

    return load_writer()


def _bundled_couplet_writer() -> Any:
    from dreamwright.poetry import load_couplet_writer

    return load_couplet_writer()


def router(writer_factory: Callable[[], Any] | None = None,
           couplet_factory: Callable[[], Any] | None = None, *, lane: Lane | None = None,
           timeout: float = 120.0) -> APIRouter:
    """The poetry routes, writing with ``writer_factory()`` and ``couplet_factory()`` (default: the bundled
    tang-poetry and tang-couplet models, each loaded on first use) as tasks on ``lane`` (default: a lane of
    their own), each allowed ``timeout`` seconds."""
    factory = writer_factory or _bundled_writer
    couplets_of = couplet_factory or _bundled_couplet_writer
    lane = lane or Lane("poetry")
    api = APIRouter(tags=["poetry"])

    async def answer(kind: str, work: Callable[[], Any], request: Request) -> Any:
        # errors are answered here too, so the router also works in a bare FastAPI app
        try:
            return await run_task(lane, kind, lambda task: work(), timeout, request)
        except (DreamwrightError, APIError) as exc:
            return from_exception(exc).response()

    @api.post("/v1/couplets")
    async def couplets(body: CoupletRequest, request: Request) -> Any:
        """对对子: ``{"upper": "春风又绿江南岸"}`` → ``{"couplets": [{"upper", "lower", "logprob", "note",
        "upper_tones", "lower_tones"}]}``, the rules of ``dreamwright couplet`` enforced."""
        from dreamwright.poetry.defaults import COUPLET_TEMPERATURE
        from dreamwright.poetry.prosody import tone_marks

        def work() -> dict[str, Any]:
            writer = couplets_of()
            result = writer.write(body.upper, n=body.n, candidates=body.candidates, seed=body.seed,
                                  temperature=COUPLET_TEMPERATURE if body.temperature is None else body.temperature)
            table = writer.table
            return {"couplets": [{"upper": c.upper, "lower": c.lower, "logprob": c.logprob, "note": c.note,
                                  "upper_tones": tone_marks(c.upper, table), "lower_tones": tone_marks(c.lower, table)}
                                 for c in result]}

        return await answer("couplet", work, request)

    @api.post("/v1/poems")
    async def poems(body: PoemRequest, request: Request) -> Any:
        from dreamwright.poetry import decode
        from dreamwright.poetry.defaults import DEFAULT_TEMPERATURE
        from dreamwright.poetry.plan import plans_warning

        try:
            poem_request = decode.PoemRequest(
                body.form,
                acrostic=body.acrostic,
                start=body.start,
                keywords=body.keywords,
                theme=body.theme,
                rhyme=body.rhyme,
                tones=body.tones,
                num_samples=body.num_samples,
                temperature=DEFAULT_TEMPERATURE if body.temperature is None else body.temperature,
                seed=body.seed,
            )
        except DreamwrightError as exc:
            return from_exception(exc).response()

        def work() -> dict[str, Any]:
            writer = factory()
            result = writer.write(poem_request)
            table = writer.table if writer.tables_ready else None
            warning = plans_warning([p.plan for p in result])
            return {"poems": [{**p.to_dict(), "marked": p.render(table, marks=table is not None),
                               "rows": _rows(p, table)} for p in result],
                    "warnings": [warning] if warning else []}

        return await answer("poem", work, request)

    @api.get("/poetry", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(PAGE_FILE, media_type="text/html", headers=PAGE_HEADERS)

    @api.get("/poetry.js", include_in_schema=False)
    def script() -> FileResponse:
        return FileResponse(SCRIPT_FILE, media_type="text/javascript")

    return api
