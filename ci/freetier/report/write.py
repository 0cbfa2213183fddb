"""Write several files so a reader never sees a half-written set."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from freetier.errors import ConfigError


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
