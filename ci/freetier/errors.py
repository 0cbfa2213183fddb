"""The one error tree: the CLI catches `FreetierError` and maps it to an exit code."""

from __future__ import annotations

from collections.abc import Sequence


class FreetierError(Exception):
    """Root of every error the toolkit raises on purpose."""

    exit_code = 1


class ConfigError(FreetierError):
    """Bad input: a file, a field or an argument the user can fix. Exit code 2."""

    exit_code = 2

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class ToolError(FreetierError):
    """An external tool is missing (exit 2) or failed (exit 1)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        self.missing = missing
        self.exit_code = 2 if missing else 1
        super().__init__(message)


class RemoteError(FreetierError):
    """A remote API (OCI, GitHub, SSH host) refused or failed."""
