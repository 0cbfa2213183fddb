"""Every documented `dagger call` against what the module registers.

The commands come from the Markdown files' shell blocks and from the workflows (the
dagger-for-github steps with `verb: call`, and any `run:` script); each must name a
registered function, give every required parameter, and use no flag the function lacks.
What follows the function is the core API on what it returns (`export --path=out` on a
Directory): checked the same way against the SDK's generated client, which is that API.
Prose that only names a function (`dagger call pr`) must name a registered one.

Names as the dagger CLI shows them: the engine turns the SDK's names into camelCase
(core/typedef.go, strcase.ToLowerCamel) and the CLI those into kebab-case
(cmd/dagger/module_inspect.go `cliName`, strcase.ToKebab); a parameter is required when
it is neither optional nor has a default (`IsRequired` there), which is the SDK's
`Parameter.is_optional` negated.
"""

from __future__ import annotations

import inspect
import re
import shlex
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagger
import pytest
import yaml
from dagger.client.base import Type
from dagger.mod import default_module

from freetier.pipeline import Freetier
from tests.conftest import ROOT

MODULE = default_module().get_object(Freetier.__name__)
FUNCTIONS = {fn.name.replace("_", "-"): fn for fn in MODULE.functions.values()}  # as _cli
DAGGER_ACTION = "dagger/dagger-for-github"
# The names this module uses: lower case words joined by `_`, which the engine and the
# CLI turn into kebab-case by swapping `_` for `-` (digits or capitals would need strcase).
SIMPLE_NAME = re.compile(r"[a-z]+(_[a-z]+)*")
INLINE = re.compile(r"`(dagger call [^`]*)`")


@dataclass(frozen=True)
class Flag:
    required: bool
    boolean: bool  # `--live` alone; other flags take a value, after `=` or as the next word


def _is_bool(annotation: Any) -> bool:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return bool in typing.get_args(annotation)
    return annotation is bool


def _cli(name: str) -> str:
    return name.replace("_", "-")


def _module_flags(fn: Any) -> dict[str, Flag]:
    return {
        _cli(p.name): Flag(required=not p.is_optional, boolean=_is_bool(p.resolved_type))
        for p in fn.parameters.values()
    }


def _core_flags(method: Callable[..., Any]) -> dict[str, Flag]:
    params = list(inspect.signature(method).parameters.values())[1:]  # after self
    return {
        _cli(p.name): Flag(required=p.default is p.empty, boolean=_is_bool(p.annotation))
        for p in params
    }


def _object_type(annotation: Any, current: type | None = None) -> type | None:
    """The client class a return annotation names, when it is an object of the API."""
    if annotation is typing.Self:
        return current
    found = getattr(dagger, getattr(annotation, "__name__", ""), None)
    return found if isinstance(found, type) and issubclass(found, Type) else None


def _core_method(cls: type | None, name: str) -> Callable[..., Any] | None:
    if cls is None:
        return None
    # The SDK adds `_` to names Python reserves (`from_`).
    python_name = name.replace("-", "_")
    for attr in (python_name, f"{python_name}_"):
        if not attr.startswith("_") and callable(method := getattr(cls, attr, None)):
            return method
    return None


def _take_flags(
    words: list[str], flags: dict[str, Flag], where: str
) -> tuple[list[str], list[str]]:
    """Consume the flags at the start of `words`; return the rest and what is wrong."""
    problems, given, i = [], set(), 0
    while i < len(words) and words[i].startswith("-"):
        name, eq, _ = words[i].lstrip("-").partition("=")
        i += 1
        if (flag := flags.get(name)) is None:
            problems.append(f"{where}: no flag --{name} (has: {', '.join(sorted(flags))})")
            continue
        given.add(name)
        if not eq and not flag.boolean:
            if i == len(words):
                problems.append(f"{where}: --{name} needs a value")
            i += 1
    missing = [f"--{name}" for name, flag in flags.items() if flag.required and name not in given]
    if missing:
        problems.append(f"{where}: missing required {' '.join(missing)}")
    return words[i:], problems


def check_call(command: str) -> list[str]:
    """What is wrong with one `dagger call ...` command line; [] when nothing."""
    words = shlex.split(command, comments=True)
    if words[:2] != ["dagger", "call"]:
        return [f"not a dagger call: {command}"]
    # Flags before the function are the main object's constructor's (`--source`).
    rest, problems = _take_flags(words[2:], _module_flags(MODULE.get_constructor()), "call")
    if not rest:
        return [*problems, "no function named"]
    name, rest = rest[0], rest[1:]
    if (fn := FUNCTIONS.get(name)) is None:
        return [*problems, f"no function {name} (has: {', '.join(sorted(FUNCTIONS))})"]
    rest, more = _take_flags(rest, _module_flags(fn), name)
    problems += more
    returned = _object_type(fn.return_type)
    while rest:
        step, rest = rest[0], rest[1:]
        if (method := _core_method(returned, step)) is None:
            what = returned.__name__ if returned else "a value that is no object"
            return [*problems, f"{name}: then {step}, which {what} does not have"]
        rest, more = _take_flags(rest, _core_flags(method), step)
        problems += more
        returned = _object_type(inspect.signature(method).return_annotation, returned)
        name = step
    return problems


# --- where the commands are documented ------------------------------------------


def _markdown_files() -> list[Path]:
    return sorted(
        path
        for path in ROOT.rglob("*.md")
        if not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    )


def _shell_commands(script: str, first_line: int = 1) -> Iterator[tuple[int, str]]:
    """The `dagger call` command lines of a shell script, continuation lines joined, with
    the number of the line each starts on."""
    lines = script.splitlines()
    i = 0
    while i < len(lines):
        start, line = i, lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        i += 1
        command = line.strip().removeprefix("$ ")
        if command.startswith("dagger call"):
            yield first_line + start, command


def _fenced_blocks(text: str) -> Iterator[tuple[int, str]]:
    """The Markdown code blocks of `text`, with the number of each one's first line."""
    block: list[str] | None = None
    first = 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            if block is not None:
                yield first, "\n".join(block)
            block, first = (None, 0) if block is not None else ([], number + 1)
        elif block is not None:
            block.append(line)


def _documented() -> Iterator[tuple[str, str]]:
    for path in _markdown_files():
        name = path.relative_to(ROOT)
        for first, block in _fenced_blocks(path.read_text(encoding="utf-8")):
            for number, command in _shell_commands(block, first):
                yield f"{name}:{number}", command
    for path in sorted((ROOT / ".github" / "workflows").glob("*.y*ml")):
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        for job_name, job in workflow.get("jobs", {}).items():
            for step in job.get("steps", []):
                where = f"{path.relative_to(ROOT)} {job_name}: {step.get('name', '')}"
                with_ = step.get("with", {})
                if step.get("uses", "").startswith(f"{DAGGER_ACTION}@"):
                    assert with_.get("verb") == "call", f"{where}: only `call` is checked here"
                    yield where, f"dagger call {with_['args']}"
                for _, command in _shell_commands(step.get("run", "")):
                    yield where, command


def _mentioned() -> Iterator[tuple[str, str]]:
    """Inline `dagger call ...` in prose and comments: only the function is checked."""
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    for path in [*_markdown_files(), *workflows]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for mention in INLINE.findall(line):
                yield f"{path.relative_to(ROOT)}:{number}", mention


DOCUMENTED = list(_documented())
MENTIONED = list(_mentioned())


def test_commands_are_found() -> None:
    places = {re.split(r"[: ]", where)[0] for where, _ in DOCUMENTED}
    assert {"README.md", ".github/workflows/deploy.yml", ".github/workflows/pr.yml"} <= places
    assert {command.split()[2] for _, command in DOCUMENTED} >= {"check", "pr", "deploy"}


@pytest.mark.parametrize(("where", "command"), DOCUMENTED, ids=[w for w, _ in DOCUMENTED])
def test_documented_dagger_call(where: str, command: str) -> None:
    assert check_call(command) == []


@pytest.mark.parametrize(("where", "mention"), MENTIONED, ids=[w for w, _ in MENTIONED])
def test_mentioned_function_exists(where: str, mention: str) -> None:
    assert mention.split()[2] in FUNCTIONS


def test_names_turn_kebab_by_swapping_underscores() -> None:
    names = [
        name
        for fn in [MODULE.get_constructor(), *MODULE.functions.values()]
        for name in [fn.name or "constructor", *(p.name for p in fn.parameters.values())]
    ]
    assert [name for name in names if not SIMPLE_NAME.fullmatch(name)] == []


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("dagger call deploy --oci-config=env://C --oci-key=env://K", "missing required"),
        ("dagger call pr --pr=7", "no flag --pr"),
        ("dagger call build_image --name=base", "no function build_image"),
        ("dagger call images-needed export --path=x", "export, which a value"),
        ("dagger call pr export", "export: missing required --path"),
        ("dagger call plan --layer", "--layer needs a value"),
        ("dagger call --nope check", "call: no flag --nope"),
    ],
)
def test_the_check_catches(command: str, problem: str) -> None:
    assert problem in " ".join(check_call(command))


@pytest.mark.parametrize(
    "command",
    [
        "dagger call guard --live --format json",
        "dagger call --source=. build-image --name base export --path=x.qcow2",
        "dagger call toolchain with-exec --args=ls stdout",
        "dagger call pr export --path=out --wipe",
        "dagger call comment --plans=out/plans contents",
    ],
)
def test_the_check_passes(command: str) -> None:
    assert check_call(command) == []
