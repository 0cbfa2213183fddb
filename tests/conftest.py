from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_STACK = ROOT / "stack.yaml"
PROXMOX_EXAMPLE = ROOT / "examples" / "proxmox.stack.yaml"
INSTALL_TOOLS = ROOT / "ci" / "install_tools.py"


def install_tools_module() -> ModuleType:
    """ci/install_tools.py, a script outside the package (it runs before the venv exists)."""
    spec = importlib.util.spec_from_file_location("install_tools", INSTALL_TOOLS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
