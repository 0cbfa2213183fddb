from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_STACK = ROOT / "stack.yaml"
PROXMOX_EXAMPLE = ROOT / "examples" / "proxmox.stack.yaml"


@pytest.fixture
def stack_text() -> str:
    return SHIPPED_STACK.read_text(encoding="utf-8")


@pytest.fixture
def write_stack(tmp_path: Path):
    """Write stack text to tmp_path/stack.yaml and return the path."""

    def write(text: str | bytes, name: str = "stack.yaml") -> Path:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return write
