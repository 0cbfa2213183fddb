"""What every OCI service fake here speaks: the error an endpoint raises, the request it
receives and the answer it returns. Its own module so the service modules (`oci_resources`,
`oci_objectstorage`, `oci_compute`) and the server core share one vocabulary without importing
each other for it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class ApiError(Exception):
    """An OCI error response: status and service code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found() -> ApiError:
    return ApiError(
        404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found."
    )


@dataclass(frozen=True)
class Call:
    """One authenticated request as the routes see it; `groups` are the path pattern's."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    groups: tuple[str, ...] = ()

    def param(self, name: str) -> str | None:
        return query_param(self.query, name)

    def required(self, name: str) -> str:
        value = self.param(name)
        if value is None:
            raise ApiError(400, "MissingParameter", f"Missing required parameter {name}")
        return value

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            raise ApiError(400, "InvalidParameter", "The request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise ApiError(400, "InvalidParameter", "The request body must be a JSON object")
        return value


# (status, body, extra headers); the body is JSON-able, raw `bytes` or None.
Answer = tuple[int, Any, dict[str, str]]
# (method, path pattern, answer): one endpoint of a service.
Route = tuple[str, str, Callable[[Call], Answer]]


def query_param(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
