"""Which fingerprint deploy takes for a layer: only one both of the workflow's records show.
Pure: ReviewRecord values in, a fingerprint or a refusal with its reason out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from freetier.comment import MARKER, fingerprint_marker
from freetier.github.record import ReviewRecord
from freetier.plans.model import Fingerprint, LayerPlan
from freetier.review.gate import Refused
from freetier.review.trust import describe, reviewed_fingerprint

HEAD = "c0ffee" + "0" * 34


def marker(layer: str, changes: str) -> str:
    """The fingerprint marker `comment post` writes for one layer."""
    fingerprint = Fingerprint(changes, "1.9.0", "", "lineage", 3, "", HEAD)
    return fingerprint_marker([LayerPlan(layer, fingerprint=fingerprint)])


def record(comment: str = "", checks: dict[str, str] | None = None, **more: object) -> ReviewRecord:
    base = ReviewRecord(pr=7, head_sha=HEAD, author="github-actions[bot]", comment_id=101)
    return replace(base, comment=f"{MARKER}\n{comment}\n## plan", checks=checks or {}, **more)


def refusal(rec: ReviewRecord, layer: str = "oci") -> str:
    with pytest.raises(Refused) as caught:
        reviewed_fingerprint(rec, layer)
    assert caught.value.layer == layer
    (reason,) = caught.value.reasons
    return reason


def test_a_layer_both_records_agree_on_is_taken() -> None:
    rec = record(marker("oci", "A"), {"freetier plan: oci": marker("oci", "A")})
    assert reviewed_fingerprint(rec, "oci")["changes"] == "A"
    assert describe(rec) == (
        "reviewed plans: comment 101 by github-actions[bot] on #7, checked against the check "
        "runs of c0ffee000000"
    )


def test_no_comment_by_the_workflow_refuses_and_names_the_look_alikes() -> None:
    rec = replace(record(), comment_id=None, comment="", ignored=("mallory",))
    assert refusal(rec) == (
        "pull request #7 has no plan comment by github-actions[bot]; ignored the ones by mallory"
    )
    assert describe(rec).endswith("(1 author(s) of look-alike comments ignored)")


def test_a_layer_the_comment_does_not_show_is_refused() -> None:
    rec = record(marker("talos", "T"), {"freetier plan: oci": marker("oci", "A")})
    assert refusal(rec) == "pull request #7 shows no reviewed plan for it"


def test_a_comment_no_check_run_of_the_head_confirms_is_refused() -> None:
    rec = record(marker("oci", "A"), {"freetier plan: talos": marker("oci", "A")})
    assert refusal(rec).startswith(
        "the head commit c0ffee000000 of #7 has no check run 'freetier plan: oci' by "
        "github-actions[bot]"
    )


@pytest.mark.parametrize(
    "check", [marker("oci", "B"), marker("talos", "A"), "", "<!-- freetier:fingerprints {} -->"]
)
def test_a_comment_and_check_run_that_disagree_are_refused(check: str) -> None:
    rec = record(marker("oci", "A"), {"freetier plan: oci": check})
    assert "name different plans" in refusal(rec)
