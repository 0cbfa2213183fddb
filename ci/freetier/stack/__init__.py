"""stack.yaml: the typed model, its cross-field rules, loading and the JSON Schema."""

from freetier.stack.checks import Problem, check_stack
from freetier.stack.load import format_path, load_stack, load_stack_text
from freetier.stack.model import Stack
from freetier.stack.schema import stack_schema, stack_schema_text

__all__ = [
    "Problem",
    "Stack",
    "check_stack",
    "format_path",
    "load_stack",
    "load_stack_text",
    "stack_schema",
    "stack_schema_text",
]
