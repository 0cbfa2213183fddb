"""Deployment environments and Actions secrets: the half of the GitHub fake `freetier init`
writes to, mixed into `FakeGitHub` as `ActionsSecrets`.

GitHub's rules kept here (docs.github.com/en/rest/actions/secrets and
/rest/deployments/environments): every repository and every environment has its own
libsodium public key (`GET .../secrets/public-key`, `{"key_id", "key"}` base64); a secret is
PUT as `{"encrypted_value", "key_id"}`, sealed to that key, answered 201 when created and 204
when updated, and can never be read back (GET answers its name and dates only); a secret name
is letters, digits and `_`, not starting with a digit nor with `GITHUB_`; an environment is
created or updated by PUT (200 either way) and listed as `{"total_count", "environments"}`.

The fake keeps each secret's ciphertext and its private keys, so a test can decrypt
(`secret_value`) and check what a client sealed. A login can be limited to some fine-grained
permissions (`limit_permissions`): a request needing another is answered 403 "Resource not
accessible by personal access token" with `x-accepted-github-permissions`, as GitHub does.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

from tests.fakes.github_state import Repo
from tests.fakes.github_wire import ApiError, Json, Page, invalid, iso, not_found

SECRET_NAME = re.compile(r"^(?!GITHUB_)(?![0-9])[A-Za-z0-9_]+$", re.IGNORECASE)
# The fine-grained permission each kind of request needs (docs.github.com/en/rest/authentication/
# permissions-required-for-fine-grained-personal-access-tokens).
NEEDS = {
    "repo-secrets": "secrets=write",
    "environment-write": "administration=write",
    "environment-read": "actions=read",
    "environment-secrets": "environments=write",
}


@dataclass
class SealedSecret:
    name: str
    encrypted_value: str  # base64 of the sealed box, as the client sent it
    key_id: str
    created_at: datetime
    updated_at: datetime


@dataclass
class SecretStore:
    """One repository's or one environment's secrets and key pair."""

    key_id: str
    private_key: PrivateKey = field(repr=False)
    secrets: dict[str, SealedSecret] = field(default_factory=dict)


@dataclass
class EnvironmentRecord:
    id: int
    node_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    store: SecretStore
    wait_timer: int = 0
    reviewers: list[Json] = field(default_factory=list)
    branch_policy: Json | None = None


class ActionsSecrets:
    """`FakeGitHub`'s environments and secrets; the fake supplies what is declared below."""

    if TYPE_CHECKING:
        caller: str

        @property
        def url(self) -> str: ...

        @property
        def root(self) -> str: ...

        def _id(self) -> int: ...

        def now(self) -> datetime: ...

    _stores: dict[str, SecretStore]
    _environments: dict[str, dict[str, EnvironmentRecord]]
    _permissions: dict[str, frozenset[str]]

    def _actions_state(self) -> None:
        self._stores = {}
        self._environments = {}
        self._permissions = {}

    # --- seeding and inspection ------------------------------------------------------------

    def limit_permissions(self, login: str, granted: set[str]) -> None:
        """Let `login` do only what `granted` names (`NEEDS` values, e.g. "secrets=write")."""
        self._permissions[login] = frozenset(granted)

    def environment(self, repo: Repo, name: str) -> EnvironmentRecord | None:
        return self._environments.get(repo.full_name.lower(), {}).get(name.lower())

    def secret_value(self, repo: Repo, name: str, environment: str | None = None) -> str:
        """Decrypt a stored secret with the private key it was sealed to."""
        store = self._store_of(repo, environment)
        sealed = store.secrets[name]
        return (
            SealedBox(store.private_key).decrypt(base64.b64decode(sealed.encrypted_value)).decode()
        )

    def secret_names(self, repo: Repo, environment: str | None = None) -> list[str]:
        return sorted(self._store_of(repo, environment).secrets)

    def _store_of(self, repo: Repo, environment: str | None) -> SecretStore:
        if environment is None:
            return self._repo_store(repo)
        record = self.environment(repo, environment)
        if record is None:
            raise KeyError(environment)
        return record.store

    def _new_store(self) -> SecretStore:
        return SecretStore(
            key_id=str(568250167242549000 + self._id()), private_key=PrivateKey.generate()
        )

    def _repo_store(self, repo: Repo) -> SecretStore:
        return self._stores.setdefault(repo.full_name.lower(), self._new_store())

    def _require(self, need: str) -> None:
        granted = self._permissions.get(self.caller)
        if granted is not None and NEEDS[need] not in granted:
            raise ApiError(
                403,
                "Resource not accessible by personal access token",
                headers={"x-accepted-github-permissions": NEEDS[need]},
            )

    # --- JSON ------------------------------------------------------------------------------

    def _environment_json(self, repo: Repo, record: EnvironmentRecord) -> Json:
        rules: list[Json] = []
        if record.reviewers:
            rules.append(
                {"id": record.id + 1, "type": "required_reviewers", "reviewers": record.reviewers}
            )
        if record.branch_policy:
            rules.append({"id": record.id + 2, "type": "branch_policy"})
        return {
            "id": record.id,
            "node_id": record.node_id,
            "name": record.name,
            "url": f"{self.url}/repos/{repo.full_name}/environments/{quote(record.name, safe='')}",
            "html_url": f"{self.root}/{repo.full_name}/deployments/{quote(record.name)}",
            "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at),
            "protection_rules": rules,
            "deployment_branch_policy": record.branch_policy,
        }

    @staticmethod
    def _secret_json(secret: SealedSecret) -> Json:
        return {
            "name": secret.name,
            "created_at": iso(secret.created_at),
            "updated_at": iso(secret.updated_at),
        }

    # --- handlers --------------------------------------------------------------------------

    def get_repo_public_key(
        self, repo: Repo, params: dict[str, str], query: Any, body: Any
    ) -> Json:
        self._require("repo-secrets")
        return _key_json(self._repo_store(repo))

    def list_repo_secrets(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Page:
        self._require("repo-secrets")
        store = self._repo_store(repo)
        items = [self._secret_json(store.secrets[n]) for n in sorted(store.secrets)]
        return Page.of(items, query, wrap="secrets")

    def get_repo_secret(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        self._require("repo-secrets")
        secret = self._repo_store(repo).secrets.get(params["name"].upper())
        if secret is None:
            raise not_found()
        return self._secret_json(secret)

    def put_repo_secret(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Any:
        self._require("repo-secrets")
        return self._put_secret(self._repo_store(repo), params["name"], body)

    def list_environments(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Page:
        self._require("environment-read")
        records = self._environments.get(repo.full_name.lower(), {}).values()
        items = [self._environment_json(repo, r) for r in sorted(records, key=lambda r: r.name)]
        return Page.of(items, query, wrap="environments")

    def get_environment(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        self._require("environment-read")
        record = self.environment(repo, params["env"])
        if record is None:
            raise not_found()
        return self._environment_json(repo, record)

    def put_environment(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        self._require("environment-write")
        body = body if isinstance(body, dict) else {}
        wait_timer = body.get("wait_timer", 0)
        if not isinstance(wait_timer, int) or not 0 <= wait_timer <= 43200:
            raise invalid("Environment", "invalid", "wait_timer")
        reviewers = body.get("reviewers") or []
        if not isinstance(reviewers, list) or len(reviewers) > 6:
            raise invalid("Environment", "invalid", "reviewers")
        policy = body.get("deployment_branch_policy")
        if policy is not None and (
            not isinstance(policy, dict)
            or policy.get("protected_branches") == policy.get("custom_branch_policies")
        ):
            # GitHub: exactly one of the two must be true.
            raise invalid("Environment", "invalid", "deployment_branch_policy")
        environments = self._environments.setdefault(repo.full_name.lower(), {})
        record = environments.get(params["env"].lower())
        if record is None:
            record_id = self._id()
            now = self.now()
            record = EnvironmentRecord(
                record_id, f"EN_fake{record_id}", params["env"], now, now, self._new_store()
            )
            environments[params["env"].lower()] = record
        else:
            record.updated_at = self.now()
        record.wait_timer = wait_timer
        record.reviewers = list(reviewers)
        record.branch_policy = policy
        return self._environment_json(repo, record)

    def get_environment_public_key(
        self, repo: Repo, params: dict[str, str], query: Any, body: Any
    ) -> Json:
        self._require("environment-secrets")
        return _key_json(self._environment_store(repo, params["env"]))

    def list_environment_secrets(
        self, repo: Repo, params: dict[str, str], query: Any, body: Any
    ) -> Page:
        self._require("environment-secrets")
        store = self._environment_store(repo, params["env"])
        items = [self._secret_json(store.secrets[n]) for n in sorted(store.secrets)]
        return Page.of(items, query, wrap="secrets")

    def put_environment_secret(
        self, repo: Repo, params: dict[str, str], query: Any, body: Any
    ) -> Any:
        self._require("environment-secrets")
        return self._put_secret(self._environment_store(repo, params["env"]), params["name"], body)

    def _environment_store(self, repo: Repo, name: str) -> SecretStore:
        record = self.environment(repo, name)
        if record is None:
            raise not_found()
        return record.store

    def _put_secret(self, store: SecretStore, name: str, body: Any) -> Any:
        if not SECRET_NAME.match(name):
            raise invalid("Secret", "invalid", "name")
        body = body if isinstance(body, dict) else {}
        value, key_id = body.get("encrypted_value"), body.get("key_id")
        if not isinstance(value, str) or not isinstance(key_id, str | int):
            raise invalid("Secret", "missing_field", "encrypted_value")
        if str(key_id) != store.key_id:
            raise ApiError(422, "Bad request - key_id does not match the current public key")
        try:  # GitHub cannot check the seal; the fake can, and refuses what it cannot open
            SealedBox(store.private_key).decrypt(base64.b64decode(value, validate=True))
        except (CryptoError, ValueError):
            raise invalid("Secret", "invalid", "encrypted_value") from None
        name = name.upper()  # GitHub stores secret names in upper case
        now = self.now()
        existing = store.secrets.get(name)
        created = existing.created_at if existing else now
        store.secrets[name] = SealedSecret(name, value, str(key_id), created, now)
        return Status(204 if existing else 201)


@dataclass(frozen=True)
class Status:
    """A handler's answer with no body and a status of its own (201 or 204)."""

    status: int


def _key_json(store: SecretStore) -> Json:
    key = base64.b64encode(bytes(store.private_key.public_key)).decode()
    return {"key_id": store.key_id, "key": key}
