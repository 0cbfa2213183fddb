"""The Dagger module: each function builds the pinned toolchain container and runs the same
`freetier` command a user runs locally. Loaded by `dagger call` through the entry point in
pyproject.toml; the CLI never imports this file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Annotated, Any, TypeVar, cast

import dagger
from dagger import DefaultPath, Doc, Ignore, dag, function, object_type

from freetier.layers import LAYERS

F = TypeVar("F", bound=Callable[..., Any])
# Side effects (reports, posts, applies) must run every time. dagger-io 0.21's overloads
# omit `cache=`, which the implementation accepts: hence the one ignore.
uncached = cast(Callable[[F], F], function(cache="never"))  # type: ignore[call-overload]

# Exact tag and digest: the toolchain changes only when someone edits these lines.
PYTHON_IMAGE = (
    "python:3.11.14-slim-bookworm"
    "@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d"
)
TOFU_IMAGE = (
    "ghcr.io/opentofu/opentofu:1.13.1-minimal"
    "@sha256:6f0991e9013aab42a683a8cfc83a2d604af28fca1d6b07f3cb80f657e099e089"
)
# The official kubectl image: `flux validate` and `freetier pr` build the Flux tree with
# `kubectl kustomize`. Same version as ci/install_tools.py pins for `./dev setup`.
KUBECTL_IMAGE = (
    "registry.k8s.io/kubectl:v1.36.3"
    "@sha256:6e4fce3c83651edb91b74bc67701c5cd263dd8aa3cd4254b1798d6425a5ab789"
)
SRC = "/src"
VENV = "/opt/freetier"
OUT = "/src/out"
OCI_DIR = "/root/.oci"
SSH_KEY = "/run/secrets/freetier-ssh-key"  # the Proxmox hosts' key, a mounted Dagger secret
PLANS = "plans"  # under OUT; plan.bin and plan.json hold values in clear
# Never sent to the engine: caches, local venvs and reports of earlier runs.
SOURCE_IGNORE = [".venv", "**/__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "out"]

# The parameters several functions share, documented once.
StackFile = Annotated[str, Doc("stack file, relative to the repository")]
OciConfig = Annotated[dagger.Secret, Doc("OCI CLI config file contents")]
OciKey = Annotated[dagger.Secret, Doc("OCI API signing key (PEM)")]
OptionalOciConfig = Annotated[dagger.Secret | None, Doc("OCI CLI config file contents")]
OptionalOciKey = Annotated[dagger.Secret | None, Doc("OCI API signing key (PEM)")]
StateAccessKey = Annotated[dagger.Secret | None, Doc("customer secret key id for the state bucket")]
StateSecretKey = Annotated[dagger.Secret | None, Doc("customer secret key for the state bucket")]
FingerprintKey = Annotated[
    dagger.Secret | None,
    Doc(
        "FREETIER_FINGERPRINT_KEY: keys the plan fingerprints the PR comment publishes (the "
        "same for plans and deploys; without it they leave sensitive values out)"
    ),
]
TailscaleAuthKey = Annotated[
    dagger.Secret | None,
    Doc(
        "TF_VAR_tailscale_authkey: the Tailscale auth key the bastion (oci layer) and the Talos "
        "nodes (talos layer) join the tailnet with; the talos layer cannot plan without it"
    ),
]
ProxmoxSshKey = Annotated[
    dagger.Secret | None,
    Doc(
        "proxmox topology: the Proxmox hosts' image user key (mounted 0600, --proxmox-ssh-key): "
        "the pr plans the proxmox layer by the bootstrap's dry run, the deploy runs the "
        "bootstrap between oci and talos (its Tailscale containers join with tailscale_authkey)"
    ),
]
BackendConfig = Annotated[str | None, Doc("backend settings file, relative to the repository")]
Layer = Annotated[str, Doc("the tofu layer: oci or talos")]
Repo = Annotated[str, Doc("OWNER/NAME")]


@object_type
class Freetier:
    """freetier's CI: the checks, the PR report and the deploy gate, in pinned containers."""

    source: Annotated[
        dagger.Directory,
        DefaultPath("/"),
        Ignore(SOURCE_IGNORE),
        Doc("the freetier repository (default: this module's repository)"),
    ]

    @function
    def toolchain(self) -> dagger.Container:
        """Pinned Python and OpenTofu, then `./dev setup`: the same set-up as a local clone."""
        return build_toolchain(self.source)

    @uncached
    def check(self) -> dagger.Container:
        """Lint, type-check and test: the README's test command."""
        return build_toolchain(self.source).with_exec(["./dev", "test"])

    @uncached
    def pr(
        self,
        github_token: Annotated[
            dagger.Secret | None, Doc("GitHub token: posts the comment, checks and labels")
        ] = None,
        oci_config: OptionalOciConfig = None,
        oci_key: OptionalOciKey = None,
        state_access_key: StateAccessKey = None,
        state_secret_key: StateSecretKey = None,
        fingerprint_key: FingerprintKey = None,
        tailscale_authkey: TailscaleAuthKey = None,
        proxmox_ssh_key: ProxmoxSshKey = None,
        backend_config: BackendConfig = None,
        repo: Annotated[str | None, Doc("OWNER/NAME to post the comment to")] = None,
        pr_number: Annotated[int | None, Doc("the pull request")] = None,
        head_sha: Annotated[str | None, Doc("the pull request's head commit")] = None,
        base_sha: Annotated[str | None, Doc("the pull request's base commit")] = None,
        stack: StackFile = "stack.yaml",
    ) -> dagger.Directory:
        """Every check, every layer's plan, the guard and the comment; returns the reports
        (pr-report.md/.json, comment.md, comment-full.md), never the plan files."""
        ctr = _with_credentials(build_toolchain(self.source), github_token, oci_config, oci_key)
        ctr = _with_state_backend(ctr, state_access_key, state_secret_key)
        ctr = _with_fingerprint_key(ctr, fingerprint_key)
        ctr = _with_tailscale_key(ctr, tailscale_authkey)
        ctr, proxmox = _with_proxmox_key(ctr, proxmox_ssh_key)
        args = ["./dev", "pr", "--stack", stack, "--out", OUT, *_backend_args(backend_config)]
        args += proxmox
        if repo and pr_number and head_sha:
            args += ["--repo", repo, "--pr", str(pr_number), "--sha", head_sha]
            args += ["--base-sha", base_sha] if base_sha else []
        # Findings exit 1 but still write the report; the workflow reads the verdict from it.
        done = ctr.with_exec(args, expect=dagger.ReturnType.ANY)
        return done.directory(OUT).without_directory(PLANS)

    @uncached
    def guard(
        self,
        oci_config: OptionalOciConfig = None,
        oci_key: OptionalOciKey = None,
        live: Annotated[bool, Doc("also count the tenancy's existing resources")] = False,
        stack: StackFile = "stack.yaml",
        format: Annotated[str, Doc("text, json or markdown")] = "text",
    ) -> dagger.Container:
        """The free-tier guard: proves the stack stays at $0 (exit 1 when it would not)."""
        ctr = _with_credentials(build_toolchain(self.source), None, oci_config, oci_key)
        args = ["guard", "--stack", stack, "--format", format, *(["--live"] if live else [])]
        return _freetier(ctr, *args)

    @uncached
    def plan(
        self,
        layer: Layer,
        oci_config: OciConfig,
        oci_key: OciKey,
        state_access_key: StateAccessKey = None,
        state_secret_key: StateSecretKey = None,
        fingerprint_key: FingerprintKey = None,
        tailscale_authkey: TailscaleAuthKey = None,
        backend_config: BackendConfig = None,
        stack: StackFile = "stack.yaml",
    ) -> dagger.Directory:
        """Plan one layer and guard the plan; returns its plan folder (plan.bin and plan.json
        hold values in clear: keep the export private)."""
        ctr = _with_credentials(build_toolchain(self.source), None, oci_config, oci_key)
        ctr = _with_state_backend(ctr, state_access_key, state_secret_key)
        ctr = _with_fingerprint_key(ctr, fingerprint_key)
        ctr = _with_tailscale_key(ctr, tailscale_authkey)
        args = ["plan", "--layer", layer, "--stack", stack, "--out", f"{OUT}/{PLANS}"]
        return _freetier(ctr, *args, *_backend_args(backend_config)).directory(
            f"{OUT}/{PLANS}/{layer}"
        )

    @function
    def comment(
        self,
        plans: Annotated[dagger.Directory, Doc("a folder of plan folders (LAYER/plan.json...)")],
        guard: Annotated[dagger.File | None, Doc("`freetier guard --format json` output")] = None,
        budget: Annotated[int, Doc("most characters in the comment")] = 60_000,
        layers: Annotated[
            str, Doc("comma-separated layers whose folders `plans` holds, in order")
        ] = ",".join(LAYERS),
    ) -> dagger.File:
        """Render the one PR comment for the plans (pure: nothing is sent)."""
        ctr = build_toolchain(self.source).with_directory("/plans", plans)
        args = ["comment", "render", "--budget", str(budget)]
        names = [name.strip() for name in layers.split(",") if name.strip()]
        args += [a for layer in names for a in ("--plan", f"{layer}=/plans/{layer}")]
        if guard is not None:
            ctr = ctr.with_file("/guard.json", guard)
            args += ["--guard", "/guard.json"]
        return ctr.with_exec([f"{VENV}/bin/freetier", *args], redirect_stdout="/comment.md").file(
            "/comment.md"
        )

    @uncached
    def apply(
        self,
        layer: Layer,
        oci_config: OciConfig,
        oci_key: OciKey,
        plan: Annotated[
            dagger.Directory | None,
            Doc("a reviewed plan folder from `plan` (else: apply directly, with capacity retries)"),
        ] = None,
        state_access_key: StateAccessKey = None,
        state_secret_key: StateSecretKey = None,
        fingerprint_key: FingerprintKey = None,
        tailscale_authkey: TailscaleAuthKey = None,
        backend_config: BackendConfig = None,
        stack: StackFile = "stack.yaml",
    ) -> dagger.Container:
        """Apply one layer: a reviewed plan exactly, or directly (oci: with capacity retries);
        after the talos layer, wait until the Kubernetes API answers on every control plane
        (the runner must be on the tailnet: the deploy workflow joins it first)."""
        ctr = _with_credentials(build_toolchain(self.source), None, oci_config, oci_key)
        ctr = _with_state_backend(ctr, state_access_key, state_secret_key)
        ctr = _with_fingerprint_key(ctr, fingerprint_key)
        ctr = _with_tailscale_key(ctr, tailscale_authkey)
        args = ["apply", "--layer", layer, "--stack", stack, *_backend_args(backend_config)]
        if plan is not None:
            ctr = ctr.with_directory("/reviewed", plan)
            args += ["--plan", "/reviewed"]
        return _freetier(ctr, *args)

    @uncached
    def bootstrap_proxmox(
        self,
        ssh_key: Annotated[
            dagger.Secret, Doc("private SSH key of the Proxmox hosts' image user (mounted 0600)")
        ],
        tailscale_authkey: Annotated[
            dagger.Secret | None,
            Doc("TS_AUTH_KEY: the auth key each host's Tailscale container joins with"),
        ] = None,
        oci_config: OptionalOciConfig = None,
        oci_key: OptionalOciKey = None,
        state_access_key: StateAccessKey = None,
        state_secret_key: StateSecretKey = None,
        backend_config: BackendConfig = None,
        dry_run: Annotated[bool, Doc("read every host, list what would change")] = False,
        stack: StackFile = "stack.yaml",
    ) -> dagger.Container:
        """The proxmox layer: `freetier proxmox bootstrap` over SSH (the hosts' addresses from
        the oci layer's state where they are OCI instances). The pinned host keys are in
        proxmox.known_hosts beside the stack: export that file from the returned container to
        commit what a first run pinned."""
        ctr = _with_credentials(build_toolchain(self.source), None, oci_config, oci_key)
        ctr = _with_state_backend(ctr, state_access_key, state_secret_key)
        ctr = ctr.with_mounted_secret(SSH_KEY, ssh_key, mode=0o600)
        if tailscale_authkey is not None:
            ctr = ctr.with_secret_variable("TS_AUTH_KEY", tailscale_authkey)
        args = ["proxmox", "bootstrap", "--stack", stack, "--ssh-key", SSH_KEY]
        args += _backend_args(backend_config) + (["--dry-run"] if dry_run else [])
        return _freetier(ctr, *args)

    @function
    def build_image(
        self,
        name: Annotated[str, Doc("base or proxmox (recipes in images/)")],
        arch: Annotated[str, Doc("arm64 (A1) or amd64 (E2.1.Micro)")] = "arm64",
        stack: StackFile = "stack.yaml",
    ) -> dagger.File:
        """Build NAME-ARCH.qcow2 from Debian packages; export it with `... export --path`."""
        out = "/images"
        # Downloaded .debs outlive the build (apt checks them against the signed index).
        debs = "/var/cache/freetier-debs"
        ctr = build_toolchain(self.source).with_mounted_cache(
            debs, dag.cache_volume(f"freetier-debs-{arch}")
        )
        ctr = _freetier(
            ctr.with_env_variable("FREETIER_DEB_CACHE", debs),
            "images",
            "build",
            name,
            "--arch",
            arch,
            "--out",
            out,
            "--stack",
            stack,
            # mmdebstrap --mode=root mounts /proc and /dev into the new root and chroots:
            # what a container without all root capabilities may not do.
            insecure_root_capabilities=True,
        )
        return ctr.file(f"{out}/{name}-{arch}.qcow2")

    @uncached
    def publish_image(
        self,
        name: Annotated[str, Doc("base or proxmox; or talos (from the Image Factory)")],
        oci_config: OciConfig,
        oci_key: OciKey,
        image: Annotated[
            dagger.File | None, Doc("NAME-ARCH.qcow2 from build_image (not for talos)")
        ] = None,
        arch: Annotated[str, Doc("arm64 or amd64")] = "arm64",
        stack: StackFile = "stack.yaml",
    ) -> dagger.File:
        """Upload, import and register the image; returns tofu/oci/images.auto.tfvars.json."""
        ctr = _with_credentials(build_toolchain(self.source), None, oci_config, oci_key)
        if name == "talos":
            args = ["images", "talos", "--arch", arch]
        else:
            if image is None:
                raise ValueError("publish_image: `image` is required unless name is talos")
            ctr = ctr.with_file(f"/images/{name}-{arch}.qcow2", image)
            args = ["images", "publish", name, "--arch", arch]
        ctr = _freetier(ctr, *args, "--dir", "/images", "--stack", stack)
        return ctr.file(_image_tfvars(stack))

    @function
    async def images_needed(self, stack: StackFile = "stack.yaml") -> str:
        """The image each architecture of the stack boots, as JSON: the images workflow's
        matrices ({build: [...], talos: [...]})."""
        args = ["images", "needed", "--format", "json", "--stack", stack]
        return await _freetier(build_toolchain(self.source), *args).stdout()

    @uncached
    def propose_images(
        self,
        ocids: Annotated[
            dagger.Directory,
            Doc("images.auto.tfvars.json files from publish_image runs, in any subfolders"),
        ],
        github_token: Annotated[dagger.Secret, Doc("GitHub token: pushes a branch, opens a PR")],
        repo: Repo,
        base: Annotated[str, Doc("the branch the pull request targets")] = "main",
        stack: StackFile = "stack.yaml",
    ) -> dagger.Container:
        """Open or update the pull request that carries the new image OCIDs to tofu/oci, so
        they reach the infrastructure through the same review as any change."""
        ctr = _with_credentials(build_toolchain(self.source), github_token, None, None)
        ctr = ctr.with_directory("/ocids", ocids)
        args = ["images", "propose", "--repo", repo, "--base", base, "--stack", stack]
        return _freetier(ctr, *args, "--ocids", "/ocids")

    @uncached
    def deploy(
        self,
        oci_config: OciConfig,
        oci_key: OciKey,
        github_token: Annotated[dagger.Secret, Doc("GitHub token: reads the merged PR")],
        repo: Repo,
        sha: Annotated[str, Doc("the commit on main being deployed")],
        state_access_key: StateAccessKey = None,
        state_secret_key: StateSecretKey = None,
        fingerprint_key: FingerprintKey = None,
        tailscale_authkey: TailscaleAuthKey = None,
        proxmox_ssh_key: ProxmoxSshKey = None,
        backend_config: BackendConfig = None,
        stack: StackFile = "stack.yaml",
    ) -> dagger.Container:
        """On main: apply each layer (oci, then talos; on the proxmox topology the proxmox
        bootstrap between them) exactly as its merged pull request reviewed it, then wait for
        the cluster; the runner must be on the tailnet."""
        ctr = _with_credentials(build_toolchain(self.source), github_token, oci_config, oci_key)
        ctr = _with_state_backend(ctr, state_access_key, state_secret_key)
        ctr = _with_fingerprint_key(ctr, fingerprint_key)
        ctr = _with_tailscale_key(ctr, tailscale_authkey)
        ctr, proxmox = _with_proxmox_key(ctr, proxmox_ssh_key)
        if proxmox and tailscale_authkey is not None:  # the hosts' Tailscale containers
            ctr = ctr.with_secret_variable("TS_AUTH_KEY", tailscale_authkey)
        args = ["deploy", "--repo", repo, "--sha", sha, "--stack", stack, *proxmox]
        return _freetier(ctr, *args, *_backend_args(backend_config))

    @uncached
    def bootstrap(
        self,
        age_key: Annotated[
            dagger.Secret,
            Doc(
                "FREETIER_AGE_KEY: the age identity Flux decrypts the tree's secrets with; it "
                "reaches the cluster only as the sops-age Secret"
            ),
        ],
        repo: Repo,
        state_access_key: StateAccessKey = None,
        state_secret_key: StateSecretKey = None,
        backend_config: BackendConfig = None,
        dry_run: Annotated[bool, Doc("say what would be applied; change nothing")] = False,
        stack: StackFile = "stack.yaml",
    ) -> dagger.Container:
        """After the talos layer: install Flux (its pinned release), the sops-age Secret and
        the sync of this repository, then wait until every Kustomization and HelmRelease is
        Ready; the kubeconfig comes from the talos layer's state, and the runner must be on
        the tailnet. Safe to rerun: a healthy cluster is left as it is."""
        ctr = _with_state_backend(build_toolchain(self.source), state_access_key, state_secret_key)
        ctr = ctr.with_secret_variable("FREETIER_AGE_KEY", age_key)
        args = ["bootstrap", "--repo", repo, "--stack", stack, *_backend_args(backend_config)]
        return _freetier(ctr, *args, *(["--dry-run"] if dry_run else []))

    @uncached
    def validate(
        self,
        oci_config: OptionalOciConfig = None,
        oci_key: OptionalOciKey = None,
        github_token: Annotated[
            dagger.Secret | None, Doc("GitHub token (issues: write) for --report-issue")
        ] = None,
        state_access_key: StateAccessKey = None,
        state_secret_key: StateSecretKey = None,
        backend_config: BackendConfig = None,
        report_issue: Annotated[
            str | None, Doc("OWNER/NAME: keep the one failing issue open there while it fails")
        ] = None,
        head: Annotated[str | None, Doc("the branch head Flux must have applied")] = None,
        require: Annotated[str, Doc("comma-separated checks whose skip is a failure")] = "",
        stack: StackFile = "stack.yaml",
    ) -> dagger.Directory:
        """After a deploy: is the stack alive and still free? Returns validate.md (the job
        summary) and validate.json (the verdict: `exit_code`); a failing check still writes
        both, the workflow reads the verdict from the JSON."""
        ctr = _with_credentials(build_toolchain(self.source), github_token, oci_config, oci_key)
        ctr = _with_state_backend(ctr, state_access_key, state_secret_key)
        ctr = ctr.with_directory(f"{OUT}/validate", dag.directory())
        args = ["validate", "--stack", stack, "--format", "json"]
        args += ["--summary", f"{OUT}/validate/validate.md"]
        args += ["--backend-config", backend_config] if backend_config else []
        args += ["--report-issue", report_issue] if report_issue else []
        args += ["--head", head] if head else []
        args += [
            a for name in require.split(",") if name.strip() for a in ("--require", name.strip())
        ]
        done = ctr.with_exec(
            [f"{VENV}/bin/freetier", *args],
            expect=dagger.ReturnType.ANY,
            redirect_stdout=f"{OUT}/validate/validate.json",
        )
        return done.directory(f"{OUT}/validate")


def _image_tfvars(stack: str) -> str:
    """Where `images publish` writes the image OCIDs and tofu/oci reads them."""
    return f"{SRC}/{PurePosixPath(stack).parent / 'tofu' / 'oci' / 'images.auto.tfvars.json'}"


def _backend_args(backend_config: str | None) -> list[str]:
    """Without a backend settings file, plans use local state (every resource looks new)."""
    return ["--backend-config", backend_config] if backend_config else ["--no-backend"]


def _freetier(
    ctr: dagger.Container, *args: str, insecure_root_capabilities: bool = False
) -> dagger.Container:
    """The same `freetier` command a user runs, from the toolchain's virtualenv."""
    return ctr.with_exec(
        [f"{VENV}/bin/freetier", *args], insecure_root_capabilities=insecure_root_capabilities
    )


def build_toolchain(source: dagger.Directory) -> dagger.Container:
    return (
        dag.container()
        .from_(PYTHON_IMAGE)
        .with_env_variable("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .with_env_variable("FREETIER_VENV", VENV)
        .with_file(
            "/usr/local/bin/tofu",
            dag.container().from_(TOFU_IMAGE).file("/usr/local/bin/tofu"),
        )
        .with_file(
            "/usr/local/bin/kubectl",
            dag.container().from_(KUBECTL_IMAGE).file("/bin/kubectl"),
        )
        .with_mounted_cache("/root/.cache/pip", dag.cache_volume("freetier-pip"))
        .with_directory(SRC, source)
        .with_workdir(SRC)
        .with_exec(["./dev", "setup"])
    )


def _with_state_backend(
    ctr: dagger.Container,
    access_key: dagger.Secret | None,
    secret_key: dagger.Secret | None,
) -> dagger.Container:
    """OCI Object Storage's S3-compatible API reads a customer secret key pair from here."""
    if access_key is not None:
        ctr = ctr.with_secret_variable("AWS_ACCESS_KEY_ID", access_key)
    if secret_key is not None:
        ctr = ctr.with_secret_variable("AWS_SECRET_ACCESS_KEY", secret_key)
    return ctr


def _with_fingerprint_key(ctr: dagger.Container, key: dagger.Secret | None) -> dagger.Container:
    """The key of the published plan fingerprints: plans, re-plans and deploys need the same."""
    return ctr if key is None else ctr.with_secret_variable("FREETIER_FINGERPRINT_KEY", key)


def _with_proxmox_key(
    ctr: dagger.Container, key: dagger.Secret | None
) -> tuple[dagger.Container, list[str]]:
    """The Proxmox hosts' key mounted 0600, and the argument that names it."""
    if key is None:
        return ctr, []
    return ctr.with_mounted_secret(SSH_KEY, key, mode=0o600), ["--proxmox-ssh-key", SSH_KEY]


def _with_tailscale_key(ctr: dagger.Container, key: dagger.Secret | None) -> dagger.Container:
    """tofu reads the layers' sensitive `tailscale_authkey` variable from here."""
    return ctr if key is None else ctr.with_secret_variable("TF_VAR_tailscale_authkey", key)


def _with_credentials(
    ctr: dagger.Container,
    github_token: dagger.Secret | None,
    oci_config: dagger.Secret | None,
    oci_key: dagger.Secret | None,
) -> dagger.Container:
    """Secrets enter only as Dagger secrets: an env var or a mounted file, never a plain string."""
    if github_token is not None:
        ctr = ctr.with_secret_variable("GITHUB_TOKEN", github_token)
    if oci_config is not None:
        # One file for both readers: freetier's SDK calls read OCI_CLI_CONFIG_FILE; the tofu
        # OCI provider reads ~/.oci/config of the container's user (root: this path), and
        # OCI_CONFIG_FILE when that is missing (see tofu/oci/versions.tf). Profile DEFAULT.
        ctr = (
            ctr.with_mounted_secret(f"{OCI_DIR}/config", oci_config)
            .with_env_variable("OCI_CLI_CONFIG_FILE", f"{OCI_DIR}/config")
            .with_env_variable("OCI_CONFIG_FILE", f"{OCI_DIR}/config")
        )
    if oci_key is not None:
        # The config's key_file must point here: ~/.oci/key.pem.
        ctr = ctr.with_mounted_secret(f"{OCI_DIR}/key.pem", oci_key, mode=0o600)
    return ctr
