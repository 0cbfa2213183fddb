"""Masking of plan values and text: sensitivity trees, secret names, registered values."""

from __future__ import annotations

import copy
import doctest
from typing import Any

import pytest

import freetier.plans.mask as mask_module
from freetier.plans.mask import (
    MIN_PROPAGATED_LEN,
    Masker,
    collect_sensitive,
    mask_text,
    mask_value,
)
from freetier.plans.model import SENSITIVE, Secrets

NONE = Secrets()
S = SENSITIVE


def test_doctests() -> None:
    assert doctest.testmod(mask_module).failed == 0


@pytest.mark.parametrize(
    ("value", "sensitive", "expected"),
    [
        ("x", True, S),
        ("x", False, "x"),
        (None, True, None),  # nothing to hide: null stays null
        ({"a": {"b": 1}, "c": 2}, True, S),  # true at the top masks the whole object
        ({"a": {"b": 1}, "c": 2}, {"a": True}, {"a": S, "c": 2}),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": True}}, {"a": {"b": S, "c": 2}}),
        (["x", "y", "z"], [False, True], ["x", S, "z"]),  # a shorter tree marks less
        ([{"k": "x"}, {"k": "y"}], [{}, {"k": True}], [{"k": "x"}, {"k": S}]),
        ({"a": [1, [2, 3]]}, {"a": [False, [False, True]]}, {"a": [1, [2, S]]}),
        ({"a": 1}, [True], {"a": 1}),  # a tree of the wrong shape marks nothing
        ({"a": 1}, {}, {"a": 1}),
        (3, True, S),
        (False, True, S),
    ],
    ids=[
        "scalar",
        "scalar-not-marked",
        "null",
        "whole-object",
        "attribute",
        "nested-attribute",
        "list-element",
        "object-in-list",
        "list-in-list",
        "wrong-shape",
        "empty-tree",
        "number",
        "bool",
    ],
)
def test_sensitivity_tree(value: Any, sensitive: Any, expected: Any) -> None:
    assert mask_value(value, sensitive, NONE) == expected


def test_secret_names_at_any_depth() -> None:
    value = {
        "password": "p1",
        "user": "u",
        "db": {"auth_token": {"nested": "t"}, "host": "h"},
        "list": [{"client_secret": "c", "name": "n"}],
        "api_key": None,
        "Private_Key": 42,
    }
    assert mask_value(value, {}, NONE) == {
        "password": S,
        "user": "u",
        "db": {"auth_token": S, "host": "h"},
        "list": [{"client_secret": S, "name": "n"}],
        "api_key": None,
        "Private_Key": S,
    }


def test_own_name_and_custom_pattern() -> None:
    assert mask_value({"a": 1}, False, NONE, name="db_password") == S
    assert mask_value("v", False, NONE, name="region") == "v"
    custom = Secrets(name_pattern=r"^ssh_")
    assert mask_value({"ssh_keys": ["k"], "password": "p"}, {}, custom) == {
        "ssh_keys": S,
        "password": "p",
    }


def test_registered_values_in_strings_keys_and_lists() -> None:
    secrets = Secrets(values=("hunter2", "hunter22"))
    value = {"cmd": "login hunter22 then hunter2", "list": ["a-hunter2-b"], "hunter2": 1}
    assert mask_value(value, {}, secrets) == {
        "cmd": f"login {S} then {S}",
        "list": [f"a-{S}-b"],
        S: 1,
    }


def test_returns_a_copy_and_leaves_the_input_alone() -> None:
    value = {"a": {"b": ["x", "y"]}, "password": "p"}
    before = copy.deepcopy(value)
    masked = mask_value(value, {"a": {"b": [False, True]}}, Secrets(values=("x",)))
    assert value == before
    assert masked["a"]["b"] is not value["a"]["b"]


def test_masker_collects_what_it_hid() -> None:
    masker = Masker(NONE)
    masker.value({"a": "long-hidden-value", "b": "short", "password": "long-password"}, {"a": True})
    masker.value({"c": "long-but-visible"}, {})
    assert masker.found == {"long-hidden-value", "long-password"}
    text = "a = long-hidden-value; p = long-password; c = long-but-visible"
    assert masker.text(text) == f"a = {S}; p = {S}; c = long-but-visible"


def test_extra_values_mask_everywhere() -> None:
    masker = Masker(NONE, ["copied-secret"])
    assert masker.value({"output": "x copied-secret"}, {}) == {"output": f"x {S}"}


def test_collect_sensitive_walks_only_marked_parts() -> None:
    found: set[str] = set()
    value = {"a": "long-marked", "b": ["long-unmarked", "long-in-list"], "c": {"d": "x" * 10}}
    collect_sensitive(value, {"a": True, "b": [False, True], "c": {"d": False}}, found)
    assert found == {"long-marked", "long-in-list"}
    collect_sensitive({"k": "shrt"}, True, found)  # shorter than MIN_PROPAGATED_LEN
    assert "shrt" not in found
    assert len("shrt") < MIN_PROPAGATED_LEN


def test_mask_text_longest_first_and_multiline() -> None:
    pem = "-----BEGIN KEY-----\nAAAAbbbbCCCC\nDDDDeeee\n-----END KEY-----"
    secrets = Secrets(values=("abc", "abcdef", pem, ""))
    text = "x abcdef y abc z\n      <<-EOT\n        AAAAbbbbCCCC\n        DDDDeeee\n    EOT"
    masked = mask_text(text, secrets)
    assert masked.startswith(f"x {S} y {S} z")
    assert "AAAAbbbbCCCC" not in masked
    assert "DDDDeeee" not in masked
    assert mask_text(pem, secrets) == S
    assert mask_text("nothing here", NONE) == "nothing here"


def test_escaped_forms_of_registered_and_of_propagated_values() -> None:
    """Registered secrets are masked in every form, base64 too; values terraform marked
    sensitive elsewhere as they are quoted (terraform marks what it derives from them)."""
    masker = Masker(Secrets(values=('reg"istered',)), ['prop"agated'])
    text = masker.text('a = "reg\\"istered" b = "prop\\"agated" c = cmVnImlzdGVyZWQ=')
    assert text == f'a = "{S}" b = "{S}" c = {S}'
    assert masker.value({"k": 'reg"istered'}) == {"k": S}
    assert masker.text("cHJvcCJhZ2F0ZWQ=") == "cHJvcCJhZ2F0ZWQ="
