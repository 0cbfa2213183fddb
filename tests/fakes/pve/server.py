"""Real SSH servers (asyncssh) for the simulated hosts, each on its own loopback address
(127.0.0.2, .3, ...), on one event loop in a background thread.

Login: the test key only, as the image user; root is refused (the images' PermitRootLogin
no). `sudo --` runs as root only when the session forwards an agent holding the user's key,
as pam_ssh_agent_auth on the images checks (images/base/files/etc/pam.d/sudo)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from tests.fakes.pve import commands
from tests.fakes.pve.state import PVE_PACKAGES, Cluster, Disk, SimHost

USER = "debian"


@dataclass
class Simulator:
    cluster: Cluster
    client_key: asyncssh.SSHKey
    host_keys: dict[str, asyncssh.SSHKey] = field(default_factory=dict)
    scale: float = 1.0  # multiplies every command time
    _loop: asyncio.AbstractEventLoop | None = None
    _servers: dict[str, Any] = field(default_factory=dict)
    _conns: dict[str, list[asyncssh.SSHServerConnection]] = field(default_factory=dict)

    # --- lifecycle (test thread) ----------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        for host in self.cluster.hosts.values():
            self.call(self._listen(host))

    def stop(self) -> None:
        if self._loop is None:
            return
        for name in list(self._servers):
            self.call(self._close(name))
        self._loop.call_soon_threadsafe(self._loop.stop)

    def call(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def drop(self, name: str) -> None:
        """The host goes away: its connections are cut and it stops answering."""
        self.call(self._drop(name))

    def revive(self, name: str) -> None:
        self.cluster.hosts[name].reachable = True
        self.call(self._listen(self.cluster.hosts[name]))

    def replace_host_key(self, name: str) -> None:
        self.call(self._close(name))
        self.host_keys[name] = asyncssh.generate_private_key("ssh-ed25519")
        self.call(self._listen(self.cluster.hosts[name]))

    def changes(self) -> list[tuple[str, str]]:
        """The logged commands that are not readings."""
        return [(h, c) for h, c in self.cluster.log if _changes(c)]

    # --- the loop's side -------------------------------------------------------------
    async def _listen(self, host: SimHost) -> None:
        key = self.host_keys.setdefault(host.name, asyncssh.generate_private_key("ssh-ed25519"))
        sim = self

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                sim._conns.setdefault(host.name, []).append(conn)

            def begin_auth(self, username: str) -> bool:
                return True

            def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
                return False

        authorized = asyncssh.import_authorized_keys(
            self.client_key.export_public_key("openssh").decode()
        )

        async def handle(process: asyncssh.SSHServerProcess[str]) -> None:
            await sim._handle(host, process)

        server = await asyncssh.create_server(
            Server,
            host.address,
            host.port,
            server_host_keys=[key],
            authorized_client_keys=authorized,
            agent_forwarding=True,
            process_factory=handle,
            encoding="utf-8",
        )
        if host.port == 0:
            host.port = server.sockets[0].getsockname()[1]
        self._servers[host.name] = server

    async def _close(self, name: str) -> None:
        server = self._servers.pop(name, None)
        if server is not None:
            server.close()
        for conn in self._conns.pop(name, []):
            conn.abort()

    async def _drop(self, name: str) -> None:
        self.cluster.hosts[name].reachable = False
        await self._close(name)

    async def _handle(self, host: SimHost, process: asyncssh.SSHServerProcess[str]) -> None:
        conn = process.channel.get_connection()
        if conn.get_extra_info("username") != USER:
            process.exit(255)
            return
        words, sudo = commands.split(process.command or "")
        stdin = await process.stdin.read() if _wants_stdin(words) else ""
        root = sudo and await _agent_holds(conn, self.client_key)
        if sudo and not root:
            process.stderr.write("sudo: a password is required\n")
            process.exit(1)
            return
        key = commands.command_key(words)
        line = " ".join(words)
        self.cluster.log.append((host.name, line))
        if self.cluster.drop_on.get(host.name) and line.startswith(self.cluster.drop_on[host.name]):
            del self.cluster.drop_on[host.name]
            await self._drop(host.name)
            return
        await asyncio.sleep(self.cluster.times.get(key, 0.0) * self.scale)
        if key in self.cluster.fail_once:
            self.cluster.fail_once.discard(key)
            process.stderr.write(f"{key}: simulated failure (once)\n")
            process.exit(1)
            return
        out, err, code = commands.run(self.cluster, host, words, stdin, root)
        hook = self.cluster.hooks.pop(line, None)
        if hook is not None:
            hook()
        process.stdout.write(out)
        process.stderr.write(err)
        process.exit(code)


def _wants_stdin(words: list[str]) -> bool:
    return words[:2] in (["pvecm", "add"], ["pveceph", "install"]) or words[:1] in (
        ["chpasswd"],
        ["install"],
    )


async def _agent_holds(conn: asyncssh.SSHServerConnection, key: asyncssh.SSHKey) -> bool:
    path = conn.get_agent_path()
    if path is None:
        return False
    try:
        async with asyncssh.connect_agent(path) as agent:
            keys = await agent.get_keys()
    except (OSError, asyncssh.Error):
        return False
    return any(k.public_data == key.public_data for k in keys)


READS = (
    "pvesh get",
    "corosync-quorumtool",
    "ceph ",
    "ceph-volume",
    "lsblk",
    "hostname",
    "cat ",
    "uname",
    "test ",
    "date",
    "dpkg-query",
    "true",
    "pveam list",
    "pveam available",
)


def _changes(command: str) -> bool:
    return not command.startswith(READS) and " tailscale status" not in command


def make_hosts(count: int, *, disks: bool = True, first_address: int = 2) -> dict[str, SimHost]:
    hosts = {}
    for i in range(count):
        name = f"pve-{i + 1}"
        hosts[name] = SimHost(
            name,
            f"127.0.0.{first_address + i}",
            disks={
                "/dev/sda": Disk("/dev/sda", children=["/dev/sda1", "/dev/sda2"]),
                **({"/dev/sdb": Disk("/dev/sdb")} if disks else {}),
            },
            packages=dict(PVE_PACKAGES),
        )
    return hosts


@contextmanager
def simulate(
    cluster: Cluster, client_key: asyncssh.SSHKey, scale: float = 1.0
) -> Iterator[Simulator]:
    sim = Simulator(cluster, client_key, scale=scale)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
