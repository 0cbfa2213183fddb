"""tofu (or terraform) on one layer directory: pure argv builders, thin runners, parsed output.

Every run goes through `freetier.command.run` with `-input=false -no-color` (where the
subcommand takes them), `TF_IN_AUTOMATION=1` and umask 077 (plans and state hold values in
clear). Plain variables go on argv as `-var`; secrets only ever travel as `TF_VAR_<name>` in
the environment and are masked in all output. `plan` and `apply` run with `-json`, so their
errors are read from the diagnostics, not from text wrapped at 78 columns (which can split a
secret); machine output is parsed in clear and every string in it masked before use.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from freetier.command import STDERR_TAIL_LINES, Command, Completed
from freetier.command import run as run_command
from freetier.doctor.tools import TOOLS
from freetier.errors import ToolError

VarValue: TypeAlias = "str | int | float | bool | Sequence[VarValue] | Mapping[str, VarValue]"

TOFU_NAMES: tuple[str, ...] = next(t.names for t in TOOLS if t.key == "tofu")
COMMON_FLAGS = ("-input=false", "-no-color")
BASE_ENV: Mapping[str, str] = {"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
PLAN_FILE = "plan.bin"
DEFAULT_TIMEOUT_S = 1800.0
OWNER_ONLY = 0o077  # umask: what tofu writes (plans, local state) is its owner's only


def provider_profile_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The OCI provider's profile variable set to the profile freetier's own calls use.

    freetier reads `OCI_CLI_PROFILE` (as the OCI CLI does); the Terraform provider reads
    `OCI_CONFIG_FILE_PROFILE` or `TF_VAR_config_file_profile` (tofu/oci/versions.tf names the
    source). Without this, a non-default profile would check one tenancy and plan another.
    """
    from freetier.oci_clients import PROFILE_ENV

    named = environ.get("OCI_CONFIG_FILE_PROFILE") or environ.get("TF_VAR_config_file_profile")
    profile = environ.get(PROFILE_ENV)
    return {"OCI_CONFIG_FILE_PROFILE": profile} if profile and not named else {}


def find_tofu(path: str | None = None) -> str:
    """The tofu binary, else terraform (same order as `freetier doctor`); its full path."""
    for name in TOFU_NAMES:
        exe = shutil.which(name, path=path)
        if exe is not None:
            return exe
    raise ToolError(
        f"tofu: none of {', '.join(TOFU_NAMES)} on PATH; install OpenTofu (or terraform)"
        " and check with `freetier doctor`",
        missing=True,
    )


@dataclass(frozen=True)
class Tofu:
    """Which binary to run and the environment it gets.

    `env` adds variables (TF_DATA_DIR, TF_CLI_CONFIG_FILE, ...); `secret_vars` become
    `TF_VAR_<name>` and their values are masked in every output and error.
    """

    exe: str
    env: Mapping[str, str] = field(default_factory=dict)
    secret_vars: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def find(cls, path: str | None = None) -> Tofu:
        return cls(find_tofu(path), env=provider_profile_env(os.environ), path=path)

    def command(
        self,
        argv: Sequence[str],
        cwd: Path,
        ok_codes: frozenset[int] = frozenset({0}),
        *,
        parse_stdout: bool = False,
    ) -> Command:
        env = {
            **BASE_ENV,
            **self.env,
            **{f"TF_VAR_{name}": value for name, value in self.secret_vars.items()},
        }
        return Command(
            argv=(self.exe, *argv),
            cwd=cwd,
            env=env,
            timeout=self.timeout_s,
            ok_codes=ok_codes,
            secrets=tuple(self.secret_vars.values()),
            parse_stdout=parse_stdout,
            umask=OWNER_ONLY,
        )

    def run(
        self,
        argv: Sequence[str],
        cwd: Path,
        ok_codes: frozenset[int] = frozenset({0}),
        *,
        parse_stdout: bool = False,
    ) -> Completed:
        """`parse_stdout`: stdout comes back in clear, for a parser that masks what it keeps."""
        command = self.command(argv, cwd, ok_codes, parse_stdout=parse_stdout)
        return run_command(command, path=self.path)


# --- argv builders (pure) ------------------------------------------------------------------


def format_var(value: VarValue) -> str:
    """A `-var name=<this>` value: strings raw, numbers and bools bare, collections as HCL.

    >>> format_var("eu-frankfurt-1"), format_var(2), format_var(True)
    ('eu-frankfurt-1', '2', 'true')
    >>> format_var([1, 2, 3]), format_var({"a": "${x}"})
    ('[1, 2, 3]', '{"a": "$${x}"}')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # JSON is valid HCL for lists and objects; template sequences only occur inside strings.
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def var_args(var_overrides: Mapping[str, VarValue] | None) -> list[str]:
    """`-var name=value` pairs, sorted by name so argv is stable."""
    args: list[str] = []
    for name, value in sorted((var_overrides or {}).items()):
        args += ["-var", f"{name}={format_var(value)}"]
    return args


def init_argv(
    *, backend: bool = True, backend_config: Path | None = None, key: str | None = None
) -> list[str]:
    """`backend_config`: a file of the partial backend's settings (bucket, endpoint...);
    `key`: the layer's state key, which overrides the file's (`freetier.layers.state_key`)."""
    if not backend:
        return ["init", *COMMON_FLAGS, "-backend=false"]
    extra = [f"-backend-config={backend_config}"] if backend_config is not None else []
    extra += [f"-backend-config=key={key}"] if key is not None else []
    return ["init", *COMMON_FLAGS, *extra]


def plan_argv(
    *, out: str | Path = PLAN_FILE, var_overrides: Mapping[str, VarValue] | None = None
) -> list[str]:
    return [
        "plan",
        *COMMON_FLAGS,
        "-json",
        "-detailed-exitcode",
        f"-out={out}",
        *var_args(var_overrides),
    ]


def show_json_argv(plan_file: str | Path = PLAN_FILE) -> list[str]:
    # `show` takes no -input flag.
    return ["show", "-json", "-no-color", str(plan_file)]


def apply_argv(
    *,
    plan_file: str | Path | None = None,
    var_overrides: Mapping[str, VarValue] | None = None,
) -> list[str]:
    """Apply a saved plan exactly, or plan and apply with `-auto-approve` (always `-json`)."""
    if plan_file is not None:
        if var_overrides:
            raise ValueError("a saved plan already holds its variables; pass no var_overrides")
        return ["apply", *COMMON_FLAGS, "-json", str(plan_file)]
    return ["apply", *COMMON_FLAGS, "-json", "-auto-approve", *var_args(var_overrides)]


# --- parsed output -------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    summary: str
    detail: str = ""
    address: str = ""

    def render(self) -> str:
        head = f"{self.severity.capitalize()}: {self.summary}"
        if self.address:
            head += f" ({self.address})"
        return "\n".join([head, *self.detail.strip().splitlines()])


@dataclass(frozen=True)
class ChangeSummary:
    add: int
    change: int
    remove: int

    @property
    def any(self) -> bool:
        return bool(self.add or self.change or self.remove)


@dataclass(frozen=True)
class PlanResult:
    plan_file: Path
    changes: bool


@dataclass(frozen=True)
class ApplyResult:
    argv: tuple[str, ...]
    returncode: int
    messages: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    summary: ChangeSummary | None
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    def tail(self, lines: int = STDERR_TAIL_LINES) -> str:
        text = "\n".join(d.render() for d in self.errors) or self.stderr.strip()
        return "\n".join(text.splitlines()[-lines:])

    def error(self) -> ToolError:
        """One line naming the tool and subcommand (no runner paths), then the diagnostics."""
        tail = self.tail()
        command = " ".join([Path(self.argv[0]).name, *self.argv[1:2]])
        return ToolError(f"{command}: exit code {self.returncode}" + (f"\n{tail}" if tail else ""))


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """The machine-readable UI stream of `-json` (one object a line; anything else skipped)."""
    records: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def parse_apply(done: Completed) -> ApplyResult:
    """The `-json` UI stream of an apply (or a plan), every string in it masked."""
    records: list[dict[str, Any]] = done.masking.json(json_lines(done.stdout))
    diagnostics = tuple(
        Diagnostic(
            severity=str(d.get("severity", "error")),
            summary=str(d.get("summary", "")),
            detail=str(d.get("detail") or ""),
            address=str(d.get("address") or ""),
        )
        for r in records
        if r.get("type") == "diagnostic" and isinstance(d := r.get("diagnostic"), dict)
    )
    applied = [
        changes
        for r in records
        if r.get("type") == "change_summary"
        and isinstance(changes := r.get("changes"), dict)
        and changes.get("operation") == "apply"
    ]
    summary = (
        ChangeSummary(
            int(applied[-1].get("add", 0)),
            int(applied[-1].get("change", 0)),
            int(applied[-1].get("remove", 0)),
        )
        if applied
        else None
    )
    return ApplyResult(
        argv=done.argv,
        returncode=done.returncode,
        messages=tuple(str(r["@message"]) for r in records if "@message" in r),
        diagnostics=diagnostics,
        summary=summary,
        stderr=done.stderr,
    )


# --- runners -------------------------------------------------------------------------------


def init(
    layer_dir: Path,
    *,
    backend: bool = True,
    backend_config: Path | None = None,
    key: str | None = None,
    tofu: Tofu | None = None,
) -> Completed:
    tofu = tofu or Tofu.find()
    argv = init_argv(backend=backend, backend_config=backend_config, key=key)
    return tofu.run(argv, layer_dir)


def plan(
    layer_dir: Path,
    *,
    out: str | Path = PLAN_FILE,
    var_overrides: Mapping[str, VarValue] | None = None,
    tofu: Tofu | None = None,
) -> PlanResult:
    """`plan -detailed-exitcode`: exit 0 (no changes) and 2 (changes) both succeed; else a
    ToolError quoting the error diagnostics. The plan file is made its owner's only."""
    tofu = tofu or Tofu.find()
    argv = plan_argv(out=out, var_overrides=var_overrides)
    done = tofu.run(argv, layer_dir, ok_codes=frozenset({0, 1, 2}), parse_stdout=True)
    if done.returncode == 1:
        raise parse_apply(done).error()
    plan_file = layer_dir / out
    plan_file.chmod(0o600)
    return PlanResult(plan_file=plan_file, changes=done.returncode == 2)


def show_json(
    layer_dir: Path, plan_file: str | Path = PLAN_FILE, *, tofu: Tofu | None = None
) -> dict[str, Any]:
    tofu = tofu or Tofu.find()
    # Values in clear by design: the plan's JSON stays on this machine, and is masked by
    # freetier.plans before anything of it is shown.
    done = tofu.run(show_json_argv(plan_file), layer_dir, parse_stdout=True)
    try:
        shown = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise ToolError(f"{tofu.exe} show -json {plan_file}: not JSON: {exc.msg}") from None
    if not isinstance(shown, dict):
        raise ToolError(f"{tofu.exe} show -json {plan_file}: not a JSON object")
    return shown


def apply(
    layer_dir: Path,
    *,
    plan_file: str | Path | None = None,
    var_overrides: Mapping[str, VarValue] | None = None,
    tofu: Tofu | None = None,
    check: bool = True,
) -> ApplyResult:
    """Apply; with `check` a failure raises ToolError quoting the error diagnostics."""
    tofu = tofu or Tofu.find()
    argv = apply_argv(plan_file=plan_file, var_overrides=var_overrides)
    done = tofu.run(argv, layer_dir, ok_codes=frozenset({0, 1}), parse_stdout=True)
    result = parse_apply(done)
    if check and not result.ok:
        raise result.error()
    return result


def show_text_argv(plan_file: str | Path = PLAN_FILE) -> list[str]:
    return ["show", "-no-color", str(plan_file)]


def show_text(
    layer_dir: Path, plan_file: str | Path = PLAN_FILE, *, tofu: Tofu | None = None
) -> str:
    """The human-readable plan (`show -no-color`); mask it before it goes anywhere."""
    tofu = tofu or Tofu.find()
    return tofu.run(show_text_argv(plan_file), layer_dir).stdout


def state_pull(layer_dir: Path, *, tofu: Tofu | None = None) -> tuple[str, int]:
    """(lineage, serial) of the layer's current state; ("", 0) when there is none yet."""
    tofu = tofu or Tofu.find()
    done = tofu.run(["state", "pull"], layer_dir, parse_stdout=True)
    return parse_state_identity(done.stdout, f"{tofu.exe} state pull")


def parse_state_identity(stdout: str, where: str = "state pull") -> tuple[str, int]:
    """(lineage, serial) from a state document; an empty one (no state yet) is ("", 0).

    >>> parse_state_identity('{"version": 4, "serial": 3, "lineage": "abc"}')
    ('abc', 3)
    >>> parse_state_identity("")
    ('', 0)
    """
    if not stdout.strip():
        return "", 0
    try:
        state = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise ToolError(f"{where}: not JSON: {exc.msg}") from None
    lineage = state.get("lineage") if isinstance(state, dict) else None
    serial = state.get("serial") if isinstance(state, dict) else None
    if not isinstance(lineage, str) or type(serial) is not int:
        raise ToolError(f"{where}: not a state document (no lineage and serial)")
    return lineage, serial


def version(tofu: Tofu | None = None, *, cwd: Path | None = None) -> str:
    """The binary's version (`version -json` -> terraform_version; tofu writes the same key).
    `cwd`: a layer directory, where the command also reads the provider selections."""
    tofu = tofu or Tofu.find()
    done = tofu.run(["version", "-json"], cwd or Path.cwd(), parse_stdout=True)
    try:
        info = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise ToolError(f"{tofu.exe} version -json: not JSON: {exc.msg}") from None
    found = info.get("terraform_version") if isinstance(info, dict) else None
    if not isinstance(found, str) or not found:
        raise ToolError(f"{tofu.exe} version -json: no terraform_version")
    return found


def output_json_argv() -> list[str]:
    return ["output", "-json", "-no-color"]


def outputs(layer_dir: Path, *, tofu: Tofu | None = None) -> dict[str, Any]:
    """The layer's outputs as `output -json` gives them (name -> {sensitive, type, value}),
    in clear, sensitive ones included: keep them out of every output and log. An empty
    state has none ({})."""
    tofu = tofu or Tofu.find()
    done = tofu.run(output_json_argv(), layer_dir, parse_stdout=True)
    where = f"{Path(tofu.exe).name} output -json"
    try:
        found = json.loads(done.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise ToolError(f"{where}: not JSON: {exc.msg}") from None
    if not isinstance(found, dict) or not all(
        isinstance(v, dict) and "value" in v for v in found.values()
    ):
        raise ToolError(f"{where}: not a map of outputs")
    return found
