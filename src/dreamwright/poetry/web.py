"""The poetry page and API for the web server: ``app.include_router(dreamwright.poetry.web.router())``.

- ``POST /v1/poems``: JSON ``{"form": "五绝", "acrostic": "春夏秋冬", "start": null, "keywords": "月,山",
  "rhyme": "strict", "tones": "strict", "num_samples": 1, "temperature": 0.8, "seed": null}`` →
  ``{"poems": [{"text", "lines", "pattern", "rhyme_group", "marked", ...}]}``; a user error is a 400 with
  ``{"detail": "one-line message", "param": ...}``.
- ``GET /poetry``: a small page (script served from ``/poetry.js``, so a strict CSP holds).
"""

from collections.abc import Callable
from typing import Any

MAX_SAMPLES = 8

PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>作诗姬 · dreamwright</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>作诗姬</h1>
<form id="f">
<label>体裁 <select name="form"><option>五绝</option><option>七绝</option><option>五律</option>
<option>七律</option></select></label>
<label>藏头 <input name="acrostic" placeholder="春夏秋冬"></label>
<label>起句 <input name="start" placeholder="白日"></label>
<label>关键字 <input name="keywords" placeholder="月,山"></label>
<label>押韵 <select name="rhyme"><option>strict</option><option>loose</option><option>off</option></select></label>
<label>平仄 <select name="tones"><option>strict</option><option>loose</option><option>off</option></select></label>
<label>温度 <input name="temperature" type="number" step="0.1" min="0.1" max="2" value="0.8"></label>
<label>种子 <input name="seed" type="number"></label>
<button type="submit">作诗</button>
</form>
<pre id="out"></pre>
<script src="/poetry.js"></script>
</body></html>
"""

SCRIPT = """document.getElementById('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  const data = Object.fromEntries(new FormData(e.target).entries());
  const body = {form: data.form, rhyme: data.rhyme, tones: data.tones,
                temperature: parseFloat(data.temperature || '0.8')};
  for (const k of ['acrostic', 'start', 'keywords']) if (data[k]) body[k] = data[k];
  if (data.seed) body.seed = parseInt(data.seed, 10);
  const out = document.getElementById('out');
  out.textContent = '…';
  const r = await fetch('/v1/poems', {method: 'POST', headers: {'content-type': 'application/json'},
                                      body: JSON.stringify(body)});
  const j = await r.json();
  out.textContent = r.ok ? j.poems.map(p => p.marked).join('\\n\\n') : ('error: ' + (j.detail || r.status));
});
"""


def router(writer_factory: Callable[[], Any] | None = None):
    """A FastAPI ``APIRouter`` serving the poetry page and ``POST /v1/poems`` (bundled model by default)."""
    from fastapi import APIRouter
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from pydantic import BaseModel, Field

    from dreamwright.errors import DreamwrightError

    if writer_factory is None:
        from dreamwright.poetry import load_writer

        writer_factory = load_writer

    class PoemRequest(BaseModel):
        form: str = "五绝"
        acrostic: str | None = None
        start: str | None = None
        keywords: str | list[str] | None = None
        rhyme: str = "strict"
        tones: str = "strict"
        num_samples: int = Field(1, ge=1, le=MAX_SAMPLES)
        temperature: float = Field(0.8, ge=0.0, le=5.0)
        seed: int | None = None

    api = APIRouter(tags=["poetry"])

    @api.post("/v1/poems")
    def poems(body: PoemRequest) -> Any:  # sync: FastAPI runs it in its thread pool
        try:
            writer = writer_factory()
            result = writer.write(
                body.form,
                acrostic=body.acrostic,
                start=body.start,
                keywords=body.keywords,
                rhyme=body.rhyme,
                tones=body.tones,
                num_samples=body.num_samples,
                temperature=body.temperature,
                seed=body.seed,
            )
            table = writer.table if writer._masks_ready else None
        except DreamwrightError as exc:
            return JSONResponse({"detail": str(exc), "param": exc.param}, status_code=400)
        return {
            "poems": [{**p.to_dict(), "marked": p.render(table, marks=table is not None)} for p in result]
        }

    @api.get("/poetry", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @api.get("/poetry.js", include_in_schema=False)
    def script() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

    return api
