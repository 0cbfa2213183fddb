"""Volume performance above the free level, on plans in the provider's `show -json` shape.

Expected figures are worked out by hand from prices.yaml: a VPU per GB costs $0.0017 a month,
Always Free volumes get 10 VPUs/GB (Balanced), a GB of storage costs $0.0255 a month.
"""

from __future__ import annotations

import pytest

from freetier.guard.evaluate import GuardResult, evaluate
from freetier.guard.plan import plan_resources
from freetier.guard.render import verdict_line
from tests.guard.planjson import change, instance, performance_based, plan, volume
from tests.guard.test_evaluate import ctx, used


def guard(*changes: dict) -> GuardResult:
    return evaluate(plan_resources(plan(*changes), "oci"), ctx())


def test_balanced_boot_volume_is_free() -> None:
    result = guard(change("oci_core_instance", "a", ["create"], instance(vpus="10")))
    assert result.free and result.monthly_cost == 0 and result.warnings == ()


def test_boot_volume_vpus_above_balanced_are_billed() -> None:
    result = guard(change("oci_core_instance", "fast", ["create"], instance(vpus="20")))
    (a,) = result.assessments
    assert a.category == "paid"
    assert result.blocking == (
        "oci_core_instance.fast: source_details[0].boot_volume_vpus_per_gb 20 > 10 VPUs/GB "
        "is billed",
    )
    # 10 VPUs above the free level, on 50 GB, at 0.0017.
    assert result.monthly_cost == pytest.approx(0.85)
    # The instance still counts against the A1 allowance.
    assert used(result) == {
        "a1_ocpus": 1,
        "a1_memory_gb": 6,
        "a1_instances": 1,
        "block_storage_gb": 50,
    }


def test_paid_shape_and_fast_boot_volume_add_up() -> None:
    rc = change(
        "oci_core_instance",
        "e4",
        ["create"],
        instance("VM.Standard.E4.Flex", ocpus=1, memory=16, boot="100", vpus="30"),
    )
    result = guard(rc)
    # E4: (0.025 + 16 x 0.0015) x 730 = 35.77; boot: 20 VPUs x 100 GB x 0.0017 = 3.40.
    assert result.monthly_cost == pytest.approx(35.77 + 3.40)
    assert len(result.blocking) == 2


def test_block_volume_vpus_above_balanced_are_billed() -> None:
    result = guard(change("oci_core_volume", "data", ["create"], volume("100", "30")))
    assert result.assessments[0].category == "paid"
    assert result.blocking == ("oci_core_volume.data: vpus_per_gb 30 > 10 VPUs/GB is billed",)
    assert result.monthly_cost == pytest.approx(3.40)  # 20 x 100 x 0.0017


def test_boot_volume_resource_vpus_above_balanced_are_billed() -> None:
    result = guard(change("oci_core_boot_volume", "bv", ["create"], volume("60", "20")))
    assert result.assessments[0].category == "paid"
    assert result.monthly_cost == pytest.approx(1.02)  # 10 x 60 x 0.0017
    assert used(result) == {"block_storage_gb": 60}


@pytest.mark.parametrize("rtype", ["oci_core_volume", "oci_core_boot_volume"])
def test_performance_based_auto_tune_above_balanced_may_be_billed(rtype: str) -> None:
    tuned = volume("50", "10", autotune=[performance_based("40")])
    result = guard(change(rtype, "tuned", ["create"], tuned))
    assert result.assessments[0].category == "may-be-billed"
    assert result.blocking == ()
    assert result.may_be_billed == (
        f"{rtype}.tuned: 50 GB {'volume' if rtype == 'oci_core_volume' else 'boot volume'}; "
        "performance-based auto-tune up to 40 VPUs/GB may be billed",
    )
    assert not result.free and result.exit_code == 1
    assert result.monthly_cost == pytest.approx(2.55)  # at most 30 x 50 x 0.0017
    assert verdict_line(result) == "MAY BE BILLED: 1 item(s), up to an estimated $2.55 a month"


def test_fixed_level_above_balanced_priced_at_the_auto_tune_maximum() -> None:
    tuned = volume("50", "20", autotune=[performance_based("50")])
    result = guard(change("oci_core_volume", "v", ["create"], tuned))
    assert result.assessments[0].category == "paid"
    assert result.monthly_cost == pytest.approx(3.40)  # 40 x 50 x 0.0017


def test_auto_tune_to_an_unknown_maximum_may_be_billed_at_an_unknown_price() -> None:
    rc = change(
        "oci_core_volume",
        "v",
        ["create"],
        volume("50", "10", autotune=[performance_based(None)]),
        after_unknown={"autotune_policies": [{"max_vpus_per_gb": True}]},
    )
    result = guard(rc)
    assert result.assessments[0].category == "may-be-billed"
    assert not result.cost_known and not result.free


def test_detached_volume_auto_tune_only_lowers_performance_and_is_free() -> None:
    detached = volume(
        "50", "10", autotune=[{"autotune_type": "DETACHED_VOLUME"}], is_auto_tune_enabled=True
    )
    result = guard(change("oci_core_volume", "v", ["create"], detached))
    assert result.free and result.assessments[0].category == "free"


def test_performance_based_auto_tune_at_balanced_is_free() -> None:
    tuned = volume("50", "10", autotune=[performance_based("10")])
    assert guard(change("oci_core_volume", "v", ["create"], tuned)).free


def test_settings_known_only_after_apply_count_as_the_api_defaults_with_warnings() -> None:
    rc = change(
        "oci_core_volume",
        "v",
        ["create"],
        {"display_name": "v", "size_in_gbs": "50"},
        after_unknown={"vpus_per_gb": True, "autotune_policies": True},
    )
    result = guard(rc)
    assert result.free
    assert result.warnings == (
        "oci_core_volume.v: vpus_per_gb is unknown until apply; counted as 10",
        "oci_core_volume.v: autotune_policies is unknown until apply; counted as none",
    )


def test_unsized_block_volume_counts_as_the_1_tb_oci_creates() -> None:
    rc = change(
        "oci_core_volume",
        "v",
        ["create"],
        volume(None, "10"),
        after_unknown={"size_in_gbs": True},
    )
    result = guard(rc)
    assert used(result) == {"block_storage_gb": 1024}
    assert result.warnings == (
        "oci_core_volume.v: size_in_gbs is unknown until apply; counted as 1024",
    )
    # 824 GB over the allowance, each with its Balanced VPUs: 824 x (0.0255 + 10 x 0.0017).
    assert result.monthly_cost == pytest.approx(824 * 0.0425)
