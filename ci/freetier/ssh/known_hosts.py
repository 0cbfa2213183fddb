"""The pinned host keys: an OpenSSH known_hosts file kept in the repository beside the stack.

A host with no line yet is trusted on first use: its key is fetched once and written here, so
the file's history in git shows when each key was first seen. A host whose key differs from
its line is refused (ConfigError, exit 2) before anything runs on it; checking is never off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from freetier.errors import ConfigError
from freetier.files import read_text

HEADER = (
    "# Host keys of the Proxmox hosts, pinned by `freetier proxmox bootstrap` on first contact.\n"
    "# A key that changes is refused: check the host, then delete its line to pin it again.\n"
)


def host_pattern(address: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: `address`, or `[address]:port` off port 22."""
    return address if port == 22 else f"[{address}]:{port}"


@dataclass
class KnownHosts:
    """The file and the lines it holds; `pin` adds a line (written by `save`)."""

    path: Path
    lines: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> KnownHosts:
        if not path.exists():
            return cls(path)
        text = read_text(path)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        for number, line in enumerate(lines, 1):
            if len(line.split()) < 3:
                raise ConfigError([f"{path}: entry {number}: expected `host keytype key`"])
        try:
            asyncssh.import_known_hosts("\n".join(lines) + "\n")
        except (ValueError, asyncssh.KeyImportError) as exc:
            raise ConfigError([f"{path}: not a known_hosts file: {exc}"]) from None
        return cls(path, lines)

    def pinned(self, address: str, port: int) -> list[str]:
        pattern = host_pattern(address, port)
        return [ln for ln in self.lines if pattern in ln.split()[0].split(",")]

    def matcher(self, address: str, port: int) -> asyncssh.SSHKnownHosts:
        return asyncssh.import_known_hosts("\n".join(self.pinned(address, port)) + "\n")

    def pin(self, address: str, port: int, key: asyncssh.SSHKey) -> str:
        public = key.export_public_key("openssh").decode("ascii").split()
        line = f"{host_pattern(address, port)} {public[0]} {public[1]}"
        self.lines.append(line)
        return line

    def save(self) -> None:
        from freetier.files import write_files

        write_files(self.path.parent, {self.path.name: HEADER + "\n".join(self.lines) + "\n"})
