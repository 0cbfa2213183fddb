"""stack.yaml edited from init's answers with ruamel.yaml's round trip: every comment, blank
line, key order and flow list of the file stays as it was; only the answered values change.
Pure: text in, text out."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from freetier.errors import ConfigError
from freetier.setup.model import StackAnswers
from freetier.stack.load import parse_yaml_text


def _yaml() -> YAML:
    # The shipped file's layout: 2-space mappings, list items indented under their key.
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def current_value(text: str, path: Path, field: tuple[str, ...]) -> Any:
    """The value at FIELD of the stack text (None when absent)."""
    node: Any = parse_yaml_text(text, path)
    for part in field:
        if not isinstance(node, CommentedMap) or part not in node:
            return None
        node = node[part]
    return list(node) if isinstance(node, CommentedSeq) else node


def apply_answers(text: str, path: Path, answers: StackAnswers) -> str:
    """TEXT with the answered fields set; the same text when nothing differs."""
    parse_yaml_text(text, path)  # bad YAML: one line naming the file and line
    tree = _yaml().load(text)  # again, keeping quotes as written
    changed = False
    for field, value in answers.fields().items():
        parent = tree
        for part in field[:-1]:
            child = parent.get(part)
            if not isinstance(child, CommentedMap):
                where = ".".join(field[:-1])
                raise ConfigError([f"{path}: {where}: expected a mapping to set {field[-1]} in"])
            parent = child
        changed |= _set(parent, field[-1], value)
    if not changed:
        return text
    out = io.StringIO()
    _yaml().dump(tree, out)
    return out.getvalue()


def _set(parent: CommentedMap, key: str, value: str | tuple[str, ...]) -> bool:
    old = parent.get(key)
    if isinstance(value, tuple):
        if isinstance(old, CommentedSeq):
            if list(old) == list(value):
                return False
            # The comment after the last item (and the blank lines and comments that follow
            # it) belongs to wherever the list now ends.
            comment = old.ca.items.pop(len(old) - 1, None)
            del old[:]
            old.extend(value)
            if comment is not None:
                old.ca.items[len(old) - 1] = comment
            return True
        parent[key] = CommentedSeq(value)
        return True
    if old == value:
        return False
    parent[key] = value
    return True
