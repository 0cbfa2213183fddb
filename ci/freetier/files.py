"""Reading a user's file and writing files, safely: one clear error line for every way it can
fail, and never a half-written set."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from freetier.errors import ConfigError

MAX_BYTES = 1 << 20


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """UTF-8 text of a regular file, with a clear error for every way that can fail."""
    try:
        if path.is_dir():
            raise ConfigError([f"{path}: is a directory, expected a YAML file"])
        with path.open("rb") as handle:
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


def write_files(folder: Path, files: Mapping[str, str]) -> list[Path]:
    """Write every file to a temporary name first, then rename them all into place."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError([f"{folder}: exists and is not a directory"]) from None
    except OSError as exc:
        raise ConfigError([f"{folder}: cannot create: {exc.strerror}"]) from None
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            staged.append((tmp, folder / name))
    except OSError as exc:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise ConfigError([f"{folder}: cannot write: {exc.strerror}"]) from None
    for tmp, final in staged:
        Path(tmp).replace(final)
    return [final for _, final in staged]
