"""Helpers for the upload half's tests: a fake tenancy the real oci SDK talks to, the shipped
stack pointed at it, and image files (the CLI in-process is `tests.images.run_images`).

Not a conftest.py (the image tests share their folder with the build half's): the test
modules import what they use from here."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from freetier.images.importer import Waiting
from freetier.images.publish import PublishOptions
from freetier.oci_clients import RetryPolicy, load_oci_config
from freetier.stack import load_stack
from freetier.stack.model import Stack
from tests.conftest import SHIPPED_STACK
from tests.fakes.oci_server import QCOW2_MAGIC, FakeTenancy, fake_tenancy

MIB = 1024**2
BUCKET = "freetier-images"
FAST = RetryPolicy(max_attempts=2, base_sleep_seconds=0.01, max_sleep_seconds=0.02)
QUICK = Waiting(timeout_seconds=10.0, interval_seconds=0.01)
OPTIONS = PublishOptions(waiting=QUICK, retry=FAST)


@dataclass
class World:
    """A running fake OCI, the stack and OCI config that reach it, and a scratch folder."""

    tenancy: FakeTenancy
    stack: Stack
    config: dict[str, Any]
    root: Path

    @property
    def fake(self) -> Any:
        return self.tenancy.fake

    @property
    def compartment(self) -> str:
        return self.stack.oci.compartment_ocid

    @property
    def tofu_dir(self) -> Path:
        return self.root / "tofu" / "oci"

    def add_bucket(self) -> None:
        self.fake.add_bucket(self.compartment, BUCKET)


@contextlib.contextmanager
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, page_size: int = 2
) -> Iterator[World]:
    """The shipped stack.yaml, copied into tmp_path, against a fake with small pages."""
    home = tmp_path / "home"
    home.mkdir()
    with fake_tenancy(home, monkeypatch.setenv, page_size=page_size) as tenancy:
        stack_file = tmp_path / "stack.yaml"
        stack_file.write_text(SHIPPED_STACK.read_text(encoding="utf-8"), encoding="utf-8")
        stack = load_stack(stack_file)
        tenancy.fake.add_compartment(stack.oci.compartment_ocid)
        config = load_oci_config(os.environ, home)
        yield World(tenancy, stack, config, tmp_path)


def random_file(path: Path, size: int, *, qcow2: bool = True) -> Path:
    """`size` random bytes, starting with the QCOW2 magic (the fake's import checks it)."""
    data = os.urandom(size)
    if qcow2:
        data = QCOW2_MAGIC + data[len(QCOW2_MAGIC) :]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
