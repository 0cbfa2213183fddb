"""init's local files: the SSH key pair and the fingerprint key, each created once (mode 0600,
under the git-ignored `secrets/`) and kept on every later run; and the OCI CLI config check
with the tenancy's home region."""

from __future__ import annotations

import json
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from freetier.errors import ConfigError
from freetier.files import read_text, write_files
from freetier.layers import LAYER_MARKER, layer_folder
from freetier.setup.model import FINGERPRINT_KEY_FILE, SSH_KEY_FILE, Report

SSH_COMMENT = "freetier"


def check_private_mode(path: Path, what: str) -> None:
    """A private key others may read is bad input (ssh refuses such a key too)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the {what}: {exc.strerror}"]) from None
    if mode & 0o077:
        raise ConfigError(
            [f"{path}: mode {mode:04o} lets others read the {what}; run chmod 600 {path}"]
        )


def _private_folder(root: Path, relative: Path) -> None:
    """`secrets/` and the folders under it, made owner-only when init creates them."""
    folder = root
    for part in relative.parent.parts:
        folder = folder / part
        if not folder.exists():
            folder.mkdir(mode=0o700)


def ensure_ssh_key(root: Path, given: Path | None, report: Report, *, dry_run: bool) -> str | None:
    """The SSH public key line the bastion and hosts accept: the user's (`given`, a public key
    file), else the pair in secrets/ssh, created when missing."""
    if given is not None:
        line = read_text(given).strip()
        try:
            serialization.load_ssh_public_key(line.encode())
        except (ValueError, TypeError):
            raise ConfigError([f"{given}: not an OpenSSH public key line"]) from None
        report.add("SSH key", "kept", f"yours: {given}")
        return line
    private = root / SSH_KEY_FILE
    public = private.with_name(private.name + ".pub")
    if private.exists():
        check_private_mode(private, "SSH private key")
        if public.exists():
            report.add("SSH key", "kept", str(private))
            return read_text(public).strip()
        key = _load_private(private)
        line = _public_line(key)
        if dry_run:
            report.add("SSH key", "would update", f"{public}: derived from the private key")
        else:
            write_files(public.parent, {public.name: line + "\n"})
            report.add("SSH key", "updated", f"{public}: derived from the private key")
        return line
    if dry_run:
        report.add("SSH key", "would create", f"{private} (ed25519)")
        return None
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode("ascii")
    line = _public_line(key)
    _private_folder(root, SSH_KEY_FILE)
    # write_files stages each file with mkstemp: mode 0600 from the start, both or neither.
    write_files(private.parent, {private.name: pem, public.name: line + "\n"})
    report.add("SSH key", "created", f"{private} (ed25519, mode 0600, git-ignored)")
    return line


# tofu loads every *.auto.tfvars.json of a layer: the public key reaches the oci layer's
# `ssh_public_key` (bastion, Debian hosts) from a file committed beside the layer, as the
# image OCIDs do (images.auto.tfvars.json). A public key: safe to commit.
SSH_TFVARS = "ssh.auto.tfvars.json"


def ssh_tfvars_text(public_line: str) -> str:
    """The tfvars file's exact text.

    >>> print(ssh_tfvars_text("ssh-ed25519 AAAA freetier"), end="")
    {
      "ssh_public_key": "ssh-ed25519 AAAA freetier"
    }
    """
    return json.dumps({"ssh_public_key": public_line}, indent=2) + "\n"


def ensure_ssh_tfvars(stack_file: Path, public_line: str, report: Report, *, dry_run: bool) -> None:
    """tofu/oci/ssh.auto.tfvars.json carries the public key; skipped where no oci layer is."""
    folder = layer_folder(stack_file, "oci")
    item = f"tofu/oci/{SSH_TFVARS}"
    if not (folder / LAYER_MARKER).is_file():
        report.add(item, "skipped", f"no oci layer at {folder}")
        return
    target = folder / SSH_TFVARS
    text = ssh_tfvars_text(public_line)
    if target.is_file() and read_text(target) == text:
        report.add(item, "kept", "the SSH public key")
        return
    exists = target.exists()
    if dry_run:
        report.add(item, "would update" if exists else "would create", "the SSH public key")
        return
    write_files(folder, {SSH_TFVARS: text})
    report.add(item, "updated" if exists else "created", "the SSH public key (commit it)")


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError):
        raise ConfigError(
            [f"{path}: not an unencrypted OpenSSH private key; give --ssh-public-key instead"]
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError([f"{path}: not an ed25519 key; give --ssh-public-key instead"])
    return key


def _public_line(key: Ed25519PrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{public.decode('ascii')} {SSH_COMMENT}"


MIN_FINGERPRINT_KEY = 32  # characters (README.md, "Fingerprint key")


def fingerprint_key(
    root: Path, env: Mapping[str, str], report: Report, *, dry_run: bool
) -> str | None:
    """FREETIER_FINGERPRINT_KEY: from the environment, else secrets/fingerprint.key, created
    once (64 hex characters) so that plan and production get the same key, also across a
    run that stopped half way."""
    given = env.get("FREETIER_FINGERPRINT_KEY", "")
    if given:
        if len(given) < MIN_FINGERPRINT_KEY:
            raise ConfigError(
                [f"FREETIER_FINGERPRINT_KEY: shorter than {MIN_FINGERPRINT_KEY} characters"]
            )
        return given
    path = root / FINGERPRINT_KEY_FILE
    if path.exists():
        check_private_mode(path, "fingerprint key")
        value = read_text(path).strip()
        if len(value) < MIN_FINGERPRINT_KEY:
            raise ConfigError([f"{path}: shorter than {MIN_FINGERPRINT_KEY} characters"])
        report.add("fingerprint key", "kept", str(path))
        return value
    if dry_run:
        report.add("fingerprint key", "would create", str(path))
        return None
    value = secrets.token_hex(32)
    _private_folder(root, FINGERPRINT_KEY_FILE)
    write_files(path.parent, {path.name: value + "\n"})
    report.add("fingerprint key", "created", f"{path} (mode 0600, git-ignored)")
    return value


@dataclass(frozen=True)
class OciFacts:
    config: dict[str, Any]
    where: str  # the config file and profile, for messages
    home_region: str | None
    regions: tuple[str, ...]


def check_oci(env: Mapping[str, str], home: Path) -> OciFacts:
    """Validate the OCI CLI config (oci.config.validate_config), its key file's mode, and the
    key itself by a signed call that also names the tenancy's home region."""
    from freetier.oci_clients import DEFAULT_PROFILE, PROFILE_ENV, load_oci_config, oci_config_path
    from freetier.tenancy import region_subscriptions

    config = load_oci_config(env, home)
    key_file = config.get("key_file")
    if key_file:
        check_private_mode(Path(str(key_file)).expanduser(), "OCI API private key")
    subscriptions = region_subscriptions(config, env=env)
    homes = [s.name for s in subscriptions if s.home]
    where = f"{oci_config_path(env, home)} [{env.get(PROFILE_ENV) or DEFAULT_PROFILE}]"
    return OciFacts(
        config=config,
        where=where,
        home_region=homes[0] if homes else None,
        regions=tuple(s.name for s in subscriptions),
    )


def region_warning(stack_region: str, facts: OciFacts) -> str | None:
    """Why the stack's region will not give Always Free A1 capacity, or None."""
    if facts.home_region is None or stack_region == facts.home_region:
        return None
    subscribed = (
        "a region the tenancy is subscribed to"
        if stack_region in facts.regions
        else ("not even a region the tenancy is subscribed to")
    )
    return (
        f"stack.yaml oci.region is {stack_region} ({subscribed}), but the tenancy's home "
        f"region is {facts.home_region}: Always Free A1 instances exist only in the home region"
    )
