"""`freetier proxmox bootstrap` from the stack file: the inventory (with the oci layer's
outputs where hosts are OCI instances), the agent, the known hosts, the run, the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from freetier.errors import ConfigError
from freetier.proxmox.bootstrap import Options, addresses_from_outputs, bootstrap, known_hosts_file
from freetier.proxmox.context import Waits
from freetier.pve.inventory import Inventory, build_inventory, select_hosts
from freetier.pve.report import Record, exit_code, render_text, report_json
from freetier.ssh import KnownHosts, start_agent
from freetier.stack import Stack, load_stack


@dataclass(frozen=True)
class BootstrapResult:
    records: tuple[Record, ...]
    dry_run: bool

    @property
    def exit_code(self) -> int:
        return exit_code(self.records)

    @property
    def text(self) -> str:
        return render_text(self.records, dry_run=self.dry_run)

    @property
    def json(self) -> dict[str, Any]:
        return report_json(self.records, dry_run=self.dry_run)


def run_bootstrap(
    stack_file: Path,
    *,
    ssh_key: Path | None,
    host_names: list[str],
    dry_run: bool,
    tailscale_key: str | None,
    health_wait: float,
    quorum_wait: float,
    backend: bool,
    backend_config: Path | None,
    say: Callable[[str], None],
) -> BootstrapResult:
    """Every bad input (exit 2) is found before the first connection."""
    stack = load_stack(stack_file)
    if ssh_key is None:
        raise ConfigError(["--ssh-key: required: the private key of the hosts' image user"])
    if not ssh_key.is_file():
        raise ConfigError([f"--ssh-key {ssh_key}: no such file"])
    inventory = build_inventory(stack, _addresses(stack, stack_file, backend, backend_config))
    hosts = select_hosts(inventory, host_names)
    known = KnownHosts.read(known_hosts_file(stack_file))
    options = Options(
        dry_run=dry_run,
        waits=Waits(quorum=quorum_wait, health=health_wait, poll=min(2.0, quorum_wait / 10)),
        tailscale_key=tailscale_key,
        hosts=hosts,
    )
    agent = start_agent(ssh_key)
    try:
        records = anyio.run(
            bootstrap, inventory, stack.images.debian_suite, known, agent, options, say
        )
    finally:
        agent.stop()
    return BootstrapResult(tuple(records), dry_run)


def needs_oci_outputs(stack: Stack) -> bool:
    """Whether a host (or the QDevice on the bastion) is an OCI instance, so that the
    inventory needs the oci layer's outputs."""
    pve = stack.proxmox
    return pve is not None and (
        any(h.instance is not None for h in pve.hosts) or len(pve.hosts) % 2 == 0
    )


def _addresses(
    stack: Stack, stack_file: Path, backend: bool, backend_config: Path | None
) -> dict[str, tuple[str, str]]:
    """The oci layer's instance addresses, read only when a host (or the QDevice on the
    bastion) is an OCI instance."""
    if not needs_oci_outputs(stack):
        return {}
    from freetier.tofu import run as tofu_run
    from freetier.tofu.inputs import read_outputs

    if backend and backend_config is None:
        raise ConfigError(
            ["--backend-config: needed to read the oci layer's outputs (or --no-backend)"]
        )
    outputs = read_outputs(
        stack_file,
        "oci",
        backend=backend,
        backend_config=backend_config,
        tofu=tofu_run.Tofu.find(),
    )
    return addresses_from_outputs(outputs)


__all__ = ["BootstrapResult", "Inventory", "needs_oci_outputs", "run_bootstrap"]
