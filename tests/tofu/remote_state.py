"""Remote state for the tests: the stand-in layer with tofu/oci's own `backend "s3" {}`, its
state in a bucket of the fake OCI, reached by the real terraform through the fake's
S3-compatible API and by freetier's lock through the native API (the real oci SDK), with the
backend settings of tofu/oci/README.md pointed at the fake."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SHIPPED_STACK
from tests.fakes.oci_s3compat import S3Compat
from tests.fakes.oci_server import FakeOci, FakeTenancy, fake_tenancy

STAND_IN = ROOT / "tests" / "tofu" / "fixtures" / "stand-in-oci"
BUCKET = "freetier-tfstate"
STATE_KEY = "oci/terraform.tfstate"
LOCK = f"{STATE_KEY}.freetier.lock"
ACCESS_KEY = "fake-customer-secret-key-id"
SECRET_KEY = "fake-customer-s3cr3t-9f8e7d"  # must never be printed


def stand_in_repo(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fork in `root` with the stand-in layer; its instances launch in AD 2, where the stack
    puts them. The current directory becomes `root`."""
    for name in [k for k in os.environ if k.startswith(("TF_", "GITHUB_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/dev/null")
    monkeypatch.chdir(root)
    shutil.copytree(STAND_IN, root / "tofu" / "oci")
    text = SHIPPED_STACK.read_text().replace(
        "availability_domains: [1]", "availability_domains: [2]"
    )
    text = text.replace(
        "    boot_volume_gb: 50\n  - name: node-2",
        "    boot_volume_gb: 50\n    availability_domain: 2\n  - name: node-2",
    )
    text = text.replace(
        "    boot_volume_gb: 50\n\nbastion:",
        "    boot_volume_gb: 50\n    availability_domain: 2\n\nbastion:",
    )
    text = text.replace(
        "  boot_volume_gb: 50\n\nnetwork:",
        "  boot_volume_gb: 50\n  availability_domain: 2\n\nnetwork:",
    )
    (root / "stack.yaml").write_text(text)
    return root


def add_backend_block(repo: Path) -> None:
    """Give the repository's stand-in layer tofu/oci's own `backend "s3" {}`."""
    shutil.copy(ROOT / "tofu" / "oci" / "backend.tf", repo / "tofu" / "oci" / "backend.tf")


def documented_backend_settings(region: str, endpoint: str) -> str:
    """tofu/oci/README.md's backend.hcl, with the fake's region and S3-compatible endpoint."""
    readme = (ROOT / "tofu" / "oci" / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```hcl\n(bucket .*?)```", readme, re.DOTALL)
    assert found is not None, "tofu/oci/README.md shows no backend.hcl"
    text = re.sub(r"(?m)^region\s*=.*$", f'region = "{region}"', found.group(1))
    return re.sub(r"(?m)^endpoints\s*=.*$", f'endpoints = {{ s3 = "{endpoint}" }}', text)


@dataclass
class RemoteState:
    tenancy: FakeTenancy
    s3: S3Compat
    backend_config: Path

    @property
    def fake(self) -> FakeOci:
        return self.tenancy.fake

    def lock(self) -> dict[str, Any] | None:
        """The freetier lock object's content, or None when there is none."""
        data = self.fake.object_data(BUCKET, LOCK)
        return None if data is None else dict(json.loads(data))

    def state(self) -> dict[str, Any] | None:
        data = self.fake.object_data(BUCKET, STATE_KEY)
        return None if data is None else dict(json.loads(data))

    def hold_lock(self, who: str, since: str = "2026-01-02T03:04:05+00:00") -> None:
        """Another run's lock, as freetier writes it."""
        holder = {
            "who": who,
            "commit": "c0ffee" * 6 + "beef",
            "command": "deploy",
            "layer": "oci",
            "since": since,
            "id": "another-run",
        }
        self.fake.add_object(BUCKET, LOCK, json.dumps(holder).encode())


@contextmanager
def remote_state(root: Path, setenv: Callable[[str, str], None]) -> Iterator[RemoteState]:
    """Start the fake (both APIs), create the state bucket, write `root/backend.hcl` and set the
    OCI and customer-secret-key environment with `setenv` (a `monkeypatch.setenv`)."""
    (root / "oci").mkdir(parents=True, exist_ok=True)
    with fake_tenancy(root / "oci", setenv) as tenancy:
        tenancy.fake.add_bucket(tenancy.fake.tenancy, BUCKET)
        s3 = S3Compat(tenancy.fake)
        s3.authorize(ACCESS_KEY, SECRET_KEY)
        with s3.serve():
            setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            config = root / "backend.hcl"
            config.write_text(documented_backend_settings(tenancy.fake.region, s3.url))
            yield RemoteState(tenancy, s3, config)
