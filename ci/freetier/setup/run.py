"""`freetier init`, in order: check the OCI config and find the home region; answer and write
stack.yaml (checked before it is written); the SSH key; the age identity, `.sops.yaml` and the
Flux tree's user Secrets; with a repository, GitHub's environments and their secrets.

Every step keeps what is already right and says so, so a second run changes nothing; every
file is written whole or not at all, so a run stopped anywhere is finished by running it
again. Nothing is asked for that the flags or the environment already give, and no secret is
ever printed: the report names things, never values."""

from __future__ import annotations

import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from freetier.errors import ConfigError
from freetier.files import read_text, write_files
from freetier.secrets.model import IDENTITY_FILE, SecretKey, SecretSpec
from freetier.setup.local import (
    OciFacts,
    check_oci,
    ensure_ssh_key,
    ensure_ssh_tfvars,
    fingerprint_key,
    region_warning,
)
from freetier.setup.model import (
    SUPPLIED_SECRETS,
    Prompter,
    Report,
    StackAnswers,
    ci_oci_config,
    example_values,
    flux_secret_env,
    is_placeholder,
    split_list,
)
from freetier.setup.stack_edit import apply_answers, current_value
from freetier.stack import Stack, load_stack_text

if TYPE_CHECKING:
    from freetier.github.client import RetryPolicy


@dataclass(frozen=True)
class InitOptions:
    stack: Path
    answers: StackAnswers = field(default_factory=StackAnswers)
    ssh_public_key: Path | None = None
    github: str | None = None
    skip_oci: bool = False
    replace_secrets: bool = False
    dry_run: bool = False
    # How patient to be with GitHub; None: the client's default (which paces writes a second
    # apart, as GitHub asks).
    github_retry: RetryPolicy | None = None


def run_init(
    options: InitOptions,
    env: Mapping[str, str],
    home: Path,
    locate_sops: Callable[[], str],
    prompter: Prompter | None = None,
) -> Report:
    report = Report(dry_run=options.dry_run)
    root = options.stack.parent
    try:
        text = read_text(options.stack)
    except ConfigError as exc:
        raise ConfigError(
            [f"{exc.problems[0]}; init edits the stack.yaml this repository ships (--stack FILE)"]
        ) from None
    facts = None
    if options.skip_oci:
        report.add("OCI config", "skipped", "--skip-oci")
    else:
        facts = check_oci(env, home)
        detail = f"{facts.where}: valid, the API key signs in; home region {facts.home_region}"
        report.add("OCI config", "kept", detail)
        report.facts["home_region"] = facts.home_region
    answers = _answers(options, text, facts, prompter)
    stack = _write_stack(options.stack, text, answers, report, dry_run=options.dry_run)
    if facts is not None:
        warning = region_warning(stack.oci.region, facts)
        if warning:
            report.warnings.append(warning)
    report.warnings += example_values(
        {
            "oci.compartment_ocid": stack.oci.compartment_ocid,
            "network.admin_cidrs": stack.network.admin_cidrs,
            "flux.repo_url": stack.flux.repo_url,
            "budget.alert_email": stack.budget.alert_email,
        }
    )
    ssh = ensure_ssh_key(root, options.ssh_public_key, report, dry_run=options.dry_run)
    if ssh:
        report.facts["ssh_public_key"] = ssh  # a public key: safe to show
        ensure_ssh_tfvars(options.stack, ssh, report, dry_run=options.dry_run)
    from freetier.setup.flux_secrets import ensure_flux_secrets

    ensure_flux_secrets(
        root,
        stack,
        locate_sops,
        _flux_value(env, prompter),
        report,
        replace=options.replace_secrets,
        dry_run=options.dry_run,
    )
    if options.github:
        from freetier.github.client import require_token
        from freetier.setup.github_setup import setup_github

        token = require_token(env.get("GITHUB_TOKEN", ""))
        values = _GitHubValues(root, env, facts, prompter, report, dry_run=options.dry_run)
        setup_github(
            options.github,
            token,
            values.value,
            values.hint,
            report,
            replace=options.replace_secrets,
            dry_run=options.dry_run,
            api_url=env.get("GITHUB_API_URL") or None,
            retry=options.github_retry,
        )
    return report


def _answers(
    options: InitOptions, text: str, facts: OciFacts | None, prompter: Prompter | None
) -> StackAnswers:
    """The flags' answers; the OCI config's tenancy and the repository's URL for the shipped
    example values; then, on a terminal, a question for each field with that as default."""
    answers = options.answers
    path = options.stack
    example_compartment = is_placeholder(current_value(text, path, ("oci", "compartment_ocid")))
    if answers.compartment_ocid is None and facts is not None and example_compartment:
        answers = replace(answers, compartment_ocid=str(facts.config["tenancy"]))
    example_repo = is_placeholder(current_value(text, path, ("flux", "repo_url")))
    if answers.repo_url is None and options.github and example_repo:
        answers = replace(answers, repo_url=f"https://github.com/{options.github}")
    if prompter is None:
        return answers

    def ask(
        question: str, given: str | None, field: tuple[str, ...], hint: str | None = None
    ) -> str:
        default = given or hint or _text(current_value(text, path, field))
        return prompter.ask(question, default or None)

    home_region = facts.home_region if facts is not None else None
    cidrs = answers.admin_cidrs
    return StackAnswers(
        name=ask("Stack name", answers.name, ("name",)),
        region=ask("OCI region (your home region)", answers.region, ("oci", "region"), home_region),
        compartment_ocid=ask(
            "Compartment OCID", answers.compartment_ocid, ("oci", "compartment_ocid")
        ),
        admin_cidrs=split_list(
            ask(
                "Admin CIDRs that may reach SSH and the Talos API (comma-separated)",
                ",".join(cidrs) if cidrs else None,
                ("network", "admin_cidrs"),
            )
        ),
        repo_url=ask("Flux repository URL", answers.repo_url, ("flux", "repo_url")),
        alert_email=ask("Budget alert e-mail", answers.alert_email, ("budget", "alert_email")),
    )


def _text(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _write_stack(
    path: Path, text: str, answers: StackAnswers, report: Report, *, dry_run: bool
) -> Stack:
    """Check the edited stack, then write it whole; nothing is written when it is invalid."""
    new_text = apply_answers(text, path, answers)
    stack = load_stack_text(new_text, path)
    if new_text == text:
        report.add(path.name, "kept", "valid")
    elif dry_run:
        report.add(path.name, "would update", "valid")
    else:
        mode = stat.S_IMODE(path.stat().st_mode)
        write_files(path.parent, {path.name: new_text})
        path.chmod(mode)  # a committed file keeps its mode (the staged copy is 0600)
        report.add(path.name, "updated", "valid; comments kept")
    return stack


def _flux_value(
    env: Mapping[str, str], prompter: Prompter | None
) -> Callable[[SecretSpec, SecretKey], str | None]:
    def value(spec: SecretSpec, key: SecretKey) -> str | None:
        given = env.get(flux_secret_env(spec.name, key.name))
        if given:
            return given
        if prompter is None:
            return None
        return prompter.ask_secret(f"{spec.name} {key.name}: {key.help} (empty: later)") or None

    return value


class _GitHubValues:
    """Each GitHub secret's value, found once and only when a secret needs it."""

    def __init__(
        self,
        root: Path,
        env: Mapping[str, str],
        facts: OciFacts | None,
        prompter: Prompter | None,
        report: Report,
        *,
        dry_run: bool,
    ) -> None:
        self.root = root
        self.env = env
        self.facts = facts
        self.prompter = prompter
        self.report = report
        self.dry_run = dry_run
        self.found: dict[str, str | None] = {}

    def value(self, name: str) -> str | None:
        if name not in self.found:
            self.found[name] = self._find(name)
        return self.found[name]

    def _find(self, name: str) -> str | None:
        if name == "OCI_CONFIG" and self.facts is not None:
            return ci_oci_config(self.facts.config)
        if name == "OCI_KEY" and self.facts is not None and self.facts.config.get("key_file"):
            return read_text(Path(str(self.facts.config["key_file"])).expanduser())
        if name == "FREETIER_FINGERPRINT_KEY":
            return fingerprint_key(self.root, self.env, self.report, dry_run=self.dry_run)
        if name == "FREETIER_AGE_KEY" and not self.env.get(name):
            identity = self.root / IDENTITY_FILE
            return read_text(identity) if identity.exists() else None
        given = self.env.get(name)
        if given:
            return given
        if self.prompter is not None and name in SUPPLIED_SECRETS:
            return (
                self.prompter.ask_secret(f"{name}: {SUPPLIED_SECRETS[name]} (empty: later)") or None
            )
        return None

    def hint(self, name: str) -> str:
        if name in ("OCI_CONFIG", "OCI_KEY"):
            return f"no checked OCI config: run without --skip-oci, or set {name}"
        if name in ("FREETIER_AGE_KEY", "FREETIER_FINGERPRINT_KEY"):
            return "created by this run; run init again without --dry-run"
        return f"set {name} in the environment and run init again"
