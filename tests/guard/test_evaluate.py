"""The guard's verdicts on plans in the real `show -json` shape: under, at and over each limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from freetier.guard.classify import Context
from freetier.guard.evaluate import GuardResult, evaluate
from freetier.guard.from_stack import stack_resources
from freetier.guard.plan import plan_resources
from freetier.guard.profile import load_prices, load_profile
from freetier.guard.render import verdict_line
from freetier.guard.resources import Resource
from freetier.stack import load_stack
from tests.conftest import SHIPPED_STACK
from tests.guard.planjson import a1, change, instance, plan

PRICES = load_prices()


def ctx(profile: str = "always-free-2026-06", allow: tuple[str, ...] = ()) -> Context:
    return Context(load_profile(profile), PRICES, frozenset(allow))


def guard(*changes, profile: str = "always-free-2026-06", allow=()) -> GuardResult:
    return evaluate(plan_resources(plan(*changes), "oci"), ctx(profile, allow))


def used(result: GuardResult) -> dict[str, float]:
    return {u.name: u.used for u in result.limits if u.used}


def test_shipped_stack_is_free_and_exactly_at_the_a1_limit() -> None:
    result = evaluate(stack_resources(load_stack(SHIPPED_STACK)), ctx())
    assert result.free and result.monthly_cost == 0
    assert used(result) == {
        "a1_ocpus": 2,
        "a1_memory_gb": 12,
        "a1_instances": 2,
        "micro_instances": 1,
        "block_storage_gb": 150,
        "vcns": 1,
        "load_balancers": 1,  # the ingress Gateway's, made by the OCI CCM
    }


def test_design_documents_three_a1_at_1_33_ocpu_blocks_on_every_rule() -> None:
    result = guard(*(a1(f"pve-{n}", ocpus=1.33, memory=8) for n in (1, 2, 3)))
    text = "\n".join(result.blocking)
    assert not result.free and result.exit_code == 1
    assert "a1_ocpus: 3.99 of 2 OCPU" in text
    assert "a1_memory_gb: 24 of 12 GB" in text
    assert "a1_instances: 3 of 2 instances" in text
    assert text.count("A1 OCPUs must be whole numbers of at least 1 (got 1.33)") == 3


def test_design_document_fits_the_legacy_profile_with_whole_ocpus() -> None:
    result = guard(
        *(a1(f"pve-{n}", ocpus=1, memory=8) for n in (1, 2, 3)), profile="always-free-legacy"
    )
    assert result.free, result.blocking


def test_one_small_a1_is_under_every_limit() -> None:
    result = guard(a1("solo", ocpus=1, memory=6))
    assert result.free and used(result)["a1_ocpus"] == 1


def test_ocpu_over_limit_is_priced() -> None:
    result = guard(a1("big", ocpus=3, memory=12))
    assert result.blocking == (
        "a1_ocpus: 3 of 2 OCPU (1,500 OCPU-hours a month, home region "
        "only; each A1 instance needs at least 1 whole OCPU.)",
    )
    assert result.monthly_cost == pytest.approx(1 * 0.01 * 730)
    assert result.cost_known


def test_memory_over_limit_is_priced() -> None:
    result = guard(a1("big", ocpus=2, memory=13))
    assert [b.split(":")[0] for b in result.blocking] == ["a1_memory_gb"]
    assert result.monthly_cost == pytest.approx(1 * 0.0015 * 730)


def test_block_storage_at_200_is_free_and_201_is_not() -> None:
    at = guard(a1("a", boot="100"), a1("b", boot="100"))
    over = guard(a1("a", boot="100"), a1("b", boot="101"))
    assert at.free and used(at)["block_storage_gb"] == 200
    assert [b.split(":")[0] for b in over.blocking] == ["block_storage_gb"]
    # The GB over is billed with its Balanced performance: 0.0255 + 10 VPUs x 0.0017.
    assert over.monthly_cost == pytest.approx(0.0425)


def test_unknown_boot_volume_size_warns_naming_the_attribute() -> None:
    unknown = change(
        "oci_core_instance",
        "a",
        ["create"],
        instance(boot=None),
        after_unknown={"source_details": [{"boot_volume_size_in_gbs": True}]},
    )
    result = guard(unknown)
    assert result.free
    assert result.warnings == (
        "oci_core_instance.a: source_details[0].boot_volume_size_in_gbs is unknown until "
        "apply; counted as 50",
    )


def test_unknown_ocpus_warn_and_count_the_minimum() -> None:
    rc = change(
        "oci_core_instance",
        "a",
        ["create"],
        instance(ocpus=None),
        after_unknown={"shape_config": True},
    )
    result = guard(rc)
    assert "shape_config[0].ocpus is unknown until apply" in result.warnings[0]
    assert used(result)["a1_ocpus"] == 1


def test_deletes_free_their_share() -> None:
    old = change(
        "oci_core_instance",
        "old",
        ["delete"],
        None,
        before=instance(ocpus=2, memory=12, display_name="old"),
    )
    result = guard(old, a1("new", ocpus=2, memory=12))
    assert result.free and used(result)["a1_instances"] == 1


def test_replacement_counts_once() -> None:
    rc = change(
        "oci_core_instance",
        "a",
        ["delete", "create"],
        instance(ocpus=2, memory=12),
        before=instance(ocpus=1, memory=6),
    )
    result = guard(rc)
    assert used(result)["a1_ocpus"] == 2 and result.free


def test_create_before_destroy_replacement_counts_once() -> None:
    rc = change(
        "oci_core_instance",
        "a",
        ["create", "delete"],
        instance(ocpus=2, memory=12),
        before=instance(ocpus=2, memory=12),
    )
    assert used(guard(rc))["a1_instances"] == 1


def test_no_op_and_update_still_count() -> None:
    keep = change("oci_core_instance", "a", ["no-op"], instance(), before=instance())
    grow = change(
        "oci_core_instance", "b", ["update"], instance(ocpus=2, memory=6), before=instance()
    )
    result = guard(keep, grow)
    assert used(result)["a1_ocpus"] == 3 and not result.free


def test_forgotten_resource_keeps_costing() -> None:
    rc = change("oci_core_instance", "a", ["forget"], None, before=instance(ocpus=3, memory=6))
    assert "a1_ocpus: 3 of 2" in guard(rc).blocking[0]


def test_paid_shape_blocks_with_an_estimate() -> None:
    rc = change(
        "oci_core_instance", "e4", ["create"], instance("VM.Standard.E4.Flex", ocpus=1, memory=16)
    )
    result = guard(rc)
    assert result.blocking == ("oci_core_instance.e4: paid shape VM.Standard.E4.Flex",)
    assert result.assessments[0].category == "paid"
    assert result.monthly_cost == pytest.approx((0.025 + 16 * 0.0015) * 730)


def test_unknown_shape_blocks_unless_allowed() -> None:
    rc = change("oci_core_instance", "x", ["create"], instance("VM.Standard.X9.Flex"))
    assert not guard(rc).free
    allowed = guard(rc, allow=("VM.Standard.X9.Flex",))
    assert allowed.free and allowed.assessments[0].category == "allowed"
    assert "allowed without a cost check" in allowed.warnings[0]


def test_unknown_resource_type_blocks_unless_allowed() -> None:
    rc = change("oci_database_autonomous_database", "db", ["create"], {"cpu_core_count": 1})
    result = guard(rc)
    assert "unknown resource type oci_database_autonomous_database" in result.blocking[0]
    assert not result.cost_known
    assert guard(rc, allow=("oci_database_autonomous_database",)).free


def test_ten_mbps_flexible_load_balancer_is_free_and_100_is_paid() -> None:
    def lb(name: str, mbps: int) -> dict:
        return change(
            "oci_load_balancer_load_balancer",
            name,
            ["create"],
            {
                "shape": "flexible",
                "shape_details": [
                    {"minimum_bandwidth_in_mbps": 10, "maximum_bandwidth_in_mbps": mbps}
                ],
            },
        )

    assert guard(lb("small", 10)).free
    paid = guard(lb("big", 100))
    assert paid.blocking == (
        "oci_load_balancer_load_balancer.big: load balancer above 10 Mbps is billed",
    )
    assert paid.monthly_cost == pytest.approx((0.0113 + 100 * 0.0001) * 730)
    two = guard(lb("a", 10), lb("b", 10))
    assert [b.split(":")[0] for b in two.blocking] == ["load_balancers"]


def test_fixed_100mbps_load_balancer_shape_is_paid() -> None:
    rc = change("oci_load_balancer", "old", ["create"], {"shape": "100Mbps"})
    assert guard(rc).assessments[0].category == "paid"


def test_reserved_ip_may_be_billed_so_the_plan_is_not_free() -> None:
    reserved = change("oci_core_public_ip", "ingress", ["create"], {"lifetime": "RESERVED"})
    ephemeral = change("oci_core_public_ip", "eph", ["create"], {"lifetime": "EPHEMERAL"})
    result = guard(reserved, ephemeral)
    assert not result.free and result.exit_code == 1
    assert result.blocking == ()
    assert [a.category for a in result.assessments] == ["may-be-billed", "always-free"]
    assert result.may_be_billed == (
        "oci_core_public_ip.ingress: reserved public IPs are not in the Always Free list; "
        "price unconfirmed",
    )
    assert verdict_line(result) == (
        "MAY BE BILLED: 1 item(s), up to an estimated $0.00 a month plus items at unknown prices"
    )


def test_a_shape_known_only_after_apply_may_be_billed() -> None:
    rc = change(
        "oci_core_instance", "x", ["create"], instance(shape=""), after_unknown={"shape": True}
    )
    result = guard(rc)
    assert result.may_be_billed == ("oci_core_instance.x: shape unknown until apply: not counted",)
    assert not result.free


def test_blocking_and_may_be_billed_together_say_both() -> None:
    reserved = change("oci_core_public_ip", "ingress", ["create"], {"lifetime": "RESERVED"})
    e4 = change(
        "oci_core_instance", "e4", ["create"], instance("VM.Standard.E4.Flex", ocpus=1, memory=16)
    )
    assert verdict_line(guard(reserved, e4)) == (
        "BLOCKING: 1 finding(s), an estimated $35.77 a month plus items at unknown prices; "
        "1 more item(s) may be billed"
    )


def test_third_micro_instance_blocks_at_unknown_price() -> None:
    micros = [
        change(
            "oci_core_instance", f"m{n}", ["create"], instance("VM.Standard.E2.1.Micro", None, None)
        )
        for n in range(3)
    ]
    result = guard(*micros)
    assert result.blocking[0].startswith("micro_instances: 3 of 2")
    assert not result.cost_known


def test_higher_performance_volume_is_paid() -> None:
    rc = change("oci_core_volume", "fast", ["create"], {"size_in_gbs": "50", "vpus_per_gb": "20"})
    result = guard(rc)
    assert result.assessments[0].category == "paid"
    assert used(result)["block_storage_gb"] == 50
    assert result.monthly_cost == pytest.approx(0.85)  # 10 VPUs above Balanced x 50 GB x 0.0017


def test_block_volumes_count_with_boot_volumes() -> None:
    vol = change("oci_core_volume", "data", ["create"], {"size_in_gbs": "100"})
    result = guard(a1("a", boot="50"), a1("b", boot="51"), vol)
    assert used(result)["block_storage_gb"] == 201 and not result.free


def test_six_backups_are_one_too_many() -> None:
    backups = [change("oci_core_volume_backup", f"b{n}", ["create"], {}) for n in range(6)]
    assert guard(*backups).blocking[0].startswith("volume_backups: 6 of 5")


def test_third_vcn_and_second_nlb_block() -> None:
    vcns = [
        change("oci_core_vcn", f"v{n}", ["create"], {"cidr_blocks": ["10.0.0.0/16"]})
        for n in range(3)
    ]
    nlbs = [
        change("oci_network_load_balancer_network_load_balancer", f"n{n}", ["create"], {})
        for n in range(2)
    ]
    assert [b.split(":")[0] for b in guard(*vcns, *nlbs).blocking] == [
        "vcns",
        "network_load_balancers",
    ]


def test_vcn_pieces_budgets_and_quotas_are_always_free() -> None:
    kinds = [
        "oci_core_internet_gateway",
        "oci_core_subnet",
        "oci_budget_budget",
        "oci_limits_quota",
        "oci_bastion_bastion",
    ]
    result = guard(*(change(k, "x", ["create"], {}) for k in kinds))
    assert {a.category for a in result.assessments} == {"always-free"}


def test_non_oci_resources_cost_nothing() -> None:
    result = guard(
        change("terraform_data", "x", ["create"], {"input": None}),
        change("talos_machine_secrets", "s", ["create"], {}),
    )
    assert result.free and {a.category for a in result.assessments} == {"always-free"}


def test_data_sources_are_ignored() -> None:
    result = guard(change("oci_core_images", "x", ["read"], {}, mode="data"))
    assert result.assessments == ()


def test_layers_are_counted_together() -> None:
    oci = plan_resources(plan(a1("a", ocpus=1, memory=6)), "oci")
    other = plan_resources(plan(a1("b", ocpus=2, memory=6)), "extra")
    result = evaluate(oci + other, ctx())
    assert used(result)["a1_ocpus"] == 3 and not result.free
    assert result.sources == ("plan:extra", "plan:oci")


def _live(rtype: str, rid: str, **values) -> Resource:
    return Resource(f"live:{rtype}.{rid}", rtype, values, "live", rid)


def test_live_resources_outside_the_repo_count_too() -> None:
    stray = _live(
        "oci_core_instance",
        "ocid1.instance.stray",
        shape="VM.Standard.A1.Flex",
        display_name="stray",
        shape_config=[{"ocpus": 1.0, "memory_in_gbs": 6.0}],
    )
    resources = [*stack_resources(load_stack(SHIPPED_STACK)), stray]
    result = evaluate(resources, ctx())
    assert used(result)["a1_instances"] == 3 and not result.free


def test_live_resources_the_plan_manages_count_once() -> None:
    planned = plan_resources(
        plan(
            change(
                "oci_core_instance",
                "a",
                ["no-op"],
                instance(id="ocid1.instance.a", display_name="a"),
                before=instance(id="ocid1.instance.a"),
            )
        ),
        "oci",
    )
    live = [
        _live(
            "oci_core_instance",
            "ocid1.instance.a",
            shape="VM.Standard.A1.Flex",
            display_name="a",
            shape_config=[{"ocpus": 1.0, "memory_in_gbs": 6.0}],
        ),
        _live(
            "oci_core_boot_volume",
            "ocid1.bootvolume.a",
            size_in_gbs="50",
            attached_instance_id="ocid1.instance.a",
        ),
        _live(
            "oci_core_boot_volume",
            "ocid1.bootvolume.spare",
            size_in_gbs="60",
            attached_instance_id=None,
        ),
    ]
    result = evaluate(planned + live, ctx())
    assert used(result) == {
        "a1_ocpus": 1,
        "a1_memory_gb": 6,
        "a1_instances": 1,
        "block_storage_gb": 50 + 60,
    }


def test_live_instance_matching_a_stack_name_counts_once() -> None:
    live = [
        _live(
            "oci_core_instance",
            "ocid1.instance.n1",
            shape="VM.Standard.A1.Flex",
            display_name="freetier-node-1",
            shape_config=[{"ocpus": 1.0, "memory_in_gbs": 6.0}],
        ),
        _live(
            "oci_core_boot_volume",
            "ocid1.bootvolume.n1",
            size_in_gbs="50",
            attached_instance_id="ocid1.instance.n1",
        ),
    ]
    result = evaluate(stack_resources(load_stack(SHIPPED_STACK)) + live, ctx())
    assert result.free and used(result)["block_storage_gb"] == 150


def test_every_limit_of_every_profile_is_reported(tmp_path: Path) -> None:
    result = guard()
    assert [u.name for u in result.limits] == list(load_profile("always-free-2026-06").limits)
