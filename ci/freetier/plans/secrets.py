"""Which values count as secret for masking: the credentials the run was handed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from freetier.plans.model import Secrets

# Credentials freetier itself passes around; every TF_VAR_ value too (tofu secrets travel so).
KNOWN = ("GITHUB_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "OCI_CLI_KEY_CONTENT")


def registered_secrets(env: Mapping[str, str], extra_names: Iterable[str] = ()) -> Secrets:
    names = [*KNOWN, *extra_names, *(k for k in env if k.startswith("TF_VAR_"))]
    values = tuple(sorted({env[n] for n in names if env.get(n)}, key=len, reverse=True))
    return Secrets(values=values)
