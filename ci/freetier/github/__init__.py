"""GitHub, through PyGithub: the pull request's sticky plan comment, check runs and labels."""

from __future__ import annotations

from freetier.github.client import DEFAULT_RETRY, RetryPolicy, connect
from freetier.github.publish import (
    COMMENT_LIMIT,
    SUMMARY_LIMIT,
    CheckRun,
    Publication,
    Published,
    comment_on_pull,
    fit_summary,
    publish,
    pulls_for_commit,
    sticky_comment_body,
)

__all__ = [
    "COMMENT_LIMIT",
    "DEFAULT_RETRY",
    "SUMMARY_LIMIT",
    "CheckRun",
    "Publication",
    "Published",
    "RetryPolicy",
    "comment_on_pull",
    "connect",
    "fit_summary",
    "publish",
    "pulls_for_commit",
    "sticky_comment_body",
]
