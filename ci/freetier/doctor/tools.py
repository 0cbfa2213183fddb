"""The external tools each stage drives: how to find them and read their version."""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("images", "oci", "proxmox", "talos", "flux", "secrets", "pr", "dagger")


@dataclass(frozen=True)
class Tool:
    """One tool a stage needs; `names` are alternatives tried in order (tofu before terraform)."""

    key: str
    names: tuple[str, ...]
    version_args: tuple[str, ...]
    version_pattern: str
    stages: tuple[str, ...]
    purpose: str
    min_version: tuple[int, ...] = ()


TOOLS: tuple[Tool, ...] = (
    Tool(
        key="tofu",
        names=("tofu", "terraform"),
        version_args=("version",),
        version_pattern=r"(?:OpenTofu|Terraform) v(\d+\.\d+\.\d+)",
        stages=("oci", "talos", "pr"),
        purpose="plans and applies the tofu/ layers (terraform accepted in tofu's place)",
        min_version=(1, 6, 0),
    ),
    Tool(
        key="sops",
        names=("sops",),
        version_args=("--version", "--disable-version-check"),
        version_pattern=r"sops (\d+\.\d+\.\d+)",
        stages=("secrets", "flux", "talos"),
        purpose="encrypts and decrypts the Flux tree's secrets with age",
        min_version=(3, 8, 0),
    ),
    Tool(
        key="kubectl",
        names=("kubectl",),
        version_args=("version", "--client"),
        version_pattern=r"Kustomize Version: v(\d+\.\d+\.\d+)",
        stages=("flux",),
        purpose="builds Flux Kustomizations (kubectl kustomize; the version is kustomize's)",
        min_version=(5, 0, 0),
    ),
    Tool(
        key="ssh",
        names=("ssh",),
        version_args=("-V",),
        version_pattern=r"OpenSSH_(\d+\.\d+)",
        stages=("proxmox",),
        purpose="bootstraps Proxmox VE and Ceph on the hosts",
    ),
    Tool(
        key="mmdebstrap",
        names=("mmdebstrap",),
        version_args=("--version",),
        version_pattern=r"mmdebstrap (\d+\.\d+\.\d+)",
        stages=("images",),
        purpose="builds the Debian root filesystems of the VM images",
    ),
    Tool(
        key="qemu-img",
        names=("qemu-img",),
        version_args=("--version",),
        version_pattern=r"qemu-img version (\d+\.\d+\.\d+)",
        stages=("images",),
        purpose="converts and compresses disk images to qcow2",
    ),
    Tool(
        key="git",
        names=("git",),
        version_args=("--version",),
        version_pattern=r"git version (\d+\.\d+\.\d+)",
        stages=("pr",),
        purpose="names the base and head commits a plan was made from",
    ),
    Tool(
        key="dagger",
        names=("dagger",),
        version_args=("version",),
        version_pattern=r"dagger v(\d+\.\d+\.\d+)",
        stages=("dagger",),
        purpose="runs the same commands in pinned containers (`dagger call ...`)",
    ),
)
