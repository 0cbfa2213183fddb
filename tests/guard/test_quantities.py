"""A quantity in a plan that is NaN, infinite, negative or not a number is bad input: one
line naming the resource and the attribute, exit 2, whatever else the plan holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from freetier.cli import main
from freetier.errors import ConfigError
from freetier.guard.evaluate import evaluate
from freetier.guard.plan import plan_resources, read_plan
from tests.conftest import SHIPPED_STACK
from tests.guard.planjson import a1, change, instance, performance_based, plan, volume
from tests.guard.test_evaluate import ctx

LB = "oci_load_balancer_load_balancer"


def _lb(mbps: Any) -> dict[str, Any]:
    return {"shape": "flexible", "shape_details": [{"maximum_bandwidth_in_mbps": mbps}]}


# (resource type, after-state holding `bad` at the attribute, attribute path)
WHERE = {
    "boot size": (
        "oci_core_instance",
        lambda bad: instance(boot=bad),
        "source_details[0].boot_volume_size_in_gbs",
    ),
    "boot vpus": (
        "oci_core_instance",
        lambda bad: instance(vpus=bad),
        "source_details[0].boot_volume_vpus_per_gb",
    ),
    "ocpus": ("oci_core_instance", lambda bad: instance(ocpus=bad), "shape_config[0].ocpus"),
    "memory": (
        "oci_core_instance",
        lambda bad: instance(memory=bad),
        "shape_config[0].memory_in_gbs",
    ),
    "volume size": ("oci_core_volume", lambda bad: volume(size=bad), "size_in_gbs"),
    "volume vpus": ("oci_core_volume", lambda bad: volume(vpus=bad), "vpus_per_gb"),
    "boot volume size": ("oci_core_boot_volume", lambda bad: volume(size=bad), "size_in_gbs"),
    "auto-tune maximum": (
        "oci_core_volume",
        lambda bad: volume(autotune=[performance_based(bad)]),
        "autotune_policies[0].max_vpus_per_gb",
    ),
    "bandwidth": (LB, _lb, "shape_details[0].maximum_bandwidth_in_mbps"),
    "bucket size": (
        "oci_objectstorage_bucket",
        lambda bad: {"approximate_size": bad},
        "approximate_size",
    ),
}
# The value as the plan file holds it (JSON text), and as the error line quotes it.
BAD = {
    "NaN": ("NaN", "nan"),
    "string nan": ('"nan"', "'nan'"),
    "Infinity": ("Infinity", "inf"),
    "string -inf": ('"-inf"', "'-inf'"),
    "too big for a float": ("1e400", "inf"),
    "huge integer": ("1" + "0" * 400, None),
    "negative": ("-50", "-50"),
    "negative string": ('"-1"', "'-1'"),
    "not a number": ('"fifty"', "'fifty'"),
    "boolean": ("true", "True"),
}
PLACEHOLDER = 123456789.25  # stands in for the bad value until the JSON text is written


def write_plan(tmp_path: Path, *changes: dict[str, Any], bad: str) -> Path:
    text = json.dumps(plan(*changes)).replace(str(PLACEHOLDER), bad)
    path = tmp_path / "plan.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize("where", list(WHERE))
@pytest.mark.parametrize("bad", list(BAD))
def test_a_bad_quantity_is_one_line_naming_resource_and_attribute(
    tmp_path: Path, where: str, bad: str
) -> None:
    rtype, after, path = WHERE[where]
    text, quoted = BAD[bad]
    plan_file = write_plan(tmp_path, change(rtype, "x", ["create"], after(PLACEHOLDER)), bad=text)
    resources = read_plan(plan_file, "oci")
    with pytest.raises(ConfigError) as info:
        evaluate(resources, ctx())
    (line,) = info.value.problems
    prefix = f"plan:oci: {rtype}.x: {path} = "
    assert line.startswith(prefix), line
    assert line.endswith(" is not a quantity (a finite number >= 0)"), line
    if quoted is not None:
        assert line == f"{prefix}{quoted} is not a quantity (a finite number >= 0)"


def test_every_bad_quantity_is_reported_not_just_the_first(tmp_path: Path) -> None:
    plan_file = write_plan(
        tmp_path,
        change("oci_core_volume", "a", ["create"], volume(size=PLACEHOLDER)),
        a1("fine"),
        change("oci_core_volume", "b", ["create"], volume(vpus=PLACEHOLDER)),
        bad="-Infinity",
    )
    with pytest.raises(ConfigError) as info:
        evaluate(read_plan(plan_file, "oci"), ctx())
    assert info.value.problems == (
        "plan:oci: oci_core_volume.a: size_in_gbs = -inf is not a quantity (a finite number >= 0)",
        "plan:oci: oci_core_volume.b: vpus_per_gb = -inf is not a quantity (a finite number >= 0)",
    )


def test_the_cli_exits_2_with_the_one_line(tmp_path: Path, capsys) -> None:
    plan_file = write_plan(
        tmp_path, change("oci_core_volume", "data", ["create"], volume(size=PLACEHOLDER)), bad="NaN"
    )
    code = main(["guard", "--stack", str(SHIPPED_STACK), "--plan", f"oci={plan_file}"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == (
        "freetier: error: plan:oci: oci_core_volume.data: size_in_gbs = nan is not a quantity "
        "(a finite number >= 0)\n"
    )


def test_zero_and_plain_numbers_are_quantities() -> None:
    rcs = [
        change("oci_objectstorage_bucket", "b", ["create"], {"approximate_size": 0}),
        change("oci_core_volume", "v", ["create"], volume(size=50, vpus=10.0)),
    ]
    assert evaluate(plan_resources(plan(*rcs), "oci"), ctx()).free
