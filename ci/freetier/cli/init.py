"""`freetier init`: set a fork up, once, idempotently: the OCI config and home region,
stack.yaml, the SSH key, the age identity and encrypted Secrets, and the GitHub environments
and secrets the workflows read."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from freetier.cli.common import SubParsers, add_format, add_stack, print_json

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "init": "set a fork up: OCI config, stack.yaml, keys, secrets, GitHub environments",
}

EPILOG = """\
Secret values come from the environment (or hidden prompts on a terminal), never from the
command line: STATE_ACCESS_KEY, STATE_SECRET_KEY, TS_AUTH_KEY, TS_OAUTH_CLIENT_ID,
TS_OAUTH_SECRET, FREETIER_FINGERPRINT_KEY (else one is generated), GITHUB_TOKEN (with
--github), and FREETIER_SECRET_<SECRET>_<KEY> for the Flux tree's Secrets, e.g.
FREETIER_SECRET_OPERATOR_OAUTH_CLIENT_ID or FREETIER_SECRET_GRAFANA_CLOUD_TOKEN.
What is already set up is kept: a second run changes nothing. Exit codes: 0 done,
2 bad input (nothing half-written; run again once fixed).
"""


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    init = sub.add_parser(
        "init",
        help=COMMANDS["init"],
        description="Check the OCI CLI config (and find the tenancy's home region), write "
        "stack.yaml from your answers, create an ed25519 SSH key, the age identity, "
        ".sops.yaml and the Flux tree's encrypted Secrets, and with --github the plan, "
        "production and images environments and their secrets. Local only: there is no "
        "Dagger function for it.",
        epilog=EPILOG,
    )
    add_stack(init)
    init.add_argument("--name", help="stack name (a DNS label)")
    init.add_argument("--region", help="OCI region: your tenancy's home region")
    init.add_argument("--compartment", metavar="OCID", help="compartment OCID (default: tenancy)")
    init.add_argument(
        "--admin-cidr",
        action="append",
        metavar="CIDR",
        help="source CIDR allowed to reach SSH and the Talos API (repeat for more)",
    )
    init.add_argument("--repo-url", help="the Flux repository URL (default: the --github one)")
    init.add_argument("--alert-email", help="where the budget alerts go")
    init.add_argument(
        "--ssh-public-key",
        type=Path,
        metavar="FILE",
        help="use this OpenSSH public key instead of creating secrets/ssh/id_ed25519",
    )
    init.add_argument(
        "--github",
        metavar="OWNER/NAME",
        help="also create the repository's environments and secrets (token: $GITHUB_TOKEN)",
    )
    init.add_argument(
        "--skip-oci", action="store_true", help="do not check the OCI config (offline)"
    )
    init.add_argument(
        "--replace-secrets",
        action="store_true",
        help="overwrite secrets that are already set with the values given",
    )
    init.add_argument(
        "--non-interactive",
        action="store_true",
        help="never prompt (the default when stdin is not a terminal)",
    )
    init.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    add_format(init)
    init.set_defaults(handler=cmd_init)


class TerminalPrompter:
    """Questions on stderr, answers from stdin; secrets through getpass (not echoed)."""

    def ask(self, question: str, default: str | None) -> str:
        suffix = f" [{default}]" if default else ""
        print(f"{question}{suffix}: ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            from freetier.errors import ConfigError

            raise ConfigError(["stdin closed before every question was answered"])
        answer = line.strip()
        return answer or (default or "")

    def ask_secret(self, question: str) -> str:
        import getpass

        return getpass.getpass(f"{question}: ", stream=sys.stderr).strip()


def cmd_init(args: argparse.Namespace) -> int:
    from freetier.cli.secrets import sops_binary
    from freetier.setup.model import StackAnswers, render_text, report_json
    from freetier.setup.run import InitOptions, run_init

    options = InitOptions(
        stack=args.stack,
        answers=StackAnswers(
            name=args.name,
            region=args.region,
            compartment_ocid=args.compartment,
            admin_cidrs=tuple(args.admin_cidr) if args.admin_cidr else None,
            repo_url=args.repo_url,
            alert_email=args.alert_email,
        ),
        ssh_public_key=args.ssh_public_key,
        github=args.github,
        skip_oci=args.skip_oci,
        replace_secrets=args.replace_secrets,
        dry_run=args.dry_run,
    )
    interactive = not args.non_interactive and sys.stdin.isatty()
    prompter = TerminalPrompter() if interactive else None
    report = run_init(options, os.environ, Path.home(), sops_binary, prompter)
    if args.format == "json":
        print_json(report_json(report))
    else:
        sys.stdout.write(render_text(report))
    return 0
