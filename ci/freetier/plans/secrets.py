"""Which values count as secret for masking: the credentials the run was handed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from freetier.masking import env_secrets
from freetier.plans.model import Secrets


def registered_secrets(env: Mapping[str, str], extra_names: Iterable[str] = ()) -> Secrets:
    """The registered variables' values (`freetier.masking.env_secrets`) and `extra_names`'."""
    return Secrets(values=env_secrets(env, extra_names))
