"""A private ssh-agent holding the one key freetier logs in with.

The images' sudo authenticates against the key in the forwarded agent (pam_ssh_agent_auth,
images/base/files/etc/pam.d/sudo), so the key must sit in an agent that the sessions forward:
an `ssh-agent` of our own on a socket in a private temporary folder, fed by `ssh-add -` on
stdin (the key never touches argv or another file), killed at the end.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from freetier.command import Command, run
from freetier.errors import ConfigError, ToolError

_PID = re.compile(r"SSH_AGENT_PID=(\d+)")


@dataclass(frozen=True)
class Agent:
    socket: str
    pid: int
    folder: tempfile.TemporaryDirectory[str] = field(repr=False)
    key: asyncssh.SSHKey = field(repr=False)

    def stop(self) -> None:
        env = {"SSH_AGENT_PID": str(self.pid), "SSH_AUTH_SOCK": self.socket}
        try:
            run(Command(("ssh-agent", "-k"), env=env, timeout=10))
        finally:
            self.folder.cleanup()


def start_agent(key_file: Path) -> Agent:
    """An agent with the private key of `key_file` loaded (ConfigError when it is none)."""
    from freetier.files import read_text

    key = read_text(key_file)
    try:
        private = asyncssh.import_private_key(key)
    except (ValueError, asyncssh.KeyImportError):
        raise ConfigError([f"{key_file}: not an unencrypted OpenSSH or PEM private key"]) from None
    folder = tempfile.TemporaryDirectory(prefix="freetier-agent-")
    socket = str(Path(folder.name, "agent.sock"))
    try:
        out = run(Command(("ssh-agent", "-s", "-a", socket), timeout=10))
    except ToolError:
        folder.cleanup()
        raise
    match = _PID.search(out.stdout)
    if match is None:
        folder.cleanup()
        raise ToolError(f"ssh-agent: no SSH_AGENT_PID in its output: {out.stdout[:200]!r}")
    agent = Agent(socket, int(match.group(1)), folder, private)
    try:
        run(
            Command(
                ("ssh-add", "-q", "-"),
                env={"SSH_AUTH_SOCK": socket, "SSH_ASKPASS_REQUIRE": "never"},
                stdin=key.encode(),
                secrets=(key,),
                timeout=10,
            )
        )
    except ToolError:
        agent.stop()
        raise ConfigError(
            [f"{key_file}: ssh-add refused the key (a passphrase, or not a key)"]
        ) from None
    return agent
