"""作诗姬 on the server: ``POST /v1/poems`` and a small page at ``GET /poetry``.

``POST /v1/poems`` takes JSON ``{"form": "五绝", "acrostic": "春夏秋冬", "start": null, "keywords": "月,山",
"rhyme": "strict", "tones": "strict", "num_samples": 1, "temperature": 0.8, "seed": null}`` and answers
``{"poems": [{"text", "lines", "pattern", "rhyme_group", "marked", ...}]}``; a user error is a 400 in
OpenAI's error shape. The page's script is served from ``/poetry.js``, so a strict CSP holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from dreamwright.errors import DreamwrightError
from dreamwright.serve.errors import from_exception
from dreamwright.serve.schemas import PoemRequest

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
  out.textContent = r.ok ? j.poems.map(p => p.marked).join('\\n\\n')
                         : ('error: ' + ((j.error && j.error.message) || r.status));
});
"""


def _bundled_writer() -> Any:
    from dreamwright.poetry import load_writer

    return load_writer()


def router(writer_factory: Callable[[], Any] | None = None) -> APIRouter:
    """The poetry routes, writing with ``writer_factory()`` (default: the bundled model, loaded on first use)."""
    factory = writer_factory or _bundled_writer
    api = APIRouter(tags=["poetry"])

    @api.post("/v1/poems")
    def poems(body: PoemRequest) -> Any:  # sync: FastAPI runs it in its thread pool
        try:
            writer = factory()
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
        except DreamwrightError as exc:  # answered here too, so the router also works in a bare FastAPI app
            return from_exception(exc).response()
        return {"poems": [{**p.to_dict(), "marked": p.render(table, marks=table is not None)} for p in result]}

    @api.get("/poetry", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @api.get("/poetry.js", include_in_schema=False)
    def script() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

    return api
