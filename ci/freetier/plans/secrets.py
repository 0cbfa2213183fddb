"""Which values count as secret for masking: the credentials the run was handed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from freetier.masking import FINGERPRINT_KEY_ENV, env_secrets
from freetier.plans.keyed import fingerprint_key
from freetier.plans.model import Secrets


def registered_secrets(env: Mapping[str, str], extra_names: Iterable[str] = ()) -> Secrets:
    """The registered variables' values (`freetier.masking.env_secrets`) and `extra_names`',
    and the fingerprint key when one is set (ConfigError when it is too short)."""
    return Secrets(
        values=env_secrets(env, extra_names),
        fingerprint_key=fingerprint_key(env.get(FINGERPRINT_KEY_ENV)),
    )
