"""What `freetier init` decides, as data: the answers, the report rows, which GitHub
environment holds which secret, and the text of the files it derives. Pure: no I/O here."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

# Where init keeps what it generates, relative to the stack's folder; `secrets/` is
# git-ignored (.gitignore), like the age identity beside them.
SSH_KEY_FILE = Path("secrets") / "ssh" / "id_ed25519"
FINGERPRINT_KEY_FILE = Path("secrets") / "fingerprint.key"

Status = Literal["created", "updated", "kept", "skipped", "would create", "would update"]
CHANGES = frozenset({"created", "updated"})

# The environments the workflows run in and the secrets each reads (README.md, "The
# environments"; .github/workflows/pr.yml, deploy.yml, images.yml). FREETIER_AGE_KEY: what
# bootstrap puts in the cluster's sops-age Secret on deploy.
PLAN_SECRETS = (
    "OCI_CONFIG",
    "OCI_KEY",
    "STATE_ACCESS_KEY",
    "STATE_SECRET_KEY",
    "FREETIER_FINGERPRINT_KEY",
    "TS_AUTH_KEY",
)
ENVIRONMENT_SECRETS: dict[str, tuple[str, ...]] = {
    "plan": PLAN_SECRETS,
    "production": (*PLAN_SECRETS, "TS_OAUTH_CLIENT_ID", "TS_OAUTH_SECRET", "FREETIER_AGE_KEY"),
    "images": ("OCI_CONFIG", "OCI_KEY"),
}
# Secrets whose value the user supplies (environment variable of the same name, or a prompt),
# with what the prompt says; the others init derives (OCI config and key, age identity,
# fingerprint key).
SUPPLIED_SECRETS = {
    "STATE_ACCESS_KEY": "Object Storage customer secret key: access key (remote state)",
    "STATE_SECRET_KEY": "Object Storage customer secret key: secret key (remote state)",
    "TS_AUTH_KEY": "Tailscale auth key for the nodes and plan jobs (tskey-auth-..., tagged, "
    "ephemeral)",
    "TS_OAUTH_CLIENT_ID": "Tailscale OAuth client ID the deploy job joins with (tag:ci)",
    "TS_OAUTH_SECRET": "Tailscale OAuth client secret the deploy job joins with",
}
# What PyGithub cannot do for the owner, or what is the owner's choice (README.md, "The
# environments", settings column).
MANUAL_STEPS = (
    "GitHub production environment: add the required reviewers you want for deploys",
    "GitHub production and images environments: restrict deployment branches to main "
    "(Settings > Environments > Deployment branches)",
    "GitHub repository variable FREETIER_BACKEND_CONFIG: your backend settings file, for "
    "remote state (tofu/oci/README.md)",
    "GitHub images environment: optionally FREETIER_PR_TOKEN, a token that may open the "
    "image pull request",
)

# Values the shipped stack.yaml holds only as examples: init replaces them by what it knows,
# and warns about those left. Example addresses are the RFC 5737 documentation networks.
PLACEHOLDER = re.compile(r"replacewith|your-org|example\.com")
DOCUMENTATION_NETS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")


@dataclass(frozen=True)
class Row:
    """One line of the summary: what, what happened to it, and a detail (never a value)."""

    item: str
    status: Status
    detail: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)
    dry_run: bool = False
    facts: dict[str, Any] = field(default_factory=dict)  # home region, recipient, key paths

    def add(self, item: str, status: Status, detail: str = "") -> None:
        self.rows.append(Row(item, status, detail))

    @property
    def changed(self) -> bool:
        return any(r.status in CHANGES or r.status.startswith("would") for r in self.rows)


@dataclass(frozen=True)
class StackAnswers:
    """What init may write into stack.yaml; None: keep what the file holds."""

    name: str | None = None
    region: str | None = None
    compartment_ocid: str | None = None
    admin_cidrs: tuple[str, ...] | None = None
    repo_url: str | None = None
    alert_email: str | None = None

    def fields(self) -> dict[tuple[str, ...], str | tuple[str, ...]]:
        """Each answer given, by its path in stack.yaml."""
        paths: dict[tuple[str, ...], str | tuple[str, ...] | None] = {
            ("name",): self.name,
            ("oci", "region"): self.region,
            ("oci", "compartment_ocid"): self.compartment_ocid,
            ("network", "admin_cidrs"): self.admin_cidrs,
            ("flux", "repo_url"): self.repo_url,
            ("budget", "alert_email"): self.alert_email,
        }
        return {path: value for path, value in paths.items() if value is not None}


class Prompter(Protocol):
    """How a stage asks the person at the terminal; absent in a non-interactive run."""

    def ask(self, question: str, default: str | None) -> str:
        """A visible answer; the default when the answer is empty."""
        ...

    def ask_secret(self, question: str) -> str:
        """A hidden answer (not echoed); empty: skip it."""
        ...


def is_placeholder(value: object) -> bool:
    return isinstance(value, str) and PLACEHOLDER.search(value) is not None


def example_values(fields: Mapping[str, object]) -> list[str]:
    """The fields (path -> value) that still hold the shipped examples, as warnings.

    >>> example_values({"budget.alert_email": "you@example.com", "name": "lab"})
    ['stack.yaml budget.alert_email is still the example you@example.com']
    """
    found = []
    for path, value in fields.items():
        values = value if isinstance(value, list | tuple) else [value]
        examples = [v for v in values if is_placeholder(v) or _documentation_net(v)]
        if examples:
            found.append(f"stack.yaml {path} is still the example {', '.join(map(str, examples))}")
    return found


def _documentation_net(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return any(
        net.version == 4 and net.subnet_of(ipaddress.IPv4Network(doc)) for doc in DOCUMENTATION_NETS
    )


def flux_secret_env(secret: str, key: str) -> str:
    """The environment variable that carries KEY of the Flux tree's Secret SECRET.

    >>> flux_secret_env("operator-oauth", "client_id")
    'FREETIER_SECRET_OPERATOR_OAUTH_CLIENT_ID'
    """
    return "FREETIER_SECRET_" + re.sub(r"[^A-Za-z0-9]+", "_", f"{secret}_{key}").upper()


def ci_oci_config(config: Mapping[str, Any]) -> str:
    """The OCI config file CI mounts (`OCI_CONFIG`): the checked profile as [DEFAULT], its key
    at ~/.oci/key.pem, where the Dagger module mounts `OCI_KEY` (ci/freetier/pipeline.py).

    >>> print(ci_oci_config({"user": "u", "fingerprint": "f", "tenancy": "t", "region": "r",
    ...                      "key_file": "/home/me/k.pem"}), end="")
    [DEFAULT]
    user=u
    fingerprint=f
    tenancy=t
    region=r
    key_file=~/.oci/key.pem
    """
    lines = ["[DEFAULT]"]
    lines += [f"{name}={config[name]}" for name in ("user", "fingerprint", "tenancy", "region")]
    lines.append("key_file=~/.oci/key.pem")
    if config.get("pass_phrase"):
        lines.append(f"pass_phrase={config['pass_phrase']}")
    return "\n".join(lines) + "\n"


def render_text(report: Report) -> str:
    """The summary table, the warnings and what is left to do by hand."""
    width = max((len(r.item) for r in report.rows), default=4)
    state = max((len(r.status) for r in report.rows), default=6)
    lines = [f"{'what':<{width}}  {'status':<{state}}  detail"]
    lines += [f"{r.item:<{width}}  {r.status:<{state}}  {r.detail}".rstrip() for r in report.rows]
    if report.warnings:
        lines += ["", *(f"warning: {w}" for w in report.warnings)]
    if report.manual:
        lines += ["", "Left for you to do:", *(f"- {m}" for m in report.manual)]
    if not report.changed:
        lines += ["", "Nothing changed: what could be set up already was."]
    elif report.dry_run:
        lines += ["", "Dry run: nothing was written."]
    return "\n".join(lines) + "\n"


def report_json(report: Report) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "changed": report.changed,
        "rows": [{"item": r.item, "status": r.status, "detail": r.detail} for r in report.rows],
        "warnings": list(report.warnings),
        "manual": list(report.manual),
        **report.facts,
    }


def split_list(text: str) -> tuple[str, ...]:
    """A comma- or space-separated answer as its items."""
    return tuple(part for part in re.split(r"[,\s]+", text) if part)


def needed_secrets(environments: Sequence[str]) -> list[str]:
    """Every secret the named environments hold, once, in a stable order."""
    return list(dict.fromkeys(s for env in environments for s in ENVIRONMENT_SECRETS[env]))
