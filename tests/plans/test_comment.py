"""The PR comment: structure, the destroy banner, fingerprints, and the budget tiers."""

from __future__ import annotations

import re

import pytest

from freetier.comment import (
    DEFAULT_BUDGET,
    MARKER,
    cut_middle,
    read_fingerprints,
    render_comment,
    render_full,
)
from freetier.plans.model import Fingerprint, LayerPlan, OutputChange, ResourceChange

PRINT = Fingerprint("c" * 64, "1.11.4", "", "lineage-1", 3, "base", "head")


def _change(address: str, action: str, **kw) -> ResourceChange:
    return ResourceChange(address, address.split(".")[0], action, **kw)  # type: ignore[arg-type]


OCI = LayerPlan(
    "oci",
    changes=(
        _change("oci_core_vcn.main", "create", after={"cidr_blocks": ["10.0.0.0/16"]}),
        _change(
            "oci_core_instance.node",
            "replace",
            before={"shape": "A"},
            after={"shape": "B"},
            action_reason="replace_because_cannot_update",
            replace_paths=(("source_details", 0, "boot_volume_size_in_gbs"),),
        ),
        _change("oci_core_subnet.old", "delete"),
        _change(
            "oci_core_security_list.nodes",
            "update",
            before={"ingress": 1},
            after={"ingress": 2},
            after_unknown={"time": True},
        ),
        _change("oci_core_vcn.moved", "no-op", previous_address="oci_core_vcn.before"),
        _change("oci_core_volume.data", "no-op", importing=True, import_id="ocid1.volume.x"),
    ),
    outputs=(OutputChange("ips", "update", False), OutputChange("kubeconfig", "create", True)),
    text="Terraform will perform the following actions:\n"
    + "  # a\n" * 10
    + "Plan: 1 to add, 1 to change, 1 to destroy.\n",
    fingerprint=PRINT,
)
QUIET = LayerPlan("talos")
BROKEN = LayerPlan("images", errors=("Error: Invalid reference\n  on main.tf line 3",))
GUARD = {
    "free": True,
    "verdict": "free: $0.00 a month",
    "blocking": [],
    "warnings": [],
    "profile": {"name": "always-free-2026-06", "source": "https://example.invalid", "read": "x"},
    "limits": [{"name": "a1_ocpus", "used": 2, "limit": 2, "unit": "OCPU", "over": False}],
    "resources": [
        {
            "address": "oci_core_vcn.main",
            "origin": "plan:oci",
            "category": "free",
            "reason": "VCN",
            "monthly_cost": 0.0,
        }
    ],
}


def _balanced(md: str) -> None:
    assert md.count("<details>") == md.count("</details>")
    fences = re.findall(r"^(`{3,})", md, flags=re.M)
    assert len(fences) % 2 == 0, fences


def test_top_table_counts_every_kind_of_change() -> None:
    md = render_comment([OCI, QUIET], GUARD)
    assert md.startswith(MARKER + "\n")
    assert "## freetier plan: ✅ $0.00 a month" in md
    assert "| oci | 1 | 1 | 1 | 1 | 1 | 1 | 0.00 | ✅ ok |" in md
    assert "| talos | 0 | 0 | 0 | 0 | 0 | 0 | 0.00 | no changes |" in md
    _balanced(md)


def test_destroys_and_replacements_come_first_under_a_banner() -> None:
    md = render_comment([OCI], GUARD)
    banner = md.index("> [!CAUTION]")
    assert banner < md.index("Free-tier guard") < md.index("### oci")
    assert "> **2 resource(s) will be destroyed or replaced**" in md
    assert (
        "> - oci: ± `oci_core_instance.node` replace because replace_because_cannot_update "
        "(`source_details[0].boot_volume_size_in_gbs`)"
    ) in md


def test_moves_imports_outputs_and_changed_attributes_are_listed() -> None:
    md = render_comment([OCI], GUARD)
    assert "(moved from `oci_core_vcn.before`)" in md
    assert "(imported from id `ocid1.volume.x`)" in md
    assert "  - `ingress`: `1` → `2`" in md
    assert "  - `time`: `null` → `(known after apply)`" in md
    assert "- + `kubeconfig` (sensitive)" in md


def test_failed_plan_shows_its_error_and_verdict() -> None:
    md = render_comment([OCI, BROKEN], GUARD)
    assert "## freetier plan: ❌ plan failed: images" in md
    assert "| images | 0 | 0 | 0 | 0 | 0 | 0 | - | ❌ plan failed |" not in md  # guard known
    assert "❌ plan failed |" in md
    assert "Error: Invalid reference" in md
    _balanced(md)


def test_fingerprints_ride_in_a_hidden_marker() -> None:
    md = render_comment([OCI, QUIET], GUARD)
    assert read_fingerprints(md) == {"oci": {"changes": PRINT.changes, "digest": PRINT.digest}}
    assert read_fingerprints("no marker") == {}


def test_blocking_guard_marks_the_layer() -> None:
    guard = {
        **GUARD,
        "free": False,
        "verdict": "BLOCKING: 1 finding(s)",
        "blocking": ["oci_core_instance.e4: paid shape VM.Standard.E4.Flex"],
        "resources": [
            {
                "address": "oci_core_instance.e4",
                "origin": "plan:oci",
                "category": "paid",
                "reason": "E4",
                "monthly_cost": 36.5,
            }
        ],
    }
    md = render_comment([OCI], guard)
    assert "## freetier plan: ❌ over the free tier" in md
    assert "| 36.50 | ❌ over the free tier |" in md


def test_may_be_billed_guard_says_so_in_the_headline_and_the_layer() -> None:
    guard = {
        **GUARD,
        "free": False,
        "verdict": "MAY BE BILLED: 1 item(s), up to an estimated $2.55 a month",
        "may_be_billed": ["oci_core_volume.data: performance-based auto-tune may be billed"],
        "resources": [
            {
                "address": "oci_core_volume.data",
                "origin": "plan:oci",
                "category": "may-be-billed",
                "reason": "auto-tune",
                "monthly_cost": 2.55,
            }
        ],
    }
    md = render_comment([OCI, QUIET], guard)
    assert "## freetier plan: ❌ may be billed" in md
    assert "| oci | 1 | 1 | 1 | 1 | 1 | 1 | 2.55 | ❌ may be billed |" in md
    assert "| talos | 0 | 0 | 0 | 0 | 0 | 0 | 0.00 | no changes |" in md
    assert "### ❌ Free-tier guard: MAY BE BILLED: 1 item(s)" in md
    assert "**May be billed**\n\n- oci_core_volume.data: performance-based" in md


def _huge(n: int) -> LayerPlan:
    changes = tuple(
        _change(
            f"oci_core_volume.v{i}",
            "update",
            before={"size_in_gbs": "50", "tag": "a" * 300},
            after={"size_in_gbs": "60", "tag": "b" * 300},
        )
        for i in range(n)
    )
    text = "\n".join(f"  # oci_core_volume.v{i} will be updated in-place" for i in range(n))
    return LayerPlan(
        "oci", changes=changes, text=text + "\nPlan: 0 to add, 5000 to change.\n", fingerprint=PRINT
    )


@pytest.mark.parametrize("n", [50, 400, 5000, 50_000])
def test_big_plans_degrade_by_tiers_and_always_fit(n: int) -> None:
    md = render_comment([_huge(n)], GUARD)
    assert len(md) <= DEFAULT_BUDGET
    _balanced(md)
    assert md.startswith(MARKER)
    assert "| oci | 0 | " + str(n) + " | 0 | 0 | 0 | 0 | 0.00 | ✅ ok |" in md
    if n > 50:
        assert "Shortened to fit GitHub's comment limit" in md or "Too large" in md


def test_cut_plan_text_keeps_its_tail() -> None:
    md = render_comment([_huge(2000)], GUARD)
    assert "Plan: 0 to add, 5000 to change." in md
    assert "line(s) cut here to fit" in md


def test_full_rendering_keeps_everything_for_the_summary() -> None:
    full = render_full([_huge(400)], GUARD)
    assert "line(s) cut" not in full and len(full) > DEFAULT_BUDGET


def test_tiny_budget_falls_back_to_the_summary_only() -> None:
    md = render_comment([OCI], GUARD, budget=200)
    assert "Too large for a comment" in md
    assert "> **2 resource(s) will be destroyed or replaced**" in md
    _balanced(md)


def test_cut_middle_keeps_whole_lines() -> None:
    text = "\n".join(f"line {i}" for i in range(1000))
    cut = cut_middle(text, 600)
    assert len(cut) <= 600
    assert cut.startswith("line 0\n") and cut.endswith("line 999")
    assert all(line.startswith(("line ", "... ")) for line in cut.split("\n"))


def test_backticks_in_the_plan_cannot_close_the_fence() -> None:
    plan = LayerPlan("oci", changes=(_change("x.y", "create"),), text="value = ````tricky````\n")
    md = render_comment([plan])
    assert "`````text" in md
    _balanced(md)
