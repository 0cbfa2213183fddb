"""`show -json` -> LayerPlan, on real terraform plans (see conftest.py and fixtures/)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from freetier.errors import ConfigError
from freetier.plans.mask import NO_SECRETS
from freetier.plans.model import SENSITIVE, LayerPlan, Secrets
from freetier.plans.parse import (
    check_format_version,
    failed_plan,
    parse_plan,
    read_layer_plan,
    sensitive_strings,
)
from tests.plans.bigplan import make_big_plan
from tests.plans.conftest import RealPlan

Row = tuple[str, str, str | None]


def rows(plan: LayerPlan) -> list[Row]:
    return sorted((c.address, c.action, c.action_reason) for c in plan.changes)


def parse(real: RealPlan, secrets: Secrets = NO_SECRETS) -> LayerPlan:
    return parse_plan(real.shown, real.name, secrets, real.text)


def change(plan: LayerPlan, address: str) -> Any:
    return next(c for c in plan.changes if c.address == address)


def entry(shown: dict[str, Any], address: str) -> dict[str, Any]:
    return next(rc for rc in shown["resource_changes"] if rc["address"] == address)


# --- each scenario, exactly -----------------------------------------------------------------


def test_changes(real_plans: Mapping[str, RealPlan]) -> None:
    plan = parse(real_plans["changes"])
    assert rows(plan) == [
        ("data.terraform_remote_state.later", "read", "read_because_config_unknown"),
        ("module.box.terraform_data.inner", "create", None),
        ("terraform_data.counted[1]", "delete", "delete_because_count_index"),
        ("terraform_data.gone", "delete", "delete_because_no_resource_config"),
        ('terraform_data.keyed["y"]', "delete", "delete_because_each_key"),
        ("terraform_data.new", "create", None),
        ("terraform_data.update", "update", None),
    ]
    # no-ops (keep, counted[0], keyed["x"]) are left out
    assert len(real_plans["changes"].shown["resource_changes"]) == 10
    assert plan.counts == {"create": 2, "update": 1, "delete": 3, "read": 1, "import": 0, "move": 0}
    update = change(plan, "terraform_data.update")
    assert update.type == "terraform_data"
    assert update.before["input"] == {"size": 1, "tags": ["a", "b"]}
    assert update.after["input"] == {"size": 2, "tags": ["a", "b"]}
    assert update.after_unknown == {"input": {"tags": [False, False]}, "output": True}
    assert change(plan, "terraform_data.new").after == {"input": "hello", "triggers_replace": None}
    assert change(plan, "terraform_data.gone").after is None
    assert [(o.name, o.action, o.before, o.after, o.sensitive) for o in plan.outputs] == [
        ("appears", "create", None, None, False),  # known only after apply
        ("changes", "update", "o1", "o2", False),
        ("goes", "delete", "x", None, False),
        ("stays", "no-op", "same", "same", False),
    ]
    assert [d.address for d in plan.destroys] == [
        "terraform_data.counted[1]",
        "terraform_data.gone",
        'terraform_data.keyed["y"]',
    ]
    assert not plan.failed and not plan.no_changes and not plan.drift
    assert (plan.format_version, plan.tofu_version) == ("1.2", "1.11.4")
    assert "terraform_data.new will be created" in plan.text


def test_replace(real_plans: Mapping[str, RealPlan]) -> None:
    plan = parse(real_plans["replace"])
    assert rows(plan) == [
        ("terraform_data.before_destroy", "replace", "replace_because_cannot_update"),
        ("terraform_data.follower", "replace", "replace_by_triggers"),
        ("terraform_data.requested", "replace", "replace_by_request"),
        ("terraform_data.source", "update", None),
        ("terraform_data.tainted", "replace", "replace_because_tainted"),
        ("terraform_data.trigger", "replace", "replace_because_cannot_update"),
    ]
    shown = real_plans["replace"].shown
    # create_before_destroy plans ["create", "delete"], the rest ["delete", "create"]
    assert entry(shown, "terraform_data.before_destroy")["change"]["actions"] == [
        "create",
        "delete",
    ]
    assert entry(shown, "terraform_data.trigger")["change"]["actions"] == ["delete", "create"]
    assert {c.address: c.replace_paths for c in plan.changes if c.replace_paths} == {
        "terraform_data.before_destroy": (("triggers_replace",),),
        "terraform_data.trigger": (("triggers_replace",),),
    }
    assert plan.counts == {"replace": 5, "update": 1, "import": 0, "move": 0}
    assert len(plan.destroys) == 5


def test_refactor_moves_forget_and_imports(real_plans: Mapping[str, RealPlan]) -> None:
    plan = parse(real_plans["refactor"])
    got = sorted(
        (c.address, c.action, c.action_reason, c.importing, c.import_id, c.previous_address)
        for c in plan.changes
    )
    no_config, old, older = (
        "delete_because_no_resource_config",
        "terraform_data.old_and_changed",
        "terraform_data.old_name",
    )
    assert got == [
        ("terraform_data.adopted", "no-op", None, True, "adopted-id", None),
        ("terraform_data.adopted_and_set", "update", None, True, "set-id", None),
        ("terraform_data.forget_me", "forget", no_config, False, None, None),
        ("terraform_data.moved_and_changed", "update", None, False, None, old),
        ("terraform_data.new_name", "no-op", None, False, None, older),
    ]
    assert plan.counts == {"update": 2, "forget": 1, "import": 2, "move": 2}
    assert not plan.destroys  # forget keeps the object
    assert change(plan, "terraform_data.new_name").moved
    assert change(plan, "terraform_data.adopted").noteworthy  # an import with nothing else


def test_sensitive_is_masked_where_marked_and_visible_elsewhere(
    real_plans: Mapping[str, RealPlan],
) -> None:
    plan = parse(real_plans["sensitive"])
    assert rows(plan) == [
        ("terraform_data.from_variable", "update", None),
        ("terraform_data.named", "update", None),
        ("terraform_data.nested", "update", None),
        ("terraform_data.whole", "update", None),
    ]
    nested = change(plan, "terraform_data.nested")
    assert nested.after["triggers_replace"] == {
        "plain": "visible",
        "hidden": SENSITIVE,
        "list": ["visible", SENSITIVE],
        "deep": {"deeper": {"value": SENSITIVE}},
    }
    assert nested.after["input"] == "rev-2"
    whole = change(plan, "terraform_data.whole")
    assert whole.after["input"] == SENSITIVE
    # terraform copies input into output without the mark: masked because it was marked once
    assert whole.before["output"] == {"a": SENSITIVE, "n": 1}
    assert change(plan, "terraform_data.from_variable").before["output"] == SENSITIVE
    named = change(plan, "terraform_data.named").after["input"]
    assert named == {
        "visible": "shown-v2",
        "password": SENSITIVE,
        "nest": {"db": {"auth_token": SENSITIVE}},
    }
    assert [(o.name, o.sensitive, o.before, o.after) for o in plan.outputs] == [
        ("api_key", True, SENSITIVE, SENSITIVE),
        ("wrapped", True, SENSITIVE, SENSITIVE),
    ]
    assert '~ visible  = "shown-v1" -> "shown-v2"' in plan.text


def test_no_changes(real_plans: Mapping[str, RealPlan]) -> None:
    real = real_plans["nochange"]
    assert [rc["change"]["actions"] for rc in real.shown["resource_changes"]] == [["no-op"]] * 3
    plan = parse(real)
    assert plan.changes == () and plan.no_changes
    assert [(o.name, o.action) for o in plan.outputs] == [("a", "no-op")]
    assert "No changes." in plan.text


def test_empty_plan_omits_resource_changes(real_plans: Mapping[str, RealPlan]) -> None:
    real = real_plans["empty"]
    assert "resource_changes" not in real.shown
    assert real.shown["planned_values"] == {"root_module": {}}
    plan = parse(real)
    assert plan.no_changes and plan.changes == () and plan.outputs == ()


def test_refresh_only_drift(real_plans: Mapping[str, RealPlan]) -> None:
    """A refresh-only plan reports the move as drift, and has no resource_changes at all."""
    real = real_plans["drift"]
    assert "resource_changes" not in real.shown
    assert real.shown["planned_values"] == {"root_module": {}}
    plan = parse(real)
    assert plan.changes == ()
    assert [(d.address, d.action, d.previous_address, d.moved) for d in plan.drift] == [
        ("terraform_data.after_move", "no-op", "terraform_data.before_move", True)
    ]


def test_failing_plan(real_plans: Mapping[str, RealPlan]) -> None:
    real = real_plans["failing"]
    assert sorted(real.errors) == [
        "Error: Resource precondition failed\nat most 2 replicas fit the free tier",
        "Error: Resource precondition failed\npassword too long: CANARY-failing-secret",
    ]  # the check block's failure is a warning, not an error
    secrets = Secrets(values=("CANARY-failing-secret",))
    plan = failed_plan("oci", list(real.errors), secrets)
    assert plan.failed and not plan.no_changes
    assert sorted(plan.errors) == [
        "Error: Resource precondition failed\nat most 2 replicas fit the free tier",
        f"Error: Resource precondition failed\npassword too long: {SENSITIVE}",
    ]
    assert failed_plan("oci", [], secrets).errors == ("oci: planning failed",)
    # terraform still writes a plan file, marked errored: it must never read as "no changes"
    assert real.shown["errored"] is True
    errored = parse_plan(real.shown, "oci", secrets, real.text)
    assert errored.failed and not errored.no_changes
    assert errored.errors == (
        "oci: planning failed (the plan is marked errored); see the plan's diagnostics",
    )


# --- secrets --------------------------------------------------------------------------------


def test_canary_reaches_no_layer_plan(real_plans: Mapping[str, RealPlan]) -> None:
    """Nothing registered: the marks, secret names and sensitive variables alone hide them."""
    real = real_plans["sensitive"]
    assert real.text.count("CANARY") == 8  # terraform itself prints some in the text
    assert "CANARY" in json.dumps(real.shown)
    for plan in (parse(real), read_layer_plan(real.json_path, "oci", text_file=real.text_path)):
        assert "CANARY" not in repr(plan)
        assert "CANARY" not in plan.text
        assert plan.text.count(SENSITIVE) == 8


def test_sensitive_strings_come_from_marks_and_sensitive_variables(
    real_plans: Mapping[str, RealPlan],
) -> None:
    found = sensitive_strings(real_plans["sensitive"].shown)
    assert found == {
        "CANARY-object-attribute",
        "CANARY-list-element",
        "CANARY-deep-attribute",
        "CANARY-whole-object-v1",
        "CANARY-whole-object-v2",
        "CANARY-variable-v1",
        "CANARY-variable-v2",
    }


def test_registered_secrets_are_masked_in_values_text_and_import_ids(
    real_plans: Mapping[str, RealPlan],
) -> None:
    secrets = Secrets(values=("shown-v2", "adopted-id", "hello"))
    plan = parse(real_plans["sensitive"], secrets)
    assert change(plan, "terraform_data.named").after["input"]["visible"] == SENSITIVE
    assert "shown-v2" not in plan.text
    refactor = parse(real_plans["refactor"], secrets)
    assert change(refactor, "terraform_data.adopted").import_id == SENSITIVE
    changes = parse(real_plans["changes"], secrets)
    assert change(changes, "terraform_data.new").after["input"] == SENSITIVE
    assert "hello" not in changes.text


# --- hand-made variants of real entries -----------------------------------------------------


def test_replace_paths_with_indexes(real_plans: Mapping[str, RealPlan]) -> None:
    shown = copy.deepcopy(real_plans["replace"].shown)
    entry(shown, "terraform_data.trigger")["change"]["replace_paths"] = [
        ["triggers_replace", 0],
        ["input"],
    ]
    plan = parse_plan(shown, "oci")
    assert change(plan, "terraform_data.trigger").replace_paths == (
        ("triggers_replace", 0),
        ("input",),
    )


def test_import_by_identity(real_plans: Mapping[str, RealPlan]) -> None:
    """Newer tofu/terraform import by identity instead of id."""
    shown = copy.deepcopy(real_plans["refactor"].shown)
    entry(shown, "terraform_data.adopted")["change"]["importing"] = {
        "identity": {"id": "x", "auth_token": "t"}
    }
    entry(shown, "terraform_data.adopted_and_set")["change"]["importing"] = {}
    plan = parse_plan(shown, "oci")
    adopted = change(plan, "terraform_data.adopted")
    assert (adopted.importing, adopted.import_id) == (True, '{"auth_token":"(sensitive)","id":"x"}')
    unknown = change(plan, "terraform_data.adopted_and_set")
    assert (unknown.importing, unknown.import_id) == (True, None)


def test_sensitive_output_in_a_partly_marked_object(real_plans: Mapping[str, RealPlan]) -> None:
    shown = copy.deepcopy(real_plans["changes"].shown)
    out = shown["output_changes"]["changes"]
    out.update(before={"k": "a", "s": "b"}, after={"k": "a", "s": "c"})
    out.update(before_sensitive={"s": True}, after_sensitive={"s": True})
    shown["output_changes"]["db_password"] = dict(
        out, before_sensitive=False, after_sensitive=False
    )
    plan = parse_plan(shown, "oci")
    outputs = {o.name: o for o in plan.outputs}
    assert (outputs["changes"].sensitive, outputs["changes"].after) == (
        True,
        {"k": "a", "s": SENSITIVE},
    )
    assert (outputs["db_password"].sensitive, outputs["db_password"].after) == (False, SENSITIVE)


# --- bad input ------------------------------------------------------------------------------


Shown = dict[str, Any]


def _first(shown: Shown) -> dict[str, Any]:
    first: dict[str, Any] = shown["resource_changes"][0]  # data.terraform_remote_state.later
    return first


# how to break a real plan -> the one line that says so
R0, AT = "plan: resource_changes[0]", " (data.terraform_remote_state.later)"
BREAKS: dict[str, tuple[Callable[[Shown], Any], str]] = {
    "not-an-object": (
        lambda s: [s],
        "plan: not a `tofu show -json` plan (top level is not an object)",
    ),
    "no-format-version": (
        lambda s: s.pop("format_version"),
        "plan: format_version: None is not supported (expected 1.x)",
    ),
    "format-2": (
        lambda s: s.update(format_version="2.0"),
        "plan: format_version: '2.0' is not supported (expected 1.x)",
    ),
    "changes-not-a-list": (
        lambda s: s.update(resource_changes={"a": 1}),
        "plan: resource_changes: expected a list",
    ),
    "changes-missing": (
        lambda s: s.pop("resource_changes"),
        "plan: resource_changes: missing, but planned_values lists resources",
    ),
    "entry-not-an-object": (
        lambda s: s["resource_changes"].__setitem__(0, "terraform_data.x"),
        f"{R0}: expected an object",
    ),
    "no-address": (
        lambda s: _first(s).pop("address"),
        f"{R0}.address: expected a non-empty string",
    ),
    "no-type": (
        lambda s: _first(s).update(type=None),
        f"{R0}.type: expected a string{AT}",
    ),
    "no-change": (
        lambda s: _first(s).pop("change"),
        f"{R0}.change: expected an object{AT}",
    ),
    "unknown-actions": (
        lambda s: _first(s)["change"].update(actions=["create", "update"]),
        f"{R0}.change.actions: ['create', 'update'] is not a known list of actions{AT}",
    ),
    "actions-not-a-list": (
        lambda s: _first(s)["change"].update(actions="create"),
        f"{R0}.change.actions: 'create' is not a known list of actions{AT}",
    ),
    "bad-replace-paths": (
        lambda s: _first(s)["change"].update(replace_paths=["input"]),
        f"{R0}.change.replace_paths: expected a list of paths of names and indexes{AT}",
    ),
    "bad-importing": (
        lambda s: _first(s)["change"].update(importing="id"),
        f"{R0}.change.importing: expected an object{AT}",
    ),
    "bad-previous-address": (
        lambda s: _first(s).update(previous_address=3),
        f"{R0}.previous_address: expected a string{AT}",
    ),
    "drift-not-a-list": (
        lambda s: s.update(resource_drift="x"),
        "plan: resource_drift: expected a list",
    ),
    "outputs-not-an-object": (
        lambda s: s.update(output_changes=[]),
        "plan: output_changes: expected an object",
    ),
    "output-bad-actions": (
        lambda s: s["output_changes"]["goes"].update(actions=["explode"]),
        "plan: output_changes.goes.actions: ['explode'] is not a known list of actions"
        " (output goes)",
    ),
}


@pytest.mark.parametrize("how", list(BREAKS))
def test_bad_input_is_one_line(real_plans: Mapping[str, RealPlan], how: str) -> None:
    shown = copy.deepcopy(real_plans["changes"].shown)
    breaker, expected = BREAKS[how]
    replaced = breaker(shown)  # edits in place, except "not-an-object", which wraps it
    with pytest.raises(ConfigError) as caught:
        parse_plan(replaced if how == "not-an-object" else shown, "oci")
    assert caught.value.problems == (expected,)
    assert "\n" not in str(caught.value)


def test_check_format_version_accepts_any_1x() -> None:
    assert check_format_version({"format_version": "1.0"}) == "1.0"
    assert check_format_version({"format_version": "1.99"}, "x.json") == "1.99"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "{path}:1:2: not valid JSON: Expecting property name enclosed in"),
        (b"[]", "{path}: not a `tofu show -json` plan (top level is not an object)"),
        (b'{"format_version": "0.1"}', "{path}: format_version: '0.1' is not supported"),
        (b"\xff\xfe", "{path}: not UTF-8 text (byte 0xff at offset 0)"),
    ],
    ids=["not-json", "not-an-object", "old-format", "not-utf8"],
)
def test_read_layer_plan_errors(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        read_layer_plan(path, "oci")
    (problem,) = caught.value.problems
    assert problem.startswith(expected.format(path=path))
    assert "\n" not in problem


def test_read_layer_plan_missing_files(tmp_path: Path, real_plans: Mapping[str, RealPlan]) -> None:
    with pytest.raises(ConfigError, match=r"plan\.json: no such file$"):
        read_layer_plan(tmp_path / "plan.json", "oci")
    with pytest.raises(ConfigError, match=r"plan\.txt: no such file$"):
        read_layer_plan(real_plans["changes"].json_path, "oci", text_file=tmp_path / "plan.txt")


def test_read_layer_plan_matches_parse_plan(real_plans: Mapping[str, RealPlan]) -> None:
    real = real_plans["refactor"]
    assert read_layer_plan(real.json_path, "refactor", text_file=real.text_path) == parse(real)


def test_big_plan_generator(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The benchmark's generator, small: a tenth of the resources hold a marked value."""
    path = make_big_plan(tmp_path_factory.mktemp("big"), 30)
    plan = read_layer_plan(path, "big", text_file=path.with_name("plan.txt"))
    assert plan.counts == {"create": 30, "import": 0, "move": 0}
    notes = {c.address: c.after["input"]["note"] for c in plan.changes}
    assert sorted(notes.items())[:4] == [
        ("terraform_data.item[0]", "plain"),
        ("terraform_data.item[10]", "plain"),
        ("terraform_data.item[11]", "plain"),
        ("terraform_data.item[12]", "plain"),
    ]
    assert [notes[f"terraform_data.marked[{i}]"] for i in range(3)] == [SENSITIVE] * 3
    assert len(notes) == 30
    assert {c.after["input"]["password"] for c in plan.changes} == {SENSITIVE}
    assert "sensitive-value-" not in plan.text and "sensitive-value-" not in repr(plan)
