"""Reading a user's file and writing files, safely: one clear error line for every way it can
fail, bounded work for any input (size, nesting depth, alias expansion), and never a
half-written set."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError

MAX_BYTES = 1 << 20
# Far deeper than any stack, plan, Flux object or report we read; a parser recursing past
# Python's stack limit is what this stops.
MAX_DEPTH = 100
# Values a document may hold once its aliases are expanded: a 351-byte YAML alias bomb
# expands to billions.
MAX_NODES = 2_000_000
SHOWN_CHARS = 200  # of a bad value quoted in an error line


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """UTF-8 text of a regular file, with a clear error for every way that can fail. A FIFO
    or a device is refused without blocking on it."""
    try:
        if path.is_dir():
            raise ConfigError([f"{path}: is a directory, expected a YAML file"])
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ConfigError([f"{path}: not a regular file (a FIFO or a device?)"])
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except PermissionError:
        raise ConfigError([f"{path}: permission denied"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    if len(data) > max_bytes:
        raise ConfigError([f"{path}: larger than {max_bytes} bytes; is this the right file?"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"]
        ) from None


def check_tree(
    value: Any, where: str, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> None:
    """A parsed document is at most `max_depth` deep and holds at most `max_nodes` values with
    its aliases expanded (a shared node counts each time it is reached, as a walk of the
    document would visit it); ConfigError otherwise. Iterative: no recursion limit to hit."""
    seen = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        seen += 1
        if seen > max_nodes:
            raise ConfigError(
                [f"{where}: holds more than {max_nodes} values once its aliases are expanded"]
            )
        if isinstance(node, Mapping):
            children = [*node.keys(), *node.values()]
        elif isinstance(node, list | tuple):
            children = list(node)
        else:
            continue
        if children and depth >= max_depth:
            raise ConfigError([f"{where}: nested deeper than {max_depth} levels"])
        pending += [(child, depth + 1) for child in children]


def parse_json(text: str, where: str, max_depth: int = MAX_DEPTH) -> Any:
    """JSON text, bounded as `check_tree` bounds it; ConfigError naming `where` and the line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{where}:{exc.lineno}: not valid JSON: {exc.msg}"]) from None
    except RecursionError:
        raise ConfigError([f"{where}: nested deeper than {max_depth} levels"]) from None
    check_tree(value, where, max_depth)
    return value


def read_json(path: Path, max_bytes: int = MAX_BYTES) -> Any:
    """A user's JSON file: a regular file, at most `max_bytes`, bounded in depth."""
    return parse_json(read_text(path, max_bytes), str(path))


def read_yaml(path: Path, max_bytes: int = MAX_BYTES) -> Any:
    """A user's single-document YAML file as plain data (PyYAML's safe loader), bounded as
    `check_tree` bounds it; ConfigError `file:line: invalid YAML` otherwise."""
    import yaml  # PyYAML: only the commands that read such a file pay for it

    text = read_text(path, max_bytes)
    try:
        value = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError([f"{path}: nested deeper than {MAX_DEPTH} levels"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError([f"{where}: invalid YAML"]) from None
    check_tree(value, str(path))
    return value


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """`repr(value)` for an error line, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text)} characters)"


def write_files(folder: Path, files: Mapping[str, str]) -> list[Path]:
    """Write every file, or none: each is staged under a temporary name first, then all are
    swapped into place together (`swap_in`); no temporary file is left either way."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError([f"{folder}: exists and is not a directory"]) from None
    except OSError as exc:
        raise ConfigError([f"{folder}: cannot create: {exc.strerror}"]) from None
    for name in files:
        if (folder / name).is_dir():
            raise ConfigError([f"{folder / name}: is a directory; nothing was written"])
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in files.items():
            staged.append((_stage(folder, name, text), folder / name))
        swap_in(staged)
    except OSError as exc:
        raise ConfigError(
            [f"{folder}: cannot write: {exc.strerror}; nothing was written"]
        ) from None
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [final for _, final in staged]


def _stage(folder: Path, name: str, text: str) -> Path:
    import tempfile  # writing commands only: `--help` does not pay for it

    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(tmp)


def swap_in(moves: Sequence[tuple[Path, Path]], removes: Sequence[Path] = ()) -> None:
    """Rename each staged file over its target (making missing folders) and delete `removes`,
    all or nothing: on an error or an interrupt part-way, every target gets its old content
    back (kept aside as a hard link until the end), and new files and folders go again."""
    done: list[tuple[Path, Path | None]] = []  # each target, and its old content kept aside
    made: list[Path] = []
    try:
        for staged, target in moves:
            _make_folders(target.parent, made)
            done.append((target, _keep_aside(target, os.link)))
            staged.replace(target)
        for target in removes:
            if target.exists():
                done.append((target, _keep_aside(target, os.rename)))
    except BaseException:
        for target, old in reversed(done):
            if old is not None:
                old.replace(target)
            else:
                target.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    finally:
        for _, old in done:
            if old is not None:
                old.unlink(missing_ok=True)


def _keep_aside(target: Path, how: Callable[[Path, Path], None]) -> Path | None:
    """`target`'s current content under a hidden name beside it (None when there is none)."""
    if not target.exists():
        return None
    aside = target.with_name(f".{target.name}.{os.getpid()}.old")
    aside.unlink(missing_ok=True)
    how(target, aside)
    return aside


def _make_folders(folder: Path, made: list[Path]) -> None:
    """Create `folder` and its missing parents, outermost first, each noted in `made`."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir()
        made.append(new)
