"""Secret files through the real sops: set, round-trip decrypt, placeholders, other recipients."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from freetier.command import Command, Completed, run
from freetier.errors import ConfigError
from freetier.secrets.age import ensure_identity
from freetier.secrets.model import (
    IDENTITY_FILE,
    PLACEHOLDER_ANNOTATION,
    SOPS_CONFIG,
    SecretKey,
    SecretSpec,
)
from freetier.secrets.sops_config import sops_config_text
from freetier.secrets.store import (
    SecretTarget,
    init_secrets,
    read_secret_file,
    seed_placeholder,
    set_secret_value,
)
from tests.secrets.harness import sops_binary

CANARY = "canary-7f3e-do-not-leak"
SPEC = SecretSpec(
    name="operator-oauth",
    namespace="tailscale",
    path="infrastructure/controllers/tailscale-operator/operator-oauth.sops.yaml",
    keys=(SecretKey("client_id", "REPLACE_ME", ""), SecretKey("client_secret", "REPLACE_ME", "")),
    purpose="test",
)


class Recorder:
    """The real runner, keeping every Command it ran."""

    def __init__(self) -> None:
        self.commands: list[Command] = []

    def __call__(self, cmd: Command) -> Completed:
        self.commands.append(cmd)
        return run(cmd)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    identity = ensure_identity(tmp_path / IDENTITY_FILE)
    (tmp_path / SOPS_CONFIG).write_text(sops_config_text([identity.recipient]))
    return tmp_path


def decrypt(root: Path, relpath: str) -> dict[str, object]:
    proc = subprocess.run(
        [sops_binary(), "decrypt", "--input-type", "yaml", "--output-type", "yaml", relpath],
        cwd=root,
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(root / IDENTITY_FILE)},
        capture_output=True,
        text=True,
        check=True,
    )
    data = yaml.safe_load(proc.stdout)
    assert isinstance(data, dict)
    return data


def test_set_encrypts_and_round_trips_through_sops(repo: Path) -> None:
    recorder = Recorder()
    target = SecretTarget.from_spec(SPEC)
    done = set_secret_value(
        sops_binary(), repo, repo / IDENTITY_FILE, target, "client_secret", CANARY, recorder
    )
    assert done == "created"
    text = (repo / SPEC.path).read_text()
    assert CANARY not in text and "ENC[AES256_GCM" in text and "sops:" in text
    plain = decrypt(repo, SPEC.path)
    assert plain["stringData"] == {"client_id": "REPLACE_ME", "client_secret": CANARY}
    assert plain["metadata"]["annotations"] == {PLACEHOLDER_ANNOTATION: "client_id"}  # type: ignore[index]
    assert recorder.commands
    for cmd in recorder.commands:
        assert CANARY not in " ".join(cmd.argv)
        assert all(CANARY not in v for v in cmd.env.values())


def test_second_key_updates_in_place_and_clears_the_placeholder_mark(repo: Path) -> None:
    sops = sops_binary()
    target = SecretTarget.from_spec(SPEC)
    set_secret_value(sops, repo, repo / IDENTITY_FILE, target, "client_secret", CANARY)
    before = read_secret_file(repo / SPEC.path)["stringData"]["client_secret"]
    recorder = Recorder()
    done = set_secret_value(
        sops, repo, repo / IDENTITY_FILE, target, "client_id", "id-" + CANARY, recorder
    )
    assert done == "updated"
    encrypted = read_secret_file(repo / SPEC.path)
    assert encrypted["stringData"]["client_secret"] == before  # the other ciphertext is kept
    assert "annotations" not in encrypted["metadata"]
    plain = decrypt(repo, SPEC.path)
    assert plain["stringData"] == {"client_id": "id-" + CANARY, "client_secret": CANARY}
    assert all(CANARY not in " ".join(c.argv) for c in recorder.commands)
    assert not list((repo / SPEC.path).parent.glob(".*.tmp"))


def test_placeholder_for_another_recipient_is_replaced(repo: Path, tmp_path: Path) -> None:
    sops = sops_binary()
    seed_placeholder(sops, repo, SPEC)
    identity = repo / IDENTITY_FILE
    identity.unlink()
    new = ensure_identity(identity)
    (repo / SOPS_CONFIG).write_text(sops_config_text([new.recipient]))
    done = set_secret_value(sops, repo, identity, SecretTarget.from_spec(SPEC), "client_id", CANARY)
    assert done == "replaced"
    assert decrypt(repo, SPEC.path)["stringData"] == {
        "client_id": CANARY,
        "client_secret": "REPLACE_ME",
    }


def test_real_values_for_another_recipient_are_refused(repo: Path) -> None:
    sops = sops_binary()
    target = SecretTarget.from_spec(SPEC)
    set_secret_value(sops, repo, repo / IDENTITY_FILE, target, "client_id", CANARY)
    before = (repo / SPEC.path).read_bytes()
    (repo / IDENTITY_FILE).unlink()
    new = ensure_identity(repo / IDENTITY_FILE)
    (repo / SOPS_CONFIG).write_text(sops_config_text([new.recipient]))
    with pytest.raises(ConfigError, match="other age recipients"):
        set_secret_value(sops, repo, repo / IDENTITY_FILE, target, "client_secret", "x")
    assert (repo / SPEC.path).read_bytes() == before


def test_init_reencrypts_placeholders_for_a_new_key(repo: Path) -> None:
    sops = sops_binary()
    seed_placeholder(sops, repo, SPEC)
    old = read_secret_file(repo / SPEC.path)["sops"]["age"][0]["recipient"]
    (repo / IDENTITY_FILE).unlink()
    result = init_secrets(repo, repo / IDENTITY_FILE, lambda: sops, [SPEC])
    assert result.identity.created and result.config_written
    assert result.reseeded == (SPEC.path,) and not result.seeded and not result.stale
    now = read_secret_file(repo / SPEC.path)["sops"]["age"][0]["recipient"]
    assert now == result.identity.recipient != old
    again = init_secrets(repo, repo / IDENTITY_FILE, lambda: sops, [SPEC])
    assert not (again.seeded or again.reseeded or again.config_written)


def test_plain_file_is_never_overwritten(repo: Path) -> None:
    path = repo / SPEC.path
    path.parent.mkdir(parents=True)
    path.write_text("apiVersion: v1\nkind: Secret\nstringData: {a: b}\n")
    with pytest.raises(ConfigError, match="not a SOPS-encrypted file"):
        set_secret_value(
            sops_binary(), repo, repo / IDENTITY_FILE, SecretTarget.from_spec(SPEC), "a", "b"
        )
