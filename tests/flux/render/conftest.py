from __future__ import annotations

from pathlib import Path

import pytest

from freetier.stack import Stack, load_stack
from tests.conftest import PROXMOX_EXAMPLE, SHIPPED_STACK
from tests.secrets.harness import new_repo, run_cli


@pytest.fixture
def shipped() -> Stack:
    return load_stack(SHIPPED_STACK)


@pytest.fixture
def proxmox() -> Stack:
    return load_stack(PROXMOX_EXAMPLE)


def with_apps(stack: Stack, **apps: bool) -> Stack:
    return stack.model_copy(update={"apps": stack.apps.model_copy(update=apps)})


def rendered_repo(root: Path, stack_text: str | None = None) -> Path:
    """A repository with stack.yaml, `secrets init` and `flux render` done (real sops)."""
    new_repo(root, stack_text)
    stack = str(root / "stack.yaml")
    assert run_cli(["secrets", "init", "--stack", stack]) == 0
    assert run_cli(["flux", "render", "--stack", stack]) == 0
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return rendered_repo(tmp_path / "repo")
