"""What bootstrap needs before it touches the cluster, each checked with one line saying what to
do: the age identity the `sops-age` Secret carries, a stack whose Flux repository is this
repository, and a committed tree whose `gotk-sync.yaml` is what bootstrap will apply."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from freetier.errors import ConfigError
from freetier.stack import Stack

AGE_KEY_ENV = "FREETIER_AGE_KEY"
# Flux's kustomize-controller reads age identities from the decryption Secret's keys ending
# in `.agekey` (fluxcd.io/flux/guides/mozilla-sops/, "Configure in-cluster secrets decryption").
SOPS_SECRET_KEY = "age.agekey"  # noqa: S105 - the data key's name, not a key
NO_IDENTITY = (
    "no age identity: run `freetier secrets init` (it writes {path}) or set "
    f"{AGE_KEY_ENV} to the identity (in CI: the {AGE_KEY_ENV} secret of the production "
    "environment)"
)


@dataclass(frozen=True)
class AgeKey:
    line: str = field(repr=False)  # AGE-SECRET-KEY-1...: secret
    recipient: str
    source: str  # where it came from, for messages: $FREETIER_AGE_KEY or the file

    def secret_value(self) -> str:
        """What the Secret holds: the identity line, as an age identity file has it."""
        return self.line + "\n"


def read_age_key(root: Path, env: Mapping[str, str]) -> AgeKey:
    """$FREETIER_AGE_KEY when set, else the stack folder's identity file; its recipient must
    be one `.sops.yaml` encrypts for (else Flux could decrypt nothing)."""
    from freetier.secrets.age import parse_identity
    from freetier.secrets.model import IDENTITY_FILE, SOPS_CONFIG
    from freetier.secrets.sops_config import read_config_recipients

    text = env.get(AGE_KEY_ENV, "")
    if text.strip():
        source = f"${AGE_KEY_ENV}"
    else:
        path = root / IDENTITY_FILE
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise ConfigError([NO_IDENTITY.format(path=path)]) from None
        except (OSError, UnicodeDecodeError):
            raise ConfigError([f"{path}: cannot read the age identity"]) from None
        source = str(path)
    line, recipient = parse_identity(text, source)
    recipients = read_config_recipients(root)
    if recipients and recipient not in recipients:
        raise ConfigError(
            [
                f"{source}: its recipient {recipient} is not one {root / SOPS_CONFIG} encrypts "
                "for, so Flux could decrypt none of the tree's secrets with it; use the "
                "identity of `freetier secrets init` or add the recipient there"
            ]
        )
    return AgeKey(line, recipient, source)


def _github_repo(url: str) -> str | None:
    """OWNER/NAME of a GitHub https or ssh URL, lower-cased.

    >>> _github_repo("ssh://git@github.com/Me/Infra.git")
    'me/infra'
    """
    match = re.match(r"^(?:https://|ssh://git@)github\.com/([^/\s]+/[^/\s]+?)(?:\.git)?/?$", url)
    return match.group(1).lower() if match else None


def check_repo(stack: Stack, repo: str | None) -> None:
    """`repo` (OWNER/NAME, the repository being deployed) must be what Flux syncs."""
    if not repo:
        return
    if _github_repo(stack.flux.repo_url) != repo.lower():
        raise ConfigError(
            [
                f"stack.yaml flux.repo_url: {stack.flux.repo_url} is not this repository "
                f"({repo}), so Flux would sync another one; set it to "
                f"https://github.com/{repo} and run `freetier flux render`"
            ]
        )


def check_tree(root: Path, stack: Stack) -> None:
    """The committed `clusters/<name>/flux-system/gotk-sync.yaml` must be exactly what
    bootstrap applies: what Flux reads back from Git must not undo it."""
    import yaml

    from freetier.flux.render_clusters import SYNC_FILE, sync_documents
    from freetier.flux.render_yaml import yaml_file

    relpath = SYNC_FILE.format(name=stack.name)
    path = root / relpath
    redo = "run `freetier flux render` and commit the tree"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{relpath}: missing; {redo}"]) from None
    if text == yaml_file(sync_documents(stack)):
        return
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        documents = []
    repos = [d for d in documents if isinstance(d, dict) and d.get("kind") == "GitRepository"]
    spec = (repos[0].get("spec") or {}) if repos else {}
    url, branch = spec.get("url"), (spec.get("ref") or {}).get("branch")
    if url != stack.flux.repo_url or branch != stack.flux.branch:
        raise ConfigError(
            [
                f"{relpath}: syncs {url} on {branch}, not stack.yaml's flux.repo_url "
                f"{stack.flux.repo_url} on {stack.flux.branch}; {redo}"
            ]
        )
    raise ConfigError([f"{relpath}: not what stack.yaml renders; {redo}"])
