"""`freetier talos config`: the Talos machine-config patches each node gets.

`register(sub)` adds the `talos` group and returns its subparsers; each command has its own
`_add_*` function here, so another command (`talos kubeconfig`) is one more function and one
more line in `register`.
"""

from __future__ import annotations

import argparse
import sys

from freetier.cli.common import SubParsers, add_format, add_stack, print_json

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "talos": "the Talos machine configuration of the nodes",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> SubParsers[argparse.ArgumentParser]:
    talos = sub.add_parser(
        "talos",
        help=COMMANDS["talos"],
        description="Talos Linux on the nodes: the machine configuration derived from the stack.",
    )
    talos_sub = talos.add_subparsers(title="commands", metavar="COMMAND")
    _add_config(talos_sub)
    return talos_sub


def _add_config(talos_sub: SubParsers[argparse.ArgumentParser]) -> None:
    config = talos_sub.add_parser(
        "config",
        help="print the config patches of each node",
        description="Print the Talos machine-config patches of each node, exactly the "
        "documents the tofu/talos layer hands to the provider's config_patches, in order: "
        "cluster network and KubePrism, install disk, names and labels, kubelet node IP, time, "
        "the Tailscale extension service and the ingress firewall. The Tailscale auth key "
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
