"""Read stack.yaml into a Stack, or raise ConfigError with one `file:line: path: message` each."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from freetier.errors import ConfigError
from freetier.files import MAX_DEPTH, check_tree, read_text, shown
from freetier.stack.checks import Problem, check_stack
from freetier.stack.model import Stack


def load_stack(path: Path) -> Stack:
    """Load and fully check `path`; nothing is written either way."""
    return load_stack_text(read_text(path), path)


def load_stack_text(text: str, path: Path) -> Stack:
    """Check `text` as the content `path` would have (errors name `path`): how a command
    checks a stack it is about to write."""
    tree = parse_yaml_text(text, path)
    try:
        stack = Stack.model_validate(to_plain(tree))
    except ValidationError as exc:
        raise ConfigError([_format(path, tree, p) for p in _pydantic_problems(exc)]) from None
    problems = check_stack(stack)
    if problems:
        raise ConfigError([_format(path, tree, p) for p in problems])
    return stack


def parse_yaml(path: Path) -> CommentedMap:
    """The file's top-level mapping, keeping line numbers for error messages."""
    return parse_yaml_text(read_text(path), path)


def parse_yaml_text(text: str, path: Path) -> CommentedMap:
    """`text` (the content of `path`) as its top-level mapping, with line numbers."""
    if not text.strip():
        raise ConfigError([f"{path}: file is empty"])
    try:
        tree = YAML(typ="rt").load(text)
    except RecursionError:
        raise ConfigError([f"{path}: nested deeper than {MAX_DEPTH} levels"]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise ConfigError([f"{where}: invalid YAML: {what}"]) from None
    except YAMLError as exc:
        raise ConfigError([f"{path}: invalid YAML: {exc}"]) from None
    if tree is None:
        raise ConfigError([f"{path}: file holds no YAML document"])
    if not isinstance(tree, CommentedMap):
        raise ConfigError([f"{path}: the top level must be a mapping of keys to values"])
    check_tree(tree, str(path))
    return tree


def to_plain(node: Any) -> Any:
    """ruamel's round-trip nodes as plain dict/list/str/int/float/bool for strict validation."""
    if isinstance(node, Mapping):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def format_path(path: Iterable[str | int]) -> str:
    """('instances', 1, 'ocpus') -> 'instances[1].ocpus'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def _pydantic_problems(exc: ValidationError) -> list[Problem]:
    """One problem per field: a union reports each branch it tried, keep the first."""
    problems: dict[tuple[str | int, ...], Problem] = {}
    for err in exc.errors():
        path = tuple(p for p in err["loc"] if isinstance(p, int) or p not in UNION_BRANCHES)
        problems.setdefault(path, Problem(path, _message(err)))
    return list(problems.values())


# The names pydantic puts in `loc` for the branch of an `X | None` union it tried.
UNION_BRANCHES = frozenset({"float", "int", "str", "bool", "none"})


def _message(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (a typo?)"
    if err["type"] == "missing":
        return "required field is missing"
    return f"{err['msg']} (got {shown(err['input'])})"


def _format(path: Path, tree: CommentedMap, problem: Problem) -> str:
    line = _line_of(tree, problem.path)
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {format_path(problem.path)}: {problem.message}"


def _line_of(tree: Any, path: tuple[str | int, ...]) -> int | None:
    """1-based line of the deepest part of `path` present in the YAML, for the error prefix."""
    line: int | None = None
    node = tree
    for part in path:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line
