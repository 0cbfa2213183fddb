"""One SSH connection per host, commands as argv (quoted once, here), sudo through the
forwarded agent, secrets only on stdin, every failure one RemoteError naming the host."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
import asyncssh

from freetier.errors import ConfigError, RemoteError
from freetier.masking import Masking
from freetier.ssh.agent import Agent
from freetier.ssh.known_hosts import KnownHosts, host_pattern

CONNECT_TIMEOUT = 20.0


@dataclass(frozen=True)
class Endpoint:
    name: str
    address: str
    port: int
    user: str

    @property
    def where(self) -> str:
        return f"{self.name} ({self.address}:{self.port})"


@dataclass(frozen=True)
class Output:
    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def tail(self, lines: int = 5) -> str:
        """The last lines of stderr (else stdout): what a report quotes."""
        text = (self.stderr or self.stdout).strip().splitlines()
        return " / ".join(text[-lines:])


@dataclass
class Session:
    endpoint: Endpoint
    conn: asyncssh.SSHClientConnection
    secrets: tuple[str, ...] = field(default=(), repr=False)

    async def run(
        self,
        argv: Sequence[str],
        *,
        sudo: bool = True,
        stdin: str | None = None,
        timeout: float = 600.0,
        secrets: Sequence[str] = (),
    ) -> Output:
        """Run `argv` (as root through sudo by default). Output is masked for `secrets` and
        the session's own; a lost connection or a timeout is a RemoteError naming the host."""
        words = ("sudo", "--", *argv) if sudo else tuple(argv)
        masking = Masking.of((*self.secrets, *secrets))
        try:
            done = await self.conn.run(shlex.join(words), input=stdin, timeout=timeout)
        except asyncssh.TimeoutError:
            raise RemoteError(
                f"{self.endpoint.where}: `{masking.text(shlex.join(argv))}` timed out after "
                f"{timeout:g}s"
            ) from None
        except (OSError, asyncssh.Error) as exc:
            raise RemoteError(
                f"{self.endpoint.where}: connection lost running "
                f"`{masking.text(shlex.join(argv))}`: {_reason(exc)}"
            ) from None
        if done.exit_status is None and done.exit_signal is None:  # the channel just closed
            raise RemoteError(
                f"{self.endpoint.where}: connection lost running "
                f"`{masking.text(shlex.join(argv))}`: no exit status"
            )
        code = done.exit_status if done.exit_status is not None else 255
        return Output(
            tuple(argv), code, masking.text(_text(done.stdout)), masking.text(_text(done.stderr))
        )

    async def close(self) -> None:
        self.conn.close()
        await self.conn.wait_closed()


async def connect(
    endpoint: Endpoint,
    known: KnownHosts,
    agent: Agent,
    *,
    timeout: float = CONNECT_TIMEOUT,
) -> tuple[Session, str | None]:
    """A session to `endpoint`, its host key checked against `known`; a host with no pinned
    key is pinned first (trust on first use: the new known_hosts line is returned, and
    `known.save()` writes it). A changed key is a ConfigError (exit 2)."""
    new_line = None
    if not known.pinned(endpoint.address, endpoint.port):
        try:
            with anyio.fail_after(timeout):
                key = await asyncssh.get_server_host_key(
                    endpoint.address, endpoint.port, config=None
                )
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise RemoteError(f"{endpoint.where}: unreachable: {_reason(exc)}") from None
        if key is None:
            raise RemoteError(f"{endpoint.where}: presented no host key")
        new_line = known.pin(endpoint.address, endpoint.port, key)
    try:
        conn = await asyncssh.connect(
            endpoint.address,
            endpoint.port,
            username=endpoint.user,
            known_hosts=known.matcher(endpoint.address, endpoint.port),
            agent_path=agent.socket,
            agent_forwarding=True,
            client_keys=[agent.key],
            config=None,
            connect_timeout=timeout,
        )
    except asyncssh.HostKeyNotVerifiable:
        raise ConfigError(
            [
                f"{known.path}: {endpoint.where}: the host key changed since it was pinned "
                f"({host_pattern(endpoint.address, endpoint.port)}); check the host, then "
                "delete its line to pin the new key"
            ]
        ) from None
    except asyncssh.PermissionDenied:
        raise RemoteError(
            f"{endpoint.where}: the key was refused for user {endpoint.user!r}"
        ) from None
    except (OSError, asyncssh.Error) as exc:
        raise RemoteError(f"{endpoint.where}: unreachable: {_reason(exc)}") from None
    return Session(endpoint, conn), new_line


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _text(data: object) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return "" if data is None else str(data)
