"""The CLI of the Flux tree and its secrets: `flux render` and `secrets init|set`.

`register_flux(sub)` adds both groups and returns the `flux` subparsers object, so other
`flux` commands (the validator) attach to it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError
from freetier.flux.render import (
    RenderPlan,
    apply_render,
    plan_render,
    render_tree,
    secret_specs,
    seed_files,
    tree_problems,
)
from freetier.flux.render_write import Seal
from freetier.secrets import (
    IDENTITY_FILE,
    SOPS_CONFIG,
    SecretTarget,
    encrypt_placeholder,
    init_secrets,
    locate_sops,
    read_config_recipients,
    set_secret_value,
)
from freetier.secrets.model import KEY_PATTERN, NAME_PATTERN, NAMESPACE_PATTERN, SecretSpec
from freetier.stack import Stack, load_stack

DEFAULT_STACK = Path("stack.yaml")
SubParsers = argparse._SubParsersAction  # argparse has no public name for it


def register_flux(sub: Any) -> SubParsers[argparse.ArgumentParser]:
    flux = sub.add_parser(
        "flux", help="the Flux tree (clusters/, infrastructure/, apps/)", description="Flux."
    )
    flux_sub: SubParsers[argparse.ArgumentParser] = flux.add_subparsers(
        title="commands", metavar="COMMAND"
    )
    render = flux_sub.add_parser(
        "render",
        help="write clusters/, infrastructure/ and apps/ from stack.yaml",
        description="Render the Flux tree from stack.yaml next to it. Files edited by hand since "
        "the last render are kept and reported as conflicts (exit 1) unless --force; "
        "apps/<cluster>/values/ and *.sops.yaml secrets are yours and never rewritten. "
        "--check writes nothing and exits 1 with a diff when the tree is out of date.",
    )
    render.add_argument("--stack", type=Path, default=DEFAULT_STACK, help="default: stack.yaml")
    mode = render.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare only; exit 1 on any drift")
    mode.add_argument("--force", action="store_true", help="overwrite files edited by hand")
    render.set_defaults(handler=cmd_flux_render)

    secrets = sub.add_parser(
        "secrets",
        help="the age identity, .sops.yaml and encrypted Secrets",
        description="SOPS + age secrets of the Flux tree.",
    )
    secrets_sub = secrets.add_subparsers(title="commands", metavar="COMMAND")
    init = secrets_sub.add_parser(
        "init",
        help="create the age identity and .sops.yaml (idempotent)",
        description=f"Create the age identity ({IDENTITY_FILE}, mode 0600, git-ignored, never "
        f"printed) unless it exists, write {SOPS_CONFIG} for its recipient, and encrypt the "
        "tree's placeholder secrets for it.",
    )
    init.add_argument("--stack", type=Path, default=DEFAULT_STACK, help="default: stack.yaml")
    init.set_defaults(handler=cmd_secrets_init)

    put = secrets_sub.add_parser(
        "set",
        help="encrypt one value into a Secret file with sops",
        description="Set KEY of the Secret NAME to a value read from an environment variable "
        "or stdin (never from the command line) and encrypt it with sops.",
    )
    put.add_argument("name", metavar="NAME", help="the Secret's name, e.g. operator-oauth")
    put.add_argument("key", metavar="KEY", help="the key inside the Secret, e.g. client_secret")
    source = put.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-env", metavar="VAR", help="read the value from $VAR")
    source.add_argument(
        "--from-stdin", action="store_true", help="read the value from stdin (one newline cut)"
    )
    put.add_argument("--namespace", help="the Secret's namespace (default: the tree's, or default)")
    put.add_argument(
        "--path",
        help="the *.sops.yaml file, relative to the stack's folder "
        "(default: where the tree keeps NAME)",
    )
    put.add_argument("--stack", type=Path, default=DEFAULT_STACK, help="default: stack.yaml")
    put.set_defaults(handler=cmd_secrets_set)
    return flux_sub


def cmd_flux_render(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack)
    root = args.stack.parent
    generated = render_tree(stack)
    plan = plan_render(root, generated, seed_files(stack), secret_specs(stack), force=args.force)
    if args.check:
        return _report_check(root, stack, plan, generated)
    apply_render(root, plan, _sealer(root) if plan.secrets else None)
    return _report_render(plan)


def _sealer(root: Path) -> Seal:
    """Placeholders are encrypted for .sops.yaml's recipients: checked before anything moves."""
    sops = locate_sops(os.environ.get("PATH"), Path(sys.executable).parent)
    if not read_config_recipients(root):
        raise ConfigError([f"{root / SOPS_CONFIG}: missing; run `freetier secrets init` first"])

    def seal(spec: SecretSpec, output: Path) -> None:
        encrypt_placeholder(sops, root, spec, output)

    return seal


def _report_render(plan: RenderPlan) -> int:
    for path in plan.writes:
        print(f"wrote {path}")
    for path in plan.removes:
        print(f"removed {path} (no longer generated)")
    for path in plan.seeds:
        print(f"created {path} (yours from now on)")
    for spec in plan.secrets:
        print(
            f"created {spec.path}: placeholder; fill it with `freetier secrets set {spec.name} "
            f"KEY --from-env VAR` (or --from-stdin) for KEY in: {' '.join(spec.key_names())}"
        )
    for conflict in plan.conflicts:
        sys.stdout.write(conflict.diff)
        print(f"freetier: conflict: {conflict.path}: {conflict.reason}", file=sys.stderr)
    if plan.conflicts:
        print(
            "freetier: kept the files above; move the change to stack.yaml or "
            "apps/<cluster>/values/, or render with --force",
            file=sys.stderr,
        )
        return 1
    if not plan.changes:
        print("flux tree up to date")
    return 0


def _report_check(root: Path, stack: Stack, plan: RenderPlan, generated: dict[str, str]) -> int:
    problems = tree_problems(root, stack, plan, generated)
    if not problems:
        print("flux tree up to date")
        return 0
    for diff in plan.diffs():
        sys.stdout.write(diff)
    for line in problems:
        print(f"freetier: {line}", file=sys.stderr)
    print("freetier: run: freetier flux render", file=sys.stderr)
    return 1


def cmd_secrets_init(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack)
    root = args.stack.parent
    result = init_secrets(
        root,
        root / IDENTITY_FILE,
        lambda: locate_sops(os.environ.get("PATH"), Path(sys.executable).parent),
        secret_specs(stack),
    )
    verb = "created" if result.identity.created else "kept existing"
    print(f"{verb} age identity {result.identity.path} (keep it safe; it is git-ignored)")
    print(f"age recipient: {result.identity.recipient}")
    if result.config_written:
        print(f"wrote {root / SOPS_CONFIG}")
    for path in result.seeded:
        print(f"created placeholder {path}")
    for path in result.reseeded:
        print(f"re-encrypted placeholder {path} for the current recipients")
    for path in result.stale:
        print(
            f"freetier: warning: {path}: encrypted for other recipients and holds real values; "
            "re-encrypt it with its key (sops updatekeys) or set its keys again",
            file=sys.stderr,
        )
    return 0


def cmd_secrets_set(args: argparse.Namespace) -> int:
    problems = _check_names(args.name, args.key, args.namespace)
    if problems:
        raise ConfigError(problems)
    stack = load_stack(args.stack)
    root = args.stack.parent
    target = _target(root, stack, args)
    value = _read_value(args)
    sops = locate_sops(os.environ.get("PATH"), Path(sys.executable).parent)
    done = set_secret_value(sops, root, root / IDENTITY_FILE, target, args.key, value)
    print(f"{done} {target.relpath}: {target.namespace}/{target.name} key {args.key} (encrypted)")
    return 0


def _check_names(name: str, key: str, namespace: str | None) -> list[str]:
    problems = []
    if not NAME_PATTERN.match(name):
        problems.append(f"NAME {name!r}: not a valid Kubernetes object name")
    if not KEY_PATTERN.match(key):
        problems.append(f"KEY {key!r}: only letters, digits, '-', '_' and '.' are allowed")
    if namespace is not None and not NAMESPACE_PATTERN.match(namespace):
        problems.append(f"--namespace {namespace!r}: not a valid namespace name")
    return problems


def _target(root: Path, stack: Stack, args: argparse.Namespace) -> SecretTarget:
    specs = {s.name: s for s in secret_specs(stack)}
    spec = specs.get(args.name)
    if spec is None and args.path is None:
        known = ", ".join(sorted(specs)) or "none"
        raise ConfigError(
            [f"{args.name}: not a Secret the tree declares (known: {known}); give --path FILE"]
        )
    base = SecretTarget.from_spec(spec) if spec else SecretTarget(args.name, "default", "")
    return SecretTarget(
        name=args.name,
        namespace=args.namespace or base.namespace,
        relpath=_relative(root, Path(args.path)) if args.path else base.relpath,
        placeholders=base.placeholders,
    )


def _relative(root: Path, path: Path) -> str:
    """--path relative to the stack's folder (the repository root), as sops' rules see it."""
    if path.is_absolute():
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            raise ConfigError([f"--path {path}: outside the repository {root.resolve()}"]) from None
    return path.as_posix()


def _read_value(args: argparse.Namespace) -> str:
    if args.from_env is not None:
        value = os.environ.get(args.from_env)
        if value is None:
            raise ConfigError([f"--from-env {args.from_env}: the variable is not set"])
    else:
        try:
            value = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(["--from-stdin: the value is not UTF-8 text"]) from None
        value = value.removesuffix("\n").removesuffix("\r")
    if not value:
        raise ConfigError(["the value is empty"])
    return value
