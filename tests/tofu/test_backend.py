"""Where the state lives, read from a backend settings file without ever quoting it."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.tofu import backend
from freetier.tofu.backend import StateObject, read_state_object, top_level_strings
from tests.tofu.remote_state import documented_backend_settings


def test_the_documented_settings_name_bucket_and_key(tmp_path: Path) -> None:
    config = tmp_path / "backend.hcl"
    config.write_text(documented_backend_settings("eu-frankfurt-1", "https://ns.compat.example"))
    assert read_state_object(config) == StateObject("freetier-tfstate", "oci/terraform.tfstate")


def test_doctests() -> None:
    assert doctest.testmod(backend).attempted > 0
    assert doctest.testmod(backend).failed == 0


def test_only_top_level_plain_strings_count() -> None:
    text = """
# key = "commented-out"
bucket = "b" // the bucket
/* key = "in a block comment" */
assume_role = {
  role_arn = "arn"
  key      = "nested: not the state key"
}
endpoints = { s3 = "https://x/{y}" }
workspace_key_prefix = "${var.x}"
key = "layers/oci.tfstate" # the state
"""
    assert top_level_strings(text) == {"bucket": "b", "key": "layers/oci.tfstate"}


def test_escapes_are_read_as_hcl_writes_them() -> None:
    assert top_level_strings('key = "a\\"b/c"\n') == {"key": 'a"b/c'}


def test_missing_settings_name_the_file_and_setting_never_a_value(tmp_path: Path) -> None:
    config = tmp_path / "backend.hcl"
    config.write_text('secret_key = "s3cr3t-value"\naccess_key = "AKID-value"\nkey = "k"\n')
    with pytest.raises(ConfigError) as info:
        read_state_object(config)
    assert info.value.problems == (
        f'{config}: no bucket = "..." setting: freetier locks the state beside it',
    )
    assert "s3cr3t" not in str(info.value) and "AKID" not in str(info.value)


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_state_object(tmp_path / "absent.hcl")
    assert str(info.value) == f"{tmp_path / 'absent.hcl'}: no such file"
