"""`freetier talos config`, `talos kubeconfig` and `talos wait`: the Talos machine-config
patches each node gets, and the cluster the talos layer made.

`register(sub)` adds the `talos` group and returns its subparsers; each command has its own
`_add_*` function here, one line each in `register`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from freetier.cli.common import (
    SubParsers,
    add_backend,
    add_format,
    add_stack,
    minutes,
    print_json,
)

WARN_DAYS = 30
DEFAULT_WAIT_MINUTES = 15.0

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "talos": "the Talos nodes: config patches, kubeconfig, wait for the Kubernetes API",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> SubParsers[argparse.ArgumentParser]:
    talos = sub.add_parser(
        "talos",
        help=COMMANDS["talos"],
        description="Talos Linux on the nodes: the machine configuration derived from the stack.",
    )
    talos_sub = talos.add_subparsers(title="commands", metavar="COMMAND")
    _add_config(talos_sub)
    _add_kubeconfig(talos_sub)
    _add_wait(talos_sub)
    return talos_sub


def _add_config(talos_sub: SubParsers[argparse.ArgumentParser]) -> None:
    config = talos_sub.add_parser(
        "config",
        help="print the config patches of each node",
        description="Print the Talos machine-config patches of each node, exactly the "
        "documents the tofu/talos layer hands to the provider's config_patches, in order: "
        "cluster network and KubePrism, install disk, names and labels, kubelet node IP, time, "
        "the Tailscale extension service and the ingress firewall, written in the form of the "
        "pinned Talos line (v1alpha1 patches for 1.13, multi-document kinds for 1.14; other "
        "lines are refused). The Tailscale auth key "
        "appears only as the placeholder ${tailscale_authkey}. Writes nothing. Exit 2 for an "
        "unknown node or a stack that does not validate.",
    )
    config.add_argument("--node", metavar="NAME", help="one node only (default: every node)")
    add_format(config, choices=("yaml", "json"), help="output format (default: yaml)")
    config.set_defaults(format="yaml")
    add_stack(config)
    config.set_defaults(handler=cmd_talos_config)


def cmd_talos_config(args: argparse.Namespace) -> int:
    from freetier.stack import load_stack
    from freetier.talos.machine import node_names, node_patches

    stack = load_stack(args.stack)
    names = [args.node] if args.node else node_names(stack)
    patches = {name: node_patches(stack, name) for name in names}
    if args.format == "json":
        print_json(patches[args.node] if args.node else patches)
        return 0
    _print_yaml(patches, single=args.node is not None)
    return 0


def _print_yaml(patches: dict[str, list[dict[str, object]]], *, single: bool) -> None:
    """One YAML stream per node: its documents separated by `---`, as talosctl reads them.

    PyYAML writes YAML 1.1, so strings such as `off` come out quoted and no reader takes them
    for booleans.
    """
    import yaml

    for name, documents in patches.items():
        if not single:
            print(f"# node: {name}")
        sys.stdout.write(yaml.safe_dump_all(documents, explicit_start=True, sort_keys=False))


def _add_kubeconfig(talos_sub: SubParsers[argparse.ArgumentParser]) -> None:
    kube = talos_sub.add_parser(
        "kubeconfig",
        help="write the admin kubeconfig (0600) and say how long its certificate lasts",
        description="Read the admin kubeconfig from the talos layer's state (its sensitive "
        "output), write it to --out readable by you only (0600), and report how many days "
        "its client certificate has left. The kubeconfig is never printed.",
    )
    kube.add_argument(
        "--out", type=Path, default=Path("out/kubeconfig"), help="default: out/kubeconfig"
    )
    _cluster_args(kube)
    add_format(kube)
    kube.set_defaults(handler=cmd_kubeconfig)


def _add_wait(talos_sub: SubParsers[argparse.ArgumentParser]) -> None:
    wait = talos_sub.add_parser(
        "wait",
        help="wait until the Kubernetes API answers on every control plane",
        description="Poll each control plane (from the talos layer's outputs, with its "
        "kubeconfig) until /version answers, /readyz passes with its etcd check, and every "
        "Talos node of the stack is listed; exit 1 naming the node and the step at --deadline. "
        "`freetier apply --layer talos` and `freetier deploy` run it after applying.",
    )
    wait.add_argument(
        "--deadline",
        type=minutes,
        default=DEFAULT_WAIT_MINUTES,
        metavar="MINUTES",
        help=f"give up after this many minutes (default {DEFAULT_WAIT_MINUTES:g})",
    )
    _cluster_args(wait)
    wait.set_defaults(handler=cmd_wait)


def _cluster_args(parser: argparse.ArgumentParser) -> None:
    add_stack(parser)
    add_backend(
        parser,
        config_help="settings of the S3-compatible state backend: the talos layer's state is "
        "read (see tofu/oci/README.md)",
        no_backend_help="read tofu/talos's local state",
    )


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from freetier.cluster.kubeconfig import (
        client_certificate_expiry,
        days_left,
        read_access,
        write_kubeconfig,
    )

    access = read_access(
        args.stack, backend=not args.no_backend, backend_config=args.backend_config
    )
    expiry = client_certificate_expiry(access.kubeconfig)
    path = write_kubeconfig(access, args.out)
    left = days_left(expiry, datetime.now(UTC))
    if args.format == "json":
        print_json({"path": str(path), "expires": expiry.isoformat(), "days_left": left})
        return 0
    print(f"wrote {path} (mode 0600)")
    print(f"client certificate: {left} day(s) left, until {expiry:%Y-%m-%d %H:%M} UTC")
    if left < WARN_DAYS:
        print(f"warning: fewer than {WARN_DAYS} days left; renew the kubeconfig (tofu/talos)")
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    from freetier.cli.common import progress
    from freetier.cluster.run import wait_for_layer
    from freetier.stack import load_stack

    ready = wait_for_layer(
        load_stack(args.stack),
        args.stack,
        backend=not args.no_backend,
        backend_config=args.backend_config,
        deadline_s=args.deadline * 60,
        progress=progress("talos"),
    )
    for plane in ready:
        print(f"{plane.node}: Kubernetes {plane.version} ready at {plane.server}")
    return 0
