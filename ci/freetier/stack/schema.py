"""The JSON Schema of stack.yaml, for editors (yaml-language-server) and `freetier schema`."""

from __future__ import annotations

import json
from typing import Any

from freetier.stack.model import Stack


def stack_schema() -> dict[str, Any]:
    schema = Stack.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def stack_schema_text() -> str:
    """Stable text (sorted keys, trailing newline) so the committed copy diffs cleanly."""
    return json.dumps(stack_schema(), indent=2, sort_keys=True) + "\n"
