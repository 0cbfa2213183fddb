"""How the GitHub fake speaks: GitHub's error bodies, `Link` pagination, timestamps and query
values. A module apart so that the fake's parts (`github_server`, `github_git`) share one
spelling of the wire without importing one another."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

DOCS = "https://docs.github.com/rest"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100

Json = dict[str, Any]


class ApiError(Exception):
    """A GitHub error response."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Json] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> Json:
        body: Json = {
            "message": self.message,
            "documentation_url": DOCS,
            "status": str(self.status),
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def invalid(resource: str, code: str, field_name: str, message: str | None = None) -> ApiError:
    error: Json = {"resource": resource, "code": code, "field": field_name}
    if message:
        error["message"] = message
    return ApiError(422, "Validation Failed", [error])


@dataclass(frozen=True)
class Page:
    """One page of a list, as GitHub cuts it (`per_page` default 30, at most 100). Some lists
    come wrapped, `{"total_count": N, "<wrap>": [...]}` (check runs, search results)."""

    items: list[Json]
    page: int
    last: int
    wrap: str | None = None
    total: int = 0

    @classmethod
    def of(cls, items: list[Json], query: dict[str, list[str]], wrap: str | None = None) -> Page:
        per_page = min(max(query_int(query, "per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
        page = max(query_int(query, "page", 1), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        return cls(items[(page - 1) * per_page : page * per_page], page, last, wrap, len(items))

    def body(self) -> list[Json] | Json:
        """What the response carries: the items, or the wrapped object."""
        if self.wrap is None:
            return self.items
        return {"total_count": self.total, self.wrap: self.items}

    def link_header(self, url: str, query: dict[str, list[str]]) -> dict[str, str]:
        """`Link` with next/last (and prev/first past page 1) to `url`."""
        if self.last == 1:
            return {}

        def at(page: int) -> str:
            params = {k: v[-1] for k, v in query.items() if k != "page"}
            return f"<{url}?{urlencode({**params, 'page': page})}>"

        rels: list[str] = []
        if self.page > 1:
            rels.append(f'{at(self.page - 1)}; rel="prev"')
        if self.page < self.last:
            rels += [f'{at(self.page + 1)}; rel="next"', f'{at(self.last)}; rel="last"']
        if self.page > 1:
            rels.append(f'{at(1)}; rel="first"')
        return {"link": ", ".join(rels)}


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def query_int(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query[name][-1])
    except (KeyError, ValueError):
        return default


def query_last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None
