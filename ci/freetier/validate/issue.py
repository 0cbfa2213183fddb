"""`--report-issue OWNER/NAME`: the validate report kept in the repository's one failing issue
(`github.failing_issue`)."""

from __future__ import annotations

from collections.abc import Mapping

from freetier.errors import ConfigError
from freetier.validate.model import Report
from freetier.validate.render import render_markdown


def run_link(env: Mapping[str, str]) -> str | None:
    """The Actions run this is, from the variables Actions sets, or None outside Actions."""
    server, repo, run = (
        env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repo and run:
        return f"{server}/{repo}/actions/runs/{run}"
    return None


def check_report_issue(repo_name: str, env: Mapping[str, str]) -> None:
    """Bad input before any check runs: the repository's name, and a token to write with."""
    from freetier.github.names import repo_problem, require

    require(repo_problem(repo_name, "--report-issue"))
    if not env.get("GITHUB_TOKEN", "").strip():
        raise ConfigError(
            ["GITHUB_TOKEN: not set; --report-issue needs a token with issues: write"]
        )


def report_issue(repo_name: str, report: Report, env: Mapping[str, str]) -> str:
    """Open, edit or close the failing issue; one line saying which."""
    from freetier.github.client import connect, open_repository
    from freetier.github.failing_issue import sync_failing_issue

    check_report_issue(repo_name, env)
    token = env["GITHUB_TOKEN"].strip()
    markdown = render_markdown(report)
    link = run_link(env)
    if link:
        markdown += f"\nRun: {link}\n"
    repository = open_repository(connect(token), repo_name, token)
    action, number = sync_failing_issue(repository, bool(report.failed), markdown, token)
    if number is None:
        return f"{repo_name}: no failing issue open, none needed"
    return f"{repo_name}#{number}: {action} the failing issue"
