"""Reading plans: a real terraform plan, unknown values, and bad files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.guard.plan import is_unknown, lookup, path_parts, plan_resources, read_plan
from tests.guard.planjson import change, instance, plan


def _tofu() -> str:
    exe = shutil.which("tofu") or shutil.which("terraform")
    assert exe, "tofu or terraform must be installed"
    return exe


def test_reads_a_real_plan_from_terraform(tmp_path: Path) -> None:
    """terraform_data is built in, so this is a real `show -json` made offline."""
    (tmp_path / "main.tf").write_text(
        'resource "terraform_data" "known" { input = "x" }\n'
        'resource "terraform_data" "later" { input = terraform_data.known.id }\n'
    )
    env = {
        **os.environ,
        "TF_IN_AUTOMATION": "1",
        "TF_DATA_DIR": str(tmp_path / ".tf"),
        "CHECKPOINT_DISABLE": "1",
    }

    def tf(*args: str) -> str:
        return subprocess.run(
            [_tofu(), *args], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
        ).stdout

    tf("init", "-input=false", "-no-color")
    tf("plan", "-input=false", "-no-color", "-out=plan.bin")
    (tmp_path / "plan.json").write_text(tf("show", "-json", "plan.bin"))
    resources = read_plan(tmp_path / "plan.json", "demo")
    assert [(r.address, r.origin) for r in resources] == [
        ("terraform_data.known", "plan:demo"),
        ("terraform_data.later", "plan:demo"),
    ]
    later = resources[1]
    assert is_unknown(later, "id") and is_unknown(later, "input")
    assert not is_unknown(resources[0], "input")


def test_paths_walk_lists_and_maps() -> None:
    tree = {"source_details": [{"boot_volume_size_in_gbs": "50"}], "id": None}
    assert path_parts("source_details[0].boot_volume_size_in_gbs") == (
        "source_details",
        0,
        "boot_volume_size_in_gbs",
    )
    assert lookup(tree, "source_details[0].boot_volume_size_in_gbs") == "50"
    assert lookup(tree, "source_details[1].boot_volume_size_in_gbs") is None
    assert lookup(tree, "id") is None and lookup(tree, "nope.deeper") is None


def test_a_wholly_unknown_block_makes_its_attributes_unknown() -> None:
    (r,) = plan_resources(
        plan(
            change(
                "oci_core_instance",
                "a",
                ["create"],
                instance(),
                after_unknown={"shape_config": True},
            )
        ),
        "oci",
    )
    assert is_unknown(r, "shape_config[0].ocpus")
    assert not is_unknown(r, "shape")


def test_ids_of_existing_resources_are_kept() -> None:
    rc = change(
        "oci_core_vcn", "v", ["update"], {"id": "ocid1.vcn.x"}, before={"id": "ocid1.vcn.x"}
    )
    assert plan_resources(plan(rc), "oci")[0].id == "ocid1.vcn.x"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format_version": "1.2", "resource_changes": [', "not valid JSON"),
        (
            '{"format_version": "2.0", "resource_changes": []}',
            "format_version: '2.0' is not supported (expected 1.x)",
        ),
        ('{"resource_changes": []}', "format_version: None is not supported"),
        ("[]", "not a `tofu show -json` plan"),
        (
            '{"format_version": "1.2", "resource_changes": [{"address": "x"}]}',
            "resource_changes[0]: missing address, type or change.actions",
        ),
        ('{"format_version": "1.2", "resource_changes": {}}', "resource_changes: expected a list"),
    ],
    ids=["malformed", "future-format", "no-format", "not-object", "bad-change", "not-list"],
)
def test_bad_plan_files_give_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        read_plan(path, "oci")
    (line,) = info.value.problems
    assert line.startswith(str(path)) and message in line


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        read_plan(tmp_path / "nope.json", "oci")


def test_plan_json_helper_matches_a_real_plan_keys(tmp_path: Path) -> None:
    assert set(plan()) >= {"format_version", "resource_changes", "prior_state"}
    assert json.loads(json.dumps(plan(change("x", "y", ["create"], {}))))
