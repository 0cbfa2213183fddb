"""The age identity, `.sops.yaml` and the encrypted Secrets the Flux tree needs from the user
(the Tailscale operator's OAuth client, Grafana Cloud), through `freetier secrets`' own code:
`init_secrets` for the identity, the rules and the placeholders, `set_secret_value` for each
value. A key already holding a real value is kept; only placeholders are filled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from freetier.flux.render import secret_specs
from freetier.flux.render_apps import GRAFANA_CLOUD_SECRET
from freetier.flux.render_infra import TAILSCALE_OAUTH
from freetier.secrets.age import read_recipient
from freetier.secrets.model import IDENTITY_FILE, SOPS_CONFIG, SecretKey, SecretSpec, pending_keys
from freetier.secrets.sops_config import read_config_recipients
from freetier.secrets.store import (
    SecretTarget,
    init_secrets,
    read_secret_file,
    set_secret_value,
)
from freetier.setup.model import Report, flux_secret_env
from freetier.stack import Stack

# The Secrets whose values only the user has; the OCI CCM's is filled from tofu/oci's outputs
# after the first apply, so init leaves it a placeholder.
USER_SECRETS = (TAILSCALE_OAUTH.name, GRAFANA_CLOUD_SECRET)

# Asks for one value (None: none given); the stage never reads a terminal itself.
ValueSource = Callable[[SecretSpec, SecretKey], str | None]


def user_specs(stack: Stack) -> list[SecretSpec]:
    return [s for s in secret_specs(stack) if s.name in USER_SECRETS]


def ensure_flux_secrets(
    root: Path,
    stack: Stack,
    locate_sops: Callable[[], str],
    value_of: ValueSource,
    report: Report,
    *,
    replace: bool,
    dry_run: bool,
) -> None:
    identity = root / IDENTITY_FILE
    if dry_run:
        _predict_init(root, identity, report)
    else:
        result = init_secrets(root, identity, locate_sops, secret_specs(stack))
        report.add(
            "age identity",
            "created" if result.identity.created else "kept",
            f"{identity} (mode 0600, git-ignored)",
        )
        report.add(SOPS_CONFIG, "created" if result.config_written else "kept", "age recipient")
        for path in (*result.seeded, *result.reseeded):
            report.add(path, "created", "placeholder Secret (encrypted)")
        for path in result.stale:
            report.warnings.append(
                f"{path}: encrypted for other age recipients; re-encrypt it (sops updatekeys)"
            )
        report.facts["age_recipient"] = result.identity.recipient
    for spec in user_specs(stack):
        _fill(root, identity, spec, locate_sops, value_of, report, replace=replace, dry_run=dry_run)


def _predict_init(root: Path, identity: Path, report: Report) -> None:
    if not identity.exists():
        report.add("age identity", "would create", str(identity))
        report.add(SOPS_CONFIG, "would create", "age recipient")
        return
    report.add("age identity", "kept", str(identity))
    recipient = read_recipient(identity)
    written = recipient in read_config_recipients(root)
    report.add(SOPS_CONFIG, "kept" if written else "would update", "age recipient")


def _fill(
    root: Path,
    identity: Path,
    spec: SecretSpec,
    locate_sops: Callable[[], str],
    value_of: ValueSource,
    report: Report,
    *,
    replace: bool,
    dry_run: bool,
) -> None:
    path = root / spec.path
    pending = set(pending_keys(read_secret_file(path))) if path.exists() else set(spec.key_names())
    target = SecretTarget.from_spec(spec)
    for key in spec.keys:
        item = f"Secret {spec.name}: {key.name}"
        if key.name not in pending and not replace:
            report.add(item, "kept", spec.path)
            continue
        value = value_of(spec, key)
        if not value:
            env = flux_secret_env(spec.name, key.name)
            report.add(item, "skipped", f"placeholder: set {env}, or `freetier secrets set`")
            continue
        if dry_run:
            report.add(item, "would update", "encrypted with sops")
            continue
        set_secret_value(locate_sops(), root, identity, target, key.name, value)
        report.add(item, "updated" if key.name not in pending else "created", spec.path)
