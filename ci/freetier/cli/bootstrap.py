"""`freetier bootstrap`: Flux, the sops-age Secret and the sync on the cluster the talos layer
made, then the wait until it reconciles."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from freetier.cli.common import SubParsers, add_backend, add_format, add_stack, minutes, print_json

if TYPE_CHECKING:
    from freetier.bootstrap.run import Outcome

DEFAULT_DEADLINE_MINUTES = 20.0

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "bootstrap": "install Flux, the sops-age Secret and the sync; wait until Flux reconciles",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    boot = sub.add_parser(
        "bootstrap",
        help=COMMANDS["bootstrap"],
        description="After the talos layer: server-side apply Flux's release manifests "
        "(install.yaml of versions.flux, used only when its SHA-256 is the pinned one), "
        "create the sops-age Secret in flux-system from the age identity (secrets/age.agekey, "
        "or $FREETIER_AGE_KEY), apply the sync of clusters/<stack name> of flux.repo_url on "
        "flux.branch (exactly the tree's gotk-sync.yaml), then wait, with a line of progress "
        "per step, for the nodes, the Cilium agents, Ready nodes, Flux's controllers, the "
        "GitRepository and every Kustomization and HelmRelease (kstatus). Idempotent: a second "
        "run on a healthy cluster changes nothing and says so. Exit 1 naming the object and "
        "its message when one is Stalled or the deadline passes; exit 2 for missing inputs "
        "or a kubeconfig that does not reach the cluster.",
    )
    boot.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="a kubeconfig to use (default: the talos layer's, read from its state)",
    )
    boot.add_argument(
        "--repo",
        metavar="OWNER/NAME",
        help="the GitHub repository being deployed: stack.yaml's flux.repo_url must be it",
    )
    boot.add_argument(
        "--deadline",
        type=minutes,
        default=DEFAULT_DEADLINE_MINUTES,
        metavar="MINUTES",
        help=f"give up waiting after this many minutes (default {DEFAULT_DEADLINE_MINUTES:g})",
    )
    boot.add_argument(
        "--interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how often to look again while waiting (default 5)",
    )
    boot.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be created or changed (server-side dry run); write nothing, "
        "do not wait",
    )
    boot.add_argument(
        "--flux-releases",
        metavar="URL",
        help="where Flux's release assets are downloaded from, e.g. a mirror (default: "
        "GitHub releases of fluxcd/flux2); the checksum stays pinned",
    )
    boot.add_argument(
        "--cache",
        type=Path,
        default=Path("out/cache"),
        metavar="DIR",
        help="where the downloaded install.yaml is kept (default: out/cache)",
    )
    add_stack(boot)
    add_backend(
        boot,
        config_help="settings of the S3-compatible state backend: the talos layer's state is "
        "read for the kubeconfig (see tofu/oci/README.md)",
        no_backend_help="read tofu/talos's local state",
    )
    add_format(boot)
    boot.set_defaults(handler=cmd_bootstrap)


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from freetier.bootstrap.run import Options, bootstrap
    from freetier.cli.common import progress
    from freetier.cluster.kubeconfig import read_access, read_kubeconfig_file
    from freetier.stack import load_stack

    stack = load_stack(args.stack)
    if args.kubeconfig is not None:
        access = read_kubeconfig_file(args.kubeconfig)
    else:
        access = read_access(
            args.stack, backend=not args.no_backend, backend_config=args.backend_config
        )
    options = Options(
        repo=args.repo,
        deadline_s=args.deadline * 60,
        interval_s=max(args.interval, 0.01),
        dry_run=args.dry_run,
        cache=args.cache,
        **({"flux_releases": args.flux_releases} if args.flux_releases else {}),
    )
    outcome = bootstrap(stack, args.stack.parent, access, options, progress("bootstrap"))
    if args.format == "json":
        print_json(outcome.as_json())
        return 0
    _print_text(outcome)
    return 0


def _print_text(outcome: Outcome) -> None:
    sync = outcome.sync
    counts: dict[str, int] = {}
    for item in outcome.applied:
        counts[item.action] = counts.get(item.action, 0) + 1
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    head = "dry run: " if outcome.dry_run else ""
    print(f"{head}Flux {outcome.flux_version} (install.yaml sha256 {outcome.install_sha256})")
    print(f"{head}sync: {sync['url']} on {sync['branch']}, path {sync['path']}")
    if outcome.dry_run:
        for item in outcome.applied:
            if item.action != "unchanged":
                print(f"would {item.action.removesuffix('d')} {item.object}")
        print(
            f"would apply {len(outcome.applied)} objects ({summary}); Secret sops-age: "
            f"{outcome.sops_action}" + ("" if outcome.sops_action == "unchanged" else " (would be)")
        )
        return
    if not outcome.changed:
        print(
            f"nothing changed: all {len(outcome.applied)} objects and the sops-age Secret "
            "were already in place"
        )
    else:
        secret = outcome.sops_action
        print(f"applied {len(outcome.applied)} objects ({summary}); Secret sops-age: {secret}")
    for step, result in outcome.steps:
        print(f"ready: {step}: {result}")
