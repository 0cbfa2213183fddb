"""`freetier flux validate [PATH] [--format text|json|sarif]`: the CLI over
`freetier.flux.validate.validate_repo`. Exit 0 clean, 1 findings, 2 bad input or missing tool
(raised as FreetierError for `freetier.cli.main` to print)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from freetier.flux.consistency import consistency_check
from freetier.flux.validate import validate_repo
from freetier.flux.validate.render import RENDERERS
from freetier.stack import load_stack


def register_validate(flux_subparsers: Any) -> argparse.ArgumentParser:
    """Add `validate` to the `freetier flux` subcommands; returns its parser."""
    parser: argparse.ArgumentParser = flux_subparsers.add_parser(
        "validate",
        help="check a Flux repository offline: builds, schemas, dependsOn, sources, SOPS",
        description="Build every Flux Kustomization with `kubectl kustomize`, check core kinds "
        "against the Kubernetes schemas and Flux kinds against the GA Flux APIs, then each "
        "cluster's graph: dependsOn cycles and unknown names, sourceRef, missing paths and "
        "namespaces, postBuild.substituteFrom, SOPS content without decryption, plaintext "
        "Secrets, SOPS recipients against .sops.yaml. Nothing is decrypted. Exit 0 clean, "
        "1 findings, 2 bad input or missing tool.",
    )
    parser.add_argument(
        "path", nargs="?", type=Path, default=Path(), help="repository folder (default: .)"
    )
    parser.add_argument(
        "--format",
        choices=tuple(RENDERERS),
        default="text",
        help="text (file:line: object: rule: message), json, or sarif (GitHub code scanning)",
    )
    parser.add_argument(
        "--kubernetes-version",
        metavar="X.Y",
        help="schemas of this Kubernetes minor (default: stack.yaml's versions.kubernetes, "
        "else the newest bundled)",
    )
    parser.set_defaults(handler=cmd_flux_validate)
    return parser


def cmd_flux_validate(args: argparse.Namespace) -> int:
    # In a freetier repository the cross-layer checks (Talos <-> Cilium HelmRelease) run too.
    stack_file = args.path / "stack.yaml"
    extra = [consistency_check(load_stack(stack_file))] if stack_file.is_file() else []
    result = validate_repo(
        args.path, kubernetes_version=args.kubernetes_version, extra_checks=extra
    )
    sys.stdout.write(RENDERERS[args.format](result))
    return result.exit_code
