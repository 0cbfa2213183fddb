"""The one way freetier talks to GitHub: a PyGithub `Github` with a bounded retry policy, and
the mapping of its failures onto freetier's error tree.

Retried (bounded, with backoff): 5xx, and rate limits: a 403 or 429 carrying `retry-after`,
`x-ratelimit-remaining: 0` or GitHub's rate-limit message. Never retried: any other 4xx,
since asking again cannot fix a bad request. The token never appears in a message.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import requests
from github.Auth import Token
from github.GithubException import GithubException, RateLimitExceededExceedsMaxWait
from github.GithubRetry import GithubRetry
from github.MainClass import Github
from github.PullRequest import PullRequest
from github.Repository import Repository
from urllib3 import Retry
from urllib3.connectionpool import ConnectionPool
from urllib3.response import BaseHTTPResponse, HTTPResponse

from freetier.errors import ConfigError, RemoteError
from freetier.github.names import pull_problem, require

DEFAULT_API_URL = "https://api.github.com"
MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class RetryPolicy:
    """How patient we are with GitHub.

    `max_attempts` counts the first try. Backoff between retries of a 5xx is
    `base_sleep_seconds * 2**(n-1)` from the second retry on, at most `max_sleep_seconds`.
    A rate limit waits for `retry-after`, the `x-ratelimit-reset` time, or
    `rate_limit_wait_seconds` when GitHub names no time; a wait longer than
    `max_rate_limit_wait_seconds` fails at once instead of blocking the job.
    `seconds_between_requests`/`_writes` pace requests as GitHub asks (PyGithub's defaults).
    `sleep` does the waiting: tests pass one that records instead of sleeping.
    """

    max_attempts: int = 5
    base_sleep_seconds: float = 1.0
    max_sleep_seconds: float = 30.0
    rate_limit_wait_seconds: float = 60.0
    max_rate_limit_wait_seconds: float = 120.0
    seconds_between_requests: float = 0.25
    seconds_between_writes: float = 1.0
    timeout_seconds: int = 30
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")

    def urllib3_retry(self) -> Retry:
        """The `Retry` PyGithub hands to urllib3 for every request."""
        return BoundedGithubRetry(
            sleep=self.sleep,
            total=self.max_attempts - 1,
            # 429 too: GitHub answers secondary rate limits with 403 or 429.
            status_forcelist=[*range(500, 600), 429],
            # PATCH (editing a comment) is idempotent; urllib3 leaves it out by default. POST
            # is GithubRetry's default: a create retried after a 5xx GitHub had in fact applied
            # can leave a second sticky comment, which the next `publish` minimizes.
            allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"},
            backoff_factor=self.base_sleep_seconds,
            backoff_max=self.max_sleep_seconds,
            secondary_rate_wait=self.rate_limit_wait_seconds,
            max_rate_limit_wait=self.max_rate_limit_wait_seconds,
            retry_after_max=math.ceil(self.max_rate_limit_wait_seconds),
            # Out of attempts: hand back the last response, so PyGithub raises a
            # GithubException with GitHub's status and message.
            raise_on_status=False,
        )


DEFAULT_RETRY = RetryPolicy()


class BoundedGithubRetry(GithubRetry):
    """`GithubRetry` with an injectable `sleep`, and a 429 without `retry-after` treated as a
    rate limit (wait for the reset, or the secondary-limit wait) instead of plain backoff."""

    _rate_wait: float | None = None

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        self._sleep = sleep
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> Self:
        kw["sleep"] = self._sleep
        return super().new(**kw)

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: HTTPResponse | None = None,  # type: ignore[override]
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Retry:
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if (
            response is not None
            and response.status == 429
            and not response.headers.get("Retry-After")
        ):
            wait = self._rate_limit_wait(response.headers)
            if self.max_rate_limit_wait is not None and wait > self.max_rate_limit_wait:
                raise RateLimitExceededExceedsMaxWait(
                    429,
                    {"message": f"rate limited; the reset is {wait:.0f}s away"},
                    dict(response.headers),
                    wait=wait,
                )
            if isinstance(retry, BoundedGithubRetry):
                retry._rate_wait = wait
        return retry

    def _rate_limit_wait(self, headers: Mapping[str, str]) -> float:
        reset = headers.get("X-RateLimit-Reset", "")
        if headers.get("X-RateLimit-Remaining") == "0" and reset.isdigit():
            return max(int(reset) - time.time(), 0.0) + 1.0
        return float(self.secondary_rate_wait)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        wait: float | None = None
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
        if wait is None:
            wait = self._rate_wait
        if wait is None:
            wait = self.get_backoff_time()
        if wait > 0:
            self._sleep(wait)


def api_url(base_url: str | None, env: Mapping[str, str] | None = None) -> str:
    """`base_url`, else `GITHUB_API_URL` (set by Actions, GitHub Enterprise included), else
    api.github.com."""
    environ = os.environ if env is None else env
    return (base_url or environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")


def require_token(token: str) -> str:
    """The token, stripped; a missing one is bad input (exit 2), named without its value."""
    token = (token or "").strip()
    if not token:
        raise ConfigError(
            [
                "GITHUB_TOKEN: not set; pass the workflow's token "
                "(permissions: pull-requests: write, issues: write, checks: write)"
            ]
        )
    return token


def connect(
    token: str, *, base_url: str | None = None, retry: RetryPolicy = DEFAULT_RETRY
) -> Github:
    """A PyGithub client for `token` against `base_url` (see `api_url`).

    PyGithub hands its "github" logger a stderr handler at INFO (github/__init__.py), so every
    refused request (a 403, a 404) would print a line before our own one-line error: left at
    that default, only its warnings are let through (a level someone chose is kept)."""
    pygithub = logging.getLogger("github")
    if pygithub.level == logging.INFO:
        pygithub.setLevel(logging.WARNING)
    return Github(
        auth=Token(require_token(token)),
        base_url=api_url(base_url),
        timeout=retry.timeout_seconds,
        user_agent="freetier",
        per_page=100,  # GitHub's maximum: fewer pages to walk
        retry=retry.urllib3_retry(),
        seconds_between_requests=retry.seconds_between_requests or None,
        seconds_between_writes=retry.seconds_between_writes or None,
    )


def scrub(text: str, token: str) -> str:
    """`text` with every occurrence of `token` masked."""
    return text.replace(token, "***") if token else text


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def github_message(exc: GithubException) -> str:
    """GitHub's own words for a failure: `message`, the first GraphQL error, or the body."""
    if exc.message:
        return exc.message
    data = exc.data
    if not isinstance(data, Mapping):
        return str(data or "")
    errors = data.get("errors")
    if data.get("message"):
        return str(data["message"])
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return str(errors[0].get("message") or errors[0])
    if isinstance(data.get("data"), str):
        return str(data["data"])
    return str(dict(data))


def remote_error(action: str, exc: Exception, token: str) -> RemoteError:
    """One line: what we were doing, GitHub's status and message; never the token."""
    if isinstance(exc, GithubException):
        detail = f"{exc.status} {github_message(exc) or '(GitHub sent no message)'}"
        if isinstance(exc, RateLimitExceededExceedsMaxWait) and exc.wait is not None:
            detail += f" (rate limited for {exc.wait:.0f}s, longer than we wait)"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return RemoteError(scrub(one_line(f"GitHub: {action}: {detail}"), token))


@contextmanager
def remote_errors(action: str, token: str) -> Iterator[None]:
    """Turn PyGithub and transport failures inside the block into one-line `RemoteError`s."""
    try:
        yield
    except (GithubException, requests.RequestException) as exc:
        # Not chained: a traceback must not print what the server or transport echoed.
        raise remote_error(action, exc, token) from None


def open_repository(gh: Github, repo: str, token: str) -> Repository:
    """`repo` ("owner/name"); a 404 is bad input (GitHub answers 404 for "no access" too)."""
    with remote_errors(f"reading repository {repo}", token):
        try:
            return gh.get_repo(repo)
        except GithubException as exc:
            if exc.status == 404:
                raise ConfigError(
                    [f"{repo}: no such repository, or the token cannot read it"]
                ) from None
            raise


def open_pull(gh: Github, repo: str, pr: int, token: str) -> tuple[Repository, PullRequest]:
    """Pull request `pr` of `repo` and the repository; an unknown one is bad input."""
    require(pull_problem(str(pr)))
    repository = open_repository(gh, repo, token)
    with remote_errors(f"reading pull request #{pr} of {repo}", token):
        try:
            return repository, repository.get_pull(pr)
        except GithubException as exc:
            if exc.status == 404:
                raise ConfigError([f"--pr {pr}: no such pull request in {repo}"]) from None
            raise
