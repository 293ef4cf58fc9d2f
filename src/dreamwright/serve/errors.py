"""One error type and one error body for the whole server.

Every error the server answers, from a router, an exception handler or the ASGI middleware, is an
:class:`APIError` and its body is built by :func:`error_body`: OpenAI's
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dreamwright.errors import DreamwrightError, VocabularyError
from dreamwright.serve.engine import EngineClosed, QueueFull, RequestTimeout
from dreamwright.serve.lanes import CoreLost
from dreamwright.serve.schemas import ErrorResponse

log = logging.getLogger("dreamwright.serve")

#: the error statuses documented in /openapi.json
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "Invalid parameters, or prompt tokens the model does not know."),
        (401, "Missing or wrong API key (when the server requires one)."),
        (404, "Unknown model."),
        (413, "Request body too large."),
        (429, "The model's queue is full; retry shortly."),
        (504, "The request ran past the server's time limit."),
    )
}

_PASS_FLAG = re.compile(r"\bpass --([a-z][a-z0-9-]*) ([\w-]+)")
#: a Python setting in a message (``pass unknown='skip'``), as the Python API words it
_PASS_SETTING = re.compile(r"\bpass ([a-z_][a-z0-9_]*)='([^']*)'")
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")


def error_body(
    message: str, type_: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """OpenAI's error shape: the only place it is built."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class APIError(Exception):
    """An error answered in OpenAI's shape, with its HTTP status (and extra headers, if any)."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers

    def body(self) -> dict[str, Any]:
        """The JSON body (also sent as the last event of a broken stream)."""
        return error_body(self.message, self.type, self.param, self.code)

    def response(self) -> JSONResponse:
        """The HTTP response; an ASGI app too, so middleware can send it with ``await r(scope, receive, send)``."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def api_wording(message: str) -> str:
    """Name request fields instead of CLI flags or Python settings: ``pass --unknown skip`` or ``pass
    unknown='skip'`` → ``send "unknown": "skip"``."""
    message = _PASS_FLAG.sub(lambda m: f'send "{m[1].replace("-", "_")}": "{m[2]}"', message)
    message = _PASS_SETTING.sub(lambda m: f'send "{m[1]}": "{m[2]}"', message)
    return _FLAG.sub(lambda m: m[1].replace("-", "_"), message)


def from_exception(exc: BaseException) -> APIError:
    """Map errors from validation and the engine to API errors (anything unexpected is a 500)."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, QueueFull):
        return APIError(
            429, f"{exc}; retry shortly", "rate_limit_error", code="queue_full",
            headers={"retry-after": str(exc.retry_after)},
        )
    if isinstance(exc, RequestTimeout):
        return APIError(504, str(exc), "timeout_error", code="timeout")
    if isinstance(exc, CoreLost):
        return APIError(503, str(exc), "server_error", code="engine_unavailable")
    if isinstance(exc, EngineClosed):
        return APIError(503, str(exc), "server_error", code="shutting_down")
    if isinstance(exc, VocabularyError):
        return APIError(400, api_wording(str(exc)), param=exc.param or "prompt", code="unknown_token")
    if isinstance(exc, DreamwrightError):
        return APIError(400, api_wording(str(exc)), param=exc.param, code="invalid_value")
    return APIError(500, "internal server error", "server_error")


def _validation_error(exc: RequestValidationError) -> APIError:
    """A request body that does not fit its schema, named by its first wrong field."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    if first.get("type") == "json_invalid":
        return APIError(400, "the request body is not valid JSON", code="invalid_json")
    if not loc:
        return APIError(400, f"invalid request body: {first.get('msg', 'expected a JSON object')}")
    what = "unrecognized request argument" if first.get("type") == "extra_forbidden" else first.get("msg")
    return APIError(400, f"{'.'.join(loc)}: {what}", param=loc[0], code="invalid_value")


def install_handlers(app: FastAPI) -> None:
    """Answer every error ``app`` raises in OpenAI's shape."""

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(DreamwrightError)
    async def _dw_error(request: Request, exc: DreamwrightError) -> JSONResponse:
        return from_exception(exc).response()

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(exc).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return APIError(exc.status_code, str(exc.detail), type_).response()

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return from_exception(exc).response()
