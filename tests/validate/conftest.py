"""A deployed stack as `freetier validate` sees it: stack.yaml and its images file in a
folder, and a fake OCI holding what tofu/oci made of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SHIPPED_STACK
from tests.fakes.oci_server import FakeTenancy, fake_tenancy

COMPARTMENT = "ocid1.compartment.oc1..aaaavalidate"


@dataclass
class Deployed:
    tenancy: FakeTenancy
    stack: Path
    images: dict[str, str]  # arch -> OCID


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    """The shipped stack, all healthy: two A1 nodes and the bastion RUNNING in their shapes,
    their boot volumes, one AVAILABLE image per architecture, the budget with nothing spent."""
    oci_dir = tmp_path / "oci"
    oci_dir.mkdir()
    with fake_tenancy(oci_dir, monkeypatch.setenv) as tenancy:
        fake = tenancy.fake
        fake.add_compartment(COMPARTMENT)
        for name in ("node-1", "node-2"):
            node = fake.add_instance(COMPARTMENT, f"freetier-{name}", ocpus=1, memory_in_gbs=6)
            fake.add_boot_volume(COMPARTMENT, f"freetier-{name}", size_in_gbs=50, attached_to=node)
        bastion = fake.add_instance(
            COMPARTMENT,
            "freetier-bastion",
            shape="VM.Standard.E2.1.Micro",
            ocpus=1,
            memory_in_gbs=1,
        )
        fake.add_boot_volume(COMPARTMENT, "freetier-bastion", size_in_gbs=50, attached_to=bastion)
        images = {
            "arm64": fake.add_image(COMPARTMENT, "talos-arm64"),
            "amd64": fake.add_image(COMPARTMENT, "talos-amd64"),
        }
        # The budget tofu/oci/budget.tf makes: alerts on the first cent spent or forecast.
        budget = fake.add_budget("freetier-monthly", 1.0, COMPARTMENT)
        fake.add_alert_rule(budget, "freetier-actual-spend", "ACTUAL", 0.01)
        fake.add_alert_rule(budget, "freetier-forecast-spend", "FORECAST", 0.01)
        root = tmp_path / "repo"
        (root / "tofu" / "oci").mkdir(parents=True)
        text = SHIPPED_STACK.read_text(encoding="utf-8").replace(
            "ocid1.tenancy.oc1..aaaaaaaareplacewithyourtenancyocid", COMPARTMENT
        )
        (root / "stack.yaml").write_text(text, encoding="utf-8")
        (root / "tofu" / "oci" / "images.auto.tfvars.json").write_text(
            json.dumps({"image_ocids": images}), encoding="utf-8"
        )
        yield Deployed(tenancy, root / "stack.yaml", images)
