"""RFC 9457 problem documents: the one shape every error answer of every service takes."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raise from a route to answer with an RFC 9457 problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 headers: dict[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extensions = extensions


def problem_response(status: int, title: str, detail: str | None = None, *,
                     headers: dict[str, str] | None = None, **extensions: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
