"""The GitHub side of init: the `plan`, `production` and `images` environments and the secrets
each workflow reads there (model.ENVIRONMENT_SECRETS), set through PyGithub, which seals each
value to the environment's public key. A secret already present is kept (GitHub never shows
it back, so init cannot tell an old value from a new one) unless `replace` asks otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from freetier.setup.model import ENVIRONMENT_SECRETS, MANUAL_STEPS, Report

if TYPE_CHECKING:
    from freetier.github.client import RetryPolicy

# A secret's value, or None when there is none to give (the row then says how to give it).
SecretSource = Callable[[str], str | None]
Hint = Callable[[str], str]


def setup_github(
    repo_name: str,
    token: str,
    value_of: SecretSource,
    hint: Hint,
    report: Report,
    *,
    replace: bool,
    dry_run: bool,
    api_url: str | None = None,
    retry: RetryPolicy | None = None,
) -> None:
    from freetier.github.actions import (
        create_environment,
        environment_names,
        put_secret,
        secret_names,
    )
    from freetier.github.client import DEFAULT_RETRY, connect, open_repository

    gh = connect(token, base_url=api_url, retry=retry or DEFAULT_RETRY)
    repo = open_repository(gh, repo_name, token)
    existing = environment_names(repo, token)
    for environment, names in ENVIRONMENT_SECRETS.items():
        label = f"GitHub {environment}"
        present: set[str] = set()
        if environment in existing:
            report.add(f"{label} environment", "kept")
            present = secret_names(repo, environment, token)
        elif dry_run:
            report.add(f"{label} environment", "would create")
        else:
            create_environment(repo, environment, token)
            report.add(f"{label} environment", "created")
        for name in names:
            item = f"{label}: {name}"
            if name in present and not replace:
                report.add(item, "kept", "present (GitHub never shows it back)")
                continue
            value = value_of(name)
            if not value:
                report.add(item, "skipped", hint(name))
                continue
            if dry_run:
                report.add(item, "would update" if name in present else "would create")
                continue
            put_secret(repo, environment, name, value, token)
            report.add(item, "updated" if name in present else "created", "sealed to its key")
    report.manual.extend(MANUAL_STEPS)
