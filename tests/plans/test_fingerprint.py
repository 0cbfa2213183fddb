"""Fingerprints of real plans: stable for the same change, different for another, and the
apply gate's diff never shows a secret. Also the runner additions they read (state, version)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator, Mapping
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from freetier.errors import ConfigError, ToolError
from freetier.plans.fingerprint import (
    changes_digest,
    diff_changes,
    make_fingerprint,
    normalise_changes,
)
from freetier.plans.model import SENSITIVE, Secrets
from freetier.tofu.run import parse_state_identity, show_text, state_pull, version
from tests.plans.conftest import RealPlan

KEYED = Secrets(fingerprint_key=b"test-fingerprint-key-of-32-chars")


def entry(shown: dict[str, Any], address: str) -> dict[str, Any]:
    return next(rc for rc in shown["resource_changes"] if rc["address"] == address)


def edited(real: RealPlan) -> dict[str, Any]:
    return copy.deepcopy(real.shown)


# --- the same change hashes the same --------------------------------------------------------


def test_same_change_planned_twice_elsewhere(real_plans: Mapping[str, RealPlan]) -> None:
    """Applied and planned in two directories: other ids, lineages and timestamps."""
    a, b = real_plans["changes"], real_plans["changes_again"]
    assert (
        entry(a.shown, "terraform_data.update")["change"]["before"]["id"]
        != entry(b.shown, "terraform_data.update")["change"]["before"]["id"]
    )
    assert a.lineage != b.lineage
    assert normalise_changes(a.shown) == normalise_changes(b.shown)
    assert changes_digest(a.shown) == changes_digest(b.shown)
    assert diff_changes(normalise_changes(a.shown), normalise_changes(b.shown)) == []


def test_order_no_ops_timestamps_and_unknowns_do_not_count(
    real_plans: Mapping[str, RealPlan],
) -> None:
    real = real_plans["changes"]
    shown = edited(real)
    shown["timestamp"] = "2030-01-01T00:00:00Z"
    shown["resource_changes"].reverse()
    for rc in shown["resource_changes"]:  # every object's keys in reverse order
        rc["change"] = json.loads(
            json.dumps(rc["change"]), object_pairs_hook=lambda p: dict(p[::-1])
        )
    keep = entry(shown, "terraform_data.keep")
    shown["resource_changes"].append(dict(copy.deepcopy(keep), address="terraform_data.other"))
    new = entry(shown, "terraform_data.new")["change"]
    new["after"]["output"] = "later"  # known in one plan, unknown in the other: dropped
    new["after_unknown"]["output"] = True
    assert changes_digest(shown) == changes_digest(real.shown)


def test_normalised_form(real_plans: Mapping[str, RealPlan]) -> None:
    normalised = normalise_changes(real_plans["changes"].shown)
    assert [e["address"] for e in normalised] == [
        "data.terraform_remote_state.later",
        "module.box.terraform_data.inner",
        "terraform_data.counted[1]",
        "terraform_data.gone",
        'terraform_data.keyed["y"]',
        "terraform_data.new",
        "terraform_data.update",
    ]
    by = {e["address"]: e for e in normalised}
    # equal before and after (id, triggers_replace) and unknown (output) attributes drop out
    assert by["terraform_data.update"] == {
        "address": "terraform_data.update",
        "previous_address": None,
        "actions": ["update"],
        "importing": None,
        "after": {"input": {"size": 2, "tags": ["a", "b"]}},
    }
    assert by["terraform_data.gone"]["after"] is None
    assert by["terraform_data.new"]["after"] == {"input": "hello", "triggers_replace": None}


def test_moves_and_imports_stay_even_as_no_ops(real_plans: Mapping[str, RealPlan]) -> None:
    normalised = normalise_changes(real_plans["refactor"].shown)
    got = {e["address"]: (e["actions"], e["previous_address"], e["importing"]) for e in normalised}
    assert got == {
        "terraform_data.adopted": (["no-op"], None, "adopted-id"),
        "terraform_data.adopted_and_set": (["update"], None, "set-id"),
        "terraform_data.forget_me": (["forget"], None, None),
        "terraform_data.moved_and_changed": (["update"], "terraform_data.old_and_changed", None),
        "terraform_data.new_name": (["no-op"], "terraform_data.old_name", None),
    }
    assert normalise_changes(real_plans["nochange"].shown) == []
    assert normalise_changes(real_plans["empty"].shown) == []


# --- another change hashes differently, and the diff says where -----------------------------


def test_changed_attribute(real_plans: Mapping[str, RealPlan]) -> None:
    real = real_plans["changes"]
    shown = edited(real)
    entry(shown, "terraform_data.update")["change"]["after"]["input"]["size"] = 3
    entry(shown, "module.box.terraform_data.inner")["change"]["after"]["input"] = "x" * 100
    assert changes_digest(shown) != changes_digest(real.shown)
    assert diff_changes(normalise_changes(real.shown), normalise_changes(shown)) == [
        '~ module.box.terraform_data.inner: input: "boxed" -> "' + "x" * 56 + "...",
        "~ terraform_data.update: input.size: 2 -> 3",
    ]


def test_added_removed_and_changed_actions(real_plans: Mapping[str, RealPlan]) -> None:
    reviewed = normalise_changes(real_plans["changes"].shown)
    now = normalise_changes(real_plans["replace"].shown)
    lines = diff_changes(reviewed, now)
    assert (
        "+ terraform_data.follower: now planned (delete, create), not in the reviewed plan" in lines
    )
    assert "- terraform_data.gone: in the reviewed plan (delete), no longer planned" in lines
    assert len(lines) == len(reviewed) + len(now)

    shown = edited(real_plans["refactor"])
    entry(shown, "terraform_data.adopted")["change"]["actions"] = ["update"]
    entry(shown, "terraform_data.adopted")["change"]["importing"] = {"id": "other-id"}
    entry(shown, "terraform_data.new_name")["previous_address"] = "terraform_data.elsewhere"
    lines = diff_changes(normalise_changes(real_plans["refactor"].shown), normalise_changes(shown))
    assert lines == [
        "~ terraform_data.adopted: actions no-op -> update",
        '~ terraform_data.adopted: import "adopted-id" -> "other-id"',
        '~ terraform_data.new_name: moved from "terraform_data.old_name"'
        ' -> "terraform_data.elsewhere"',
    ]


# --- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "path", "value", "shown_as"),
    [
        # inside an object marked as a whole: the whole object is what changed
        ("terraform_data.whole", ("input", "a"), "CANARY-whole-object-v3", "input"),
        ("terraform_data.from_variable", ("input",), "CANARY-variable-v3", None),
        ("terraform_data.named", ("input", "password"), "CANARY-password-v3", None),
        ("terraform_data.named", ("input", "nest", "db", "auth_token"), "CANARY-token-v3", None),
    ],
    ids=["marked-object", "variable", "secret-name", "deep-secret-name"],
)  # fmt: skip
def test_changed_secret_changes_the_keyed_digest_but_never_shows(
    real_plans: Mapping[str, RealPlan],
    address: str,
    path: tuple[str, ...],
    value: str,
    shown_as: str | None,
) -> None:
    real = real_plans["sensitive"]
    shown = edited(real)
    node = entry(shown, address)["change"]["after"]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    assert changes_digest(shown, KEYED) != changes_digest(real.shown, KEYED)
    reviewed, now = normalise_changes(real.shown, KEYED), normalise_changes(shown, KEYED)
    lines = diff_changes(reviewed, now)
    where = shown_as or ".".join(path)
    assert lines == [f"~ {address}: {where}: {SENSITIVE} value changed"]
    assert "CANARY" not in json.dumps([reviewed, now])
    # Without the key sensitive values are left out: the change is not covered, nor revealed.
    assert changes_digest(shown) == changes_digest(real.shown)
    assert diff_changes(normalise_changes(real.shown), normalise_changes(shown)) == []


def test_newly_changed_attribute_with_marked_parts(real_plans: Mapping[str, RealPlan]) -> None:
    """triggers_replace did not change in the reviewed plan; now a marked part of it does."""
    real = real_plans["sensitive"]
    shown = edited(real)
    entry(shown, "terraform_data.nested")["change"]["after"]["triggers_replace"]["deep"]["deeper"][
        "value"
    ] = "CANARY-deep-v3"
    assert diff_changes(normalise_changes(real.shown), normalise_changes(shown)) == [
        f"~ terraform_data.nested: triggers_replace.deep.deeper.value: now changes to {SENSITIVE}",
        f"~ terraform_data.nested: triggers_replace.hidden: now changes to {SENSITIVE}",
        '~ terraform_data.nested: triggers_replace.list[0]: now changes to "visible"',
        f"~ terraform_data.nested: triggers_replace.list[1]: now changes to {SENSITIVE}",
        '~ terraform_data.nested: triggers_replace.plain: now changes to "visible"',
    ]


def test_secret_newly_set_shows_as_sensitive(real_plans: Mapping[str, RealPlan]) -> None:
    real = real_plans["sensitive"]
    shown = edited(real)
    named = entry(shown, "terraform_data.named")["change"]
    named["after"]["input"]["api_key"] = "CANARY-new-key"
    lines = diff_changes(normalise_changes(real.shown), normalise_changes(shown))
    assert lines == [f"~ terraform_data.named: input.api_key: now changes to {SENSITIVE}"]


def test_registered_secrets_are_hashed_and_masked_in_the_diff(
    real_plans: Mapping[str, RealPlan],
) -> None:
    real = real_plans["changes"]
    shown = edited(real)
    entry(shown, "terraform_data.new")["change"]["after"]["input"] = "hello registered-secret"
    secrets = Secrets(values=("registered-secret",))
    reviewed, now = normalise_changes(real.shown, secrets), normalise_changes(shown, secrets)
    assert "registered-secret" not in json.dumps(now)
    assert diff_changes(reviewed, now, secrets) == [
        f'~ terraform_data.new: input: "hello" -> {SENSITIVE}'
    ]
    # lines are masked too, whatever the lists hold
    plain = diff_changes(normalise_changes(real.shown), normalise_changes(shown), secrets)
    assert plain == [f'~ terraform_data.new: input: "hello" -> "hello {SENSITIVE}"']


def test_bad_input(real_plans: Mapping[str, RealPlan]) -> None:
    with pytest.raises(ConfigError, match=r"^plan: format_version: '9' is not supported"):
        changes_digest({"format_version": "9"})
    shown = edited(real_plans["changes"])
    del shown["resource_changes"][2]["change"]
    with pytest.raises(
        ConfigError, match=r"^plan: resource_changes\[2\]: missing address or change$"
    ):
        normalise_changes(shown)


# --- the fingerprint and what it reads ------------------------------------------------------


@pytest.fixture
def no_tf_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("TF_"):
            monkeypatch.delenv(name)
    yield


def test_make_fingerprint(real_plans: Mapping[str, RealPlan], tmp_path: Path) -> None:
    real = real_plans["changes"]
    assert not (real.layer_dir / ".terraform.lock.hcl").exists()  # built-in provider only
    fingerprint = make_fingerprint(real.shown, real.layer_dir, real.lineage, real.serial, "b", "h")
    assert fingerprint.changes == changes_digest(real.shown)
    assert (fingerprint.tofu_version, fingerprint.lock_file) == ("1.11.4", "")
    assert (fingerprint.lineage, fingerprint.serial, fingerprint.base, fingerprint.head) == (
        real.lineage,
        real.serial,
        "b",
        "h",
    )
    lock = tmp_path / ".terraform.lock.hcl"
    lock.write_text('provider "registry.opentofu.org/oracle/oci" {}\n')
    locked = make_fingerprint(real.shown, tmp_path, real.lineage, real.serial, "b", "h")
    assert locked.lock_file == sha256(lock.read_bytes()).hexdigest()
    assert locked.changes == fingerprint.changes and locked.digest != fingerprint.digest
    again = real_plans["changes_again"].shown  # the same change: the same fingerprint
    assert make_fingerprint(again, real.layer_dir, real.lineage, real.serial, "b", "h") == (
        fingerprint
    )


@pytest.mark.usefixtures("no_tf_env")
def test_state_pull_version_and_show_text(real_plans: Mapping[str, RealPlan]) -> None:
    real = real_plans["refactor"]
    state = json.loads((real.layer_dir / "terraform.tfstate").read_text())
    assert state_pull(real.layer_dir, tofu=real.tofu) == (state["lineage"], state["serial"])
    assert (real.lineage, real.serial) == (state["lineage"], state["serial"])
    empty = real_plans["empty"]  # never applied: no state at all
    assert state_pull(empty.layer_dir, tofu=empty.tofu) == ("", 0)
    assert version(real.tofu) == real.shown["terraform_version"] == "1.11.4"
    assert version(real.tofu, cwd=real.layer_dir) == "1.11.4"
    text = show_text(real.layer_dir, tofu=real.tofu)
    assert text == real.text
    assert "terraform_data.old_name has moved to terraform_data.new_name" in text


@pytest.mark.parametrize(
    ("stdout", "message"),
    [("{", "state pull: not JSON: Expecting property name"), ('{"serial": 1}', "no lineage")],
)
def test_parse_state_identity_errors(stdout: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        parse_state_identity(stdout)
