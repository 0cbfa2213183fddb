"""`freetier deploy`: on main, apply every layer exactly as its merged pull request reviewed
it."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from freetier.cli.common import SubParsers, add_backend, add_stack
from freetier.cli.plans import registered
from freetier.cli.proxmox import HEALTH_WAIT_MIN, QUORUM_WAIT_MIN, TAILSCALE_ENV

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "deploy": "on main: apply every layer exactly as its merged pull request reviewed it",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    dep = sub.add_parser(
        "deploy",
        help=COMMANDS["deploy"],
        description="Find the merged pull request of --sha, read the plan fingerprints that "
        "the workflow's own comment on it and the check runs of its head commit carry (they must "
        "agree; anyone else's comment is ignored), and for each layer in order plan again and "
        "apply only an identical plan. A refusal stops later layers and is posted to the pull "
        "request.",
    )
    dep.add_argument("--repo", required=True, metavar="OWNER/NAME")
    dep.add_argument("--sha", required=True, help="the commit on main being deployed")
    add_stack(dep)
    dep.add_argument("--out", type=Path, default=Path("out/deploy"))
    add_backend(dep)
    dep.add_argument(
        "--proxmox-ssh-key",
        type=Path,
        metavar="FILE",
        help="proxmox topology (required there): the hosts' image user key; the proxmox "
        "layer's bootstrap runs between oci and talos, and a failed step stops before talos "
        f"(the Tailscale auth key is read from ${TAILSCALE_ENV})",
    )
    dep.set_defaults(handler=cmd_deploy)


def cmd_deploy(args: argparse.Namespace) -> int:
    from functools import partial

    from freetier.errors import ConfigError
    from freetier.github.names import repo_problem, require, sha_problem
    from freetier.review.deploy import deploy
    from freetier.stack import load_stack

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    require(repo_problem(args.repo), sha_problem(args.sha))
    stack = load_stack(args.stack)
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise ConfigError(
            ["GITHUB_TOKEN: not set; deploy reads the reviewed plan from the merged pull request"]
        )
    bootstrap = None
    if stack.topology == "proxmox":
        key = args.proxmox_ssh_key
        if key is None or not key.is_file():
            why = "required on the proxmox topology" if key is None else f"{key}: no such file"
            raise ConfigError([f"--proxmox-ssh-key: {why}"])
        from freetier.proxmox.run import run_bootstrap  # asyncssh: only where it is needed

        bootstrap = partial(
            run_bootstrap,
            args.stack,
            ssh_key=key,
            host_names=[],
            dry_run=False,
            tailscale_key=os.environ.get(TAILSCALE_ENV) or None,
            health_wait=HEALTH_WAIT_MIN * 60,  # freetier proxmox bootstrap's defaults
            quorum_wait=QUORUM_WAIT_MIN * 60,
            backend=not args.no_backend,
            backend_config=args.backend_config,
            say=lambda line: say(f"proxmox: {line}"),
        )
    applied = deploy(
        stack,
        args.stack,
        repo=args.repo,
        sha=args.sha,
        token=token,
        out=args.out,
        secrets=registered(),
        backend=not args.no_backend,
        backend_config=args.backend_config,
        progress=say,
        bootstrap=bootstrap,
    )
    print(
        f"deployed {len(applied)} layer(s): "
        + (", ".join(f"{a.layer} ({a.how})" for a in applied) or "none")
    )
    return 0
