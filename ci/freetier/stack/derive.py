"""Figures every stage reads off a Stack: pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from freetier.stack.model import Stack, is_a1


@dataclass(frozen=True)
class Totals:
    a1_instances: int
    a1_ocpus: float
    a1_memory_gb: int
    micro_instances: int
    boot_volume_gb: int


def stack_totals(stack: Stack) -> Totals:
    a1 = [i for i in stack.instances if is_a1(i.shape)]
    micros = sum(i.shape == "VM.Standard.E2.1.Micro" for i in stack.instances)
    bastion = 1 if stack.bastion.enabled else 0
    return Totals(
        a1_instances=len(a1),
        a1_ocpus=sum(i.ocpus or 0 for i in a1),
        a1_memory_gb=sum(i.memory_gb or 0 for i in a1),
        micro_instances=micros + bastion,
        boot_volume_gb=sum(i.boot_volume_gb for i in stack.instances)
        + (stack.bastion.boot_volume_gb if bastion else 0),
    )


def describe_stack(stack: Stack) -> str:
    """One line for reports: what the stack asks OCI for."""
    t = stack_totals(stack)
    parts = [
        f"topology {stack.topology}",
        f"{t.a1_instances} x A1 ({t.a1_ocpus:g} OCPU, {t.a1_memory_gb} GB)",
        f"{t.micro_instances} x E2.1.Micro",
        f"{t.boot_volume_gb} GB boot volumes",
    ]
    if stack.proxmox is not None:
        parts.append(
            f"{len(stack.proxmox.hosts)} Proxmox hosts, {len(stack.proxmox.talos_vms)} Talos VMs"
        )
    return ", ".join(parts)
