from __future__ import annotations

import json

from freetier.stack import stack_schema, stack_schema_text
from tests.conftest import PROXMOX_EXAMPLE, ROOT, SHIPPED_STACK


def test_committed_schema_matches_the_model() -> None:
    committed = (ROOT / "stack.schema.json").read_text(encoding="utf-8")
    assert committed == stack_schema_text(), "run: freetier schema > stack.schema.json"


def test_stack_files_point_editors_at_the_schema() -> None:
    assert SHIPPED_STACK.read_text().splitlines()[0] == (
        "# yaml-language-server: $schema=./stack.schema.json"
    )
    assert PROXMOX_EXAMPLE.read_text().splitlines()[0] == (
        "# yaml-language-server: $schema=../stack.schema.json"
    )


def test_schema_forbids_unknown_keys_and_knows_the_topologies() -> None:
    schema = stack_schema()
    assert schema["additionalProperties"] is False
    assert schema["properties"]["topology"]["enum"] == ["direct", "proxmox"]
    assert set(schema["required"]) >= {"name", "oci", "instances", "network", "budget"}
    json.dumps(schema)  # serialisable as is


def test_schema_takes_only_a_whole_budget_amount() -> None:
    """Editors validating stack.yaml against the schema refuse 1.5, as the model and
    tofu/oci do (the provider types a budget's amount as an integer)."""
    import jsonschema
    import yaml

    stack = yaml.safe_load(SHIPPED_STACK.read_text())
    validator = jsonschema.Draft202012Validator(stack_schema())
    assert not list(validator.iter_errors(stack))
    stack["budget"]["amount"] = 1.5
    (error,) = validator.iter_errors(stack)
    assert list(error.path) == ["budget", "amount"] and error.validator == "type"
