"""`freetier plan` and `freetier apply` on a layer, end to end with the real terraform.

The stand-in layer takes exactly tofu/oci's variables from `freetier tofu vars` but holds
only built-in resources, since the oci provider cannot be downloaded here.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from freetier.cli import main
from tests.conftest import SHIPPED_STACK

STAND_IN = Path(__file__).parent / "fixtures" / "stand-in-oci"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [k for k in os.environ if k.startswith("TF_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/dev/null")
    shutil.copytree(STAND_IN, tmp_path / "tofu" / "oci")
    text = SHIPPED_STACK.read_text().replace(
        "availability_domains: [1]", "availability_domains: [1, 2]"
    )
    (tmp_path / "stack.yaml").write_text(text)
    return tmp_path


def test_plan_writes_the_plan_and_guards_it(repo: Path, capsys) -> None:
    code = main(
        [
            "plan",
            "--layer",
            "oci",
            "--stack",
            str(repo / "stack.yaml"),
            "--no-backend",
            "--out",
            str(repo / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith(f"oci: changes; plan in {repo / 'out' / 'oci'}")
    assert sorted(p.name for p in (repo / "out" / "oci").iterdir()) == [
        "changes.json",
        "fingerprint.json",
        "plan.bin",
        "plan.json",
        "plan.txt",
    ]
    shown = json.loads((repo / "out" / "oci" / "plan.json").read_text())
    assert [rc["address"] for rc in shown["resource_changes"]] == [
        'terraform_data.instance["node-1"]',
        'terraform_data.instance["node-2"]',
    ]
    tfvars = json.loads((repo / "tofu" / "oci" / "stack.auto.tfvars.json").read_text())
    assert tfvars["availability_domains"] == [1, 2]
    assert "free: $0.00 a month" in out  # terraform_data is no OCI resource


def test_apply_rotates_to_the_ad_with_capacity(repo: Path, capsys) -> None:
    code = main(
        [
            "apply",
            "--layer",
            "oci",
            "--stack",
            str(repo / "stack.yaml"),
            "--no-backend",
            "--deadline",
            "5",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "oci: applied after 2 attempt(s), AD rotation 1" in captured.out
    assert "oci: attempt 1: AD rotation 0 (ADs 1, 2): out of host capacity" in captured.err
    # A rerun finds everything in place: one attempt.
    assert (
        main(
            [
                "apply",
                "--layer",
                "oci",
                "--stack",
                str(repo / "stack.yaml"),
                "--no-backend",
                "--deadline",
                "5",
            ]
        )
        == 0
    )
    assert "applied after 1 attempt(s)" in capsys.readouterr().out


def test_missing_layer_is_bad_input(tmp_path: Path, capsys) -> None:
    (tmp_path / "stack.yaml").write_text(SHIPPED_STACK.read_text())
    assert main(["plan", "--layer", "oci", "--stack", str(tmp_path / "stack.yaml")]) == 2
    assert "no such tofu layer" in capsys.readouterr().err


def test_deadline_must_be_positive(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["apply", "--layer", "oci", "--deadline", "0"])
    assert info.value.code == 2
