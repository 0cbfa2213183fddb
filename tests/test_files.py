"""files.write_files: all of a set, or none of it, whatever fails or interrupts it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.files import write_files

OLD = {"a.md": "old a\n", "b.json": "old b\n", "c.txt": "old c\n"}
NEW = {"a.md": "new a\n", "b.json": "new b\n", "c.txt": "new c\n", "d.txt": "new d\n"}


def _state(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def _failing_after(renames: int, error: BaseException) -> Callable[[Path, Path], Path]:
    """Path.replace that lets `renames` renames of staged files through, then raises."""
    real = Path.replace
    done = [0]

    def replace(self: Path, target: Path) -> Path:
        if self.name.endswith(".tmp"):
            if done[0] == renames:
                raise error
            done[0] += 1
        return real(self, target)

    return replace


@pytest.mark.parametrize("renames", range(len(NEW)))
@pytest.mark.parametrize(
    "error",
    [OSError(28, "No space left on device"), KeyboardInterrupt()],
    ids=["oserror", "ctrl-c"],
)
def test_a_failure_after_any_rename_leaves_the_old_set_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renames: int, error: BaseException
) -> None:
    write_files(tmp_path, OLD)
    monkeypatch.setattr(Path, "replace", _failing_after(renames, error))
    with pytest.raises((ConfigError, KeyboardInterrupt)):
        write_files(tmp_path, NEW)
    assert _state(tmp_path) == OLD  # no new file, no .tmp, no backup left


def test_a_target_that_is_a_directory_writes_nothing(tmp_path: Path) -> None:
    write_files(tmp_path, OLD)
    (tmp_path / "d.txt").mkdir()
    with pytest.raises(ConfigError, match=r"d\.txt: is a directory; nothing was written"):
        write_files(tmp_path, NEW)
    assert {p.name for p in tmp_path.iterdir()} == {*OLD, "d.txt"}
    assert all((tmp_path / n).read_text() == t for n, t in OLD.items())


def test_the_whole_set_lands(tmp_path: Path) -> None:
    write_files(tmp_path, OLD)
    assert write_files(tmp_path, NEW) == [tmp_path / n for n in NEW]
    assert _state(tmp_path) == NEW
