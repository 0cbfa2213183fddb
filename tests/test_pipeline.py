"""The Dagger module without an engine: calls build queries lazily, so the built pipeline
(`_selections`) and the registered metadata (the SDK's `get_object`) are what we assert on."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import dagger
import pytest
from dagger import dag
from dagger.mod import default_module

from freetier import pipeline
from freetier.pipeline import Freetier
from tests.conftest import ROOT, install_tools_module

# What the SDK registers for the main object, the way its own tests read it
# (sdk/python/tests/mod in dagger/dagger: `mod.get_object("Foo")`).
MODULE = default_module().get_object("Freetier")


def _selections(obj: Any) -> list[tuple[str, dict[str, Any]]] | None:
    """The lazily built query behind a Dagger object, as (field, arguments) from the root;
    None for a value that is no Dagger object.

    The one reach into the SDK's private state: dagger-io 0.21 has no public way to read a
    query before it is sent (Context.build() and .request() need an engine session for
    the schema), and the SDK's own tests read `_ctx.selections` too
    (sdk/python/tests/client/test_integration.py in dagger/dagger).
    """
    ctx = getattr(obj, "_ctx", None)
    return None if ctx is None else [(f.name, f.args) for f in ctx.selections]


def _calls(obj: Any) -> list[tuple[str, dict[str, Any]]]:
    calls = _selections(obj)
    assert calls is not None, f"not a Dagger object: {obj!r}"
    return calls


def _walk(obj: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every selection of `obj` and of the Dagger objects passed to it as arguments."""
    for name, args in _calls(obj):
        yield name, args
        for value in args.values():
            if _selections(value) is not None:
                yield from _walk(value)


def _execs(obj: Any) -> list[list[str]]:
    return [args["args"] for name, args in _calls(obj) if name == "withExec"]


@pytest.fixture
def module() -> Freetier:
    return Freetier(source=dag.directory())


def test_dagger_json_pins_a_0_21_engine_and_the_sdk_matches() -> None:
    config = json.loads((ROOT / "dagger.json").read_text())
    assert config["name"] == "freetier"
    assert config["sdk"]["source"] == "python"
    assert config["engineVersion"].startswith("v0.21.")
    from importlib.metadata import version

    assert version("dagger-io") == config["engineVersion"].removeprefix("v")


def test_main_object_is_found_through_the_entry_point() -> None:
    from importlib.metadata import entry_points

    (ep,) = entry_points(group="dagger.mod", name="main_object")
    assert ep.load() is Freetier


def test_source_defaults_to_the_repository_root() -> None:
    source = MODULE.get_constructor().parameters["source"]
    assert source.default_path == "/"
    assert ".venv" in (source.ignore or [])


@pytest.mark.parametrize(
    ("name", "policy"),
    [
        ("check", "never"),
        ("pr", "never"),
        ("deploy", "never"),
        ("bootstrap_proxmox", "never"),
        ("bootstrap", "never"),
        ("toolchain", None),
    ],
)
def test_side_effecting_functions_are_never_cached(name: str, policy: str | None) -> None:
    assert MODULE.functions[name].cache_policy == policy


def test_every_credential_argument_is_a_dagger_secret() -> None:
    for fn in MODULE.functions.values():
        for param in fn.parameters.values():
            if any(word in param.name for word in ("token", "key", "oci_config", "password")):
                assert param.resolved_type in (dagger.Secret, dagger.Secret | None), param.name


def test_toolchain_uses_pinned_images_and_the_readme_set_up(module: Freetier) -> None:
    calls = list(_walk(module.toolchain()))
    images = [args["address"] for name, args in calls if name == "from"]
    assert [image.split(":")[0] for image in images] == [
        "python",
        "ghcr.io/opentofu/opentofu",
        "registry.k8s.io/kubectl",
    ]
    assert all(re.search(r":[\w.-]+@sha256:[0-9a-f]{64}$", image) for image in images), images
    # tofu and kubectl land on PATH before `./dev setup`, which then downloads neither.
    copied = [args["path"] for name, args in calls if name == "withFile"]
    assert copied == ["/usr/local/bin/tofu", "/usr/local/bin/kubectl"]
    assert _execs(module.toolchain())[-1] == ["./dev", "setup"]


def test_toolchain_tools_match_the_dev_set_up_pins() -> None:
    """One version of each tool whichever way a machine is set up."""
    pins = install_tools_module().PINS
    assert f"opentofu:{pins['tofu']['version']}-" in pipeline.TOFU_IMAGE
    assert f"kubectl:v{pins['kubectl']['version']}@" in pipeline.KUBECTL_IMAGE


def test_nothing_reads_host_paths(module: Freetier) -> None:
    c, k, t = (dag.set_secret(n, "placeholder") for n in ("c", "k", "t"))
    built = [
        module.toolchain(),
        module.check(),
        module.pr(),
        module.deploy(oci_config=c, oci_key=k, github_token=t, repo="o/r", sha="a" * 40),
        module.comment(plans=dag.directory()),
        module.apply(layer="oci", oci_config=c, oci_key=k),
    ]
    for obj in built:
        assert all(name != "host" for name, _ in _walk(obj))


def test_check_runs_the_readme_test_command(module: Freetier) -> None:
    assert _execs(module.check())[-1] == ["./dev", "test"]


def test_pr_without_secrets_runs_offline_and_returns_only_the_reports(module: Freetier) -> None:
    out = module.pr()
    calls = _calls(out)
    assert isinstance(out, dagger.Directory)
    # The plan files hold values in clear: they never leave the container.
    assert calls[-2:] == [
        ("directory", {"path": pipeline.OUT}),
        ("withoutDirectory", {"path": pipeline.PLANS}),
    ]
    assert calls[-3] == (
        "withExec",
        {
            "args": ["./dev", "pr", "--stack", "stack.yaml", "--out", pipeline.OUT, "--no-backend"],
            "expect": "ANY",
        },
    )
    assert not [name for name, _ in calls if "Secret" in name]


def test_pr_on_a_pull_request_posts_with_its_numbers(module: Freetier) -> None:
    calls = _calls(
        module.pr(
            repo="o/r",
            pr_number=7,
            head_sha="h" * 40,
            base_sha="b" * 40,
            backend_config="tofu/oci/backend.hcl",
        )
    )
    assert calls[-3][1]["args"][4:] == [
        "--out",
        pipeline.OUT,
        "--backend-config",
        "tofu/oci/backend.hcl",
        "--repo",
        "o/r",
        "--pr",
        "7",
        "--sha",
        "h" * 40,
        "--base-sha",
        "b" * 40,
    ]


def test_pr_mounts_secrets_as_secrets(module: Freetier) -> None:
    token, config, key = (dag.set_secret(n, "placeholder") for n in ("t", "c", "k"))
    calls = _calls(module.pr(github_token=token, oci_config=config, oci_key=key))
    assert ("withSecretVariable", {"name": "GITHUB_TOKEN", "secret": token}) in calls
    assert ("withMountedSecret", {"path": "/root/.oci/config", "source": config}) in calls
    assert (
        "withMountedSecret",
        {"path": "/root/.oci/key.pem", "source": key, "mode": 0o600},
    ) in calls
    assert (
        "withEnvVariable",
        {"name": "OCI_CLI_CONFIG_FILE", "value": "/root/.oci/config"},
    ) in calls
    # What the tofu OCI provider reads: ~/.oci/config of root (the toolchain runs as root:
    # no withUser), or OCI_CONFIG_FILE; it never reads OCI_CLI_CONFIG_FILE.
    assert ("withEnvVariable", {"name": "OCI_CONFIG_FILE", "value": "/root/.oci/config"}) in calls
    assert "withUser" not in [name for name, _ in calls]
    # Secrets are mounted before the command runs, and never appear in its argv.
    names = [name for name, _ in calls]
    assert names.index("withSecretVariable") < len(names) - 2
    assert all("placeholder" not in " ".join(argv) for argv in _execs(module.pr()))


def test_deploy_applies_what_the_merged_pr_reviewed(module: Freetier) -> None:
    for name in ("oci_config", "oci_key", "github_token", "repo", "sha"):
        assert not MODULE.functions["deploy"].parameters[name].is_nullable
    c, k, t = (dag.set_secret(n, "x") for n in ("c", "k", "t"))
    ctr = module.deploy(oci_config=c, oci_key=k, github_token=t, repo="o/r", sha="a" * 40)
    assert _execs(ctr)[-1] == [
        f"{pipeline.VENV}/bin/freetier",
        "deploy",
        "--repo",
        "o/r",
        "--sha",
        "a" * 40,
        "--stack",
        "stack.yaml",
        "--no-backend",
    ]
    assert ("withSecretVariable", {"name": "GITHUB_TOKEN", "secret": t}) in _calls(ctr)


def test_bootstrap_runs_the_command_with_the_age_key_as_a_secret(module: Freetier) -> None:
    assert not MODULE.functions["bootstrap"].parameters["age_key"].is_nullable
    key = dag.set_secret("age", "x")
    ctr = module.bootstrap(age_key=key, repo="o/r", backend_config="backend.hcl")
    assert _execs(ctr)[-1] == [
        f"{pipeline.VENV}/bin/freetier",
        "bootstrap",
        "--repo",
        "o/r",
        "--stack",
        "stack.yaml",
        "--backend-config",
        "backend.hcl",
    ]
    assert ("withSecretVariable", {"name": "FREETIER_AGE_KEY", "secret": key}) in _calls(ctr)
    assert _execs(module.bootstrap(age_key=key, repo="o/r", dry_run=True))[-1][-1] == "--dry-run"


def test_apply_mounts_the_reviewed_plan(module: Freetier) -> None:
    c, k = dag.set_secret("c", "x"), dag.set_secret("k", "x")
    ctr = module.apply(layer="oci", oci_config=c, oci_key=k, plan=dag.directory())
    assert _execs(ctr)[-1][-2:] == ["--plan", "/reviewed"]
    direct = module.apply(layer="oci", oci_config=c, oci_key=k)
    assert "--plan" not in _execs(direct)[-1]
    # tofu runs here: the provider's config file is set for it.
    config_file = {"name": "OCI_CONFIG_FILE", "value": "/root/.oci/config"}
    assert ("withEnvVariable", config_file) in _calls(direct)


def test_comment_renders_every_layer_to_a_file(module: Freetier) -> None:
    out = module.comment(plans=dag.directory(), guard=dag.directory().file("g.json"))
    calls = _calls(out)
    assert calls[-1] == ("file", {"path": "/comment.md"})
    name, args = calls[-2]
    assert name == "withExec" and args["redirectStdout"] == "/comment.md"
    assert args["args"][1:] == [
        "comment",
        "render",
        "--budget",
        "60000",
        "--plan",
        "oci=/plans/oci",
        "--plan",
        "talos=/plans/talos",
        "--guard",
        "/guard.json",
    ]
    only_oci = module.comment(plans=dag.directory(), layers="oci")
    assert _calls(only_oci)[-2][1]["args"][-2:] == ["--plan", "oci=/plans/oci"]


def test_guard_runs_the_cli_and_mounts_oci_credentials_only_as_secrets(module: Freetier) -> None:
    config, key = dag.set_secret("c", "placeholder"), dag.set_secret("k", "placeholder")
    calls = _calls(module.guard(oci_config=config, oci_key=key, live=True, format="json"))
    assert calls[-1] == (
        "withExec",
        {
            "args": [
                f"{pipeline.VENV}/bin/freetier",
                "guard",
                "--stack",
                "stack.yaml",
                "--format",
                "json",
                "--live",
            ]
        },
    )
    assert ("withMountedSecret", {"path": "/root/.oci/config", "source": config}) in calls


def test_guard_offline_by_default(module: Freetier) -> None:
    calls = _calls(module.guard())
    assert calls[-1][1]["args"][-1] == "text"
    assert not [name for name, _ in calls if "Secret" in name]


def test_plan_returns_the_layer_folder_with_state_keys_as_secrets(module: Freetier) -> None:
    secrets = {n: dag.set_secret(n, "placeholder") for n in ("c", "k", "a", "s")}
    out = module.plan(
        layer="oci",
        oci_config=secrets["c"],
        oci_key=secrets["k"],
        state_access_key=secrets["a"],
        state_secret_key=secrets["s"],
        backend_config="tofu/oci/backend.hcl",
    )
    calls = _calls(out)
    assert calls[-1] == ("directory", {"path": f"{pipeline.OUT}/plans/oci"})
    assert calls[-2][1]["args"][1:] == [
        "plan",
        "--layer",
        "oci",
        "--stack",
        "stack.yaml",
        "--out",
        f"{pipeline.OUT}/plans",
        "--backend-config",
        "tofu/oci/backend.hcl",
    ]
    assert (
        "withSecretVariable",
        {"name": "AWS_SECRET_ACCESS_KEY", "secret": secrets["s"]},
    ) in calls
    assert not MODULE.functions["plan"].parameters["oci_key"].is_nullable


def test_build_image_returns_the_qcow2_as_a_file(module: Freetier) -> None:
    out = module.build_image(name="base", arch="arm64")
    calls = _calls(out)
    assert calls[-1] == ("file", {"path": "/images/base-arm64.qcow2"})
    assert calls[-2][1]["args"][1:] == [
        "images",
        "build",
        "base",
        "--arch",
        "arm64",
        "--out",
        "/images",
        "--stack",
        "stack.yaml",
    ]
    assert calls[-2][1].get("insecureRootCapabilities") is True
    (cache,) = [
        args for name, args in calls if name == "withMountedCache" and "debs" in args["path"]
    ]
    assert ("withEnvVariable", {"name": "FREETIER_DEB_CACHE", "value": cache["path"]}) in calls
    assert MODULE.functions["publish_image"].cache_policy == "never"


def test_only_the_image_build_runs_with_all_root_capabilities(module: Freetier) -> None:
    s = dag.set_secret("s", "x")
    others = [
        module.check(),
        module.publish_image(name="talos", oci_config=s, oci_key=s),
        module.deploy(oci_config=s, oci_key=s, github_token=s, repo="o/r", sha="abc"),
    ]
    privileged = [
        args["args"]
        for obj in others
        for name, args in _walk(obj)
        if name == "withExec" and args.get("insecureRootCapabilities")
    ]
    assert privileged == []


def test_publish_image_takes_credentials_as_secrets(module: Freetier) -> None:
    c, k = dag.set_secret("c", "x"), dag.set_secret("k", "x")
    out = module.publish_image(
        name="base", oci_config=c, oci_key=k, image=dag.directory().file("base-arm64.qcow2")
    )
    calls = _calls(out)
    assert calls[-1] == ("file", {"path": f"{pipeline.SRC}/tofu/oci/images.auto.tfvars.json"})
    assert (
        "withMountedSecret",
        {"path": "/root/.oci/key.pem", "source": k, "mode": 0o600},
    ) in calls
    with pytest.raises(ValueError, match="image"):
        module.publish_image(name="base", oci_config=c, oci_key=k)


def test_propose_images_merges_the_publish_runs_and_opens_a_pr(module: Freetier) -> None:
    token = dag.set_secret("t", "x")
    runs = dag.directory()
    out = module.propose_images(ocids=runs, github_token=token, repo="o/r", stack="s/stack.yaml")
    calls = _calls(out)
    assert ("withDirectory", {"path": "/ocids", "source": runs}) in calls
    assert ("withSecretVariable", {"name": "GITHUB_TOKEN", "secret": token}) in calls
    assert _execs(out)[-1][1:] == [
        "images",
        "propose",
        "--repo",
        "o/r",
        "--base",
        "main",
        "--stack",
        "s/stack.yaml",
        "--ocids",
        "/ocids",
    ]
    assert MODULE.functions["propose_images"].cache_policy == "never"


def test_images_needed_returns_the_cli_json() -> None:
    fn = MODULE.functions["images_needed"]
    assert fn.return_type is str and fn.cache_policy is None


def test_every_parameter_is_documented_for_dagger_call_help() -> None:
    undocumented = [
        f"{fn.name}.{param.name}"
        for fn in MODULE.functions.values()
        for param in fn.parameters.values()
        if not param.doc
    ]
    assert undocumented == []
    stack = MODULE.functions["deploy"].parameters["stack"]
    assert (stack.doc, stack.resolved_type, stack.has_default) == (
        "stack file, relative to the repository",
        str,
        True,
    )


@pytest.mark.parametrize(
    ("param", "variable"),
    [
        ("fingerprint_key", "FREETIER_FINGERPRINT_KEY"),
        ("tailscale_authkey", "TF_VAR_tailscale_authkey"),
    ],
)
@pytest.mark.parametrize("name", ["pr", "plan", "apply", "deploy"])
def test_plan_and_deploy_secrets_reach_the_container_as_secret_variables(
    module: Freetier, name: str, param: str, variable: str
) -> None:
    documented = MODULE.functions[name].parameters[param]
    assert documented.is_nullable and variable in (documented.doc or "")
    key = dag.set_secret(param, "placeholder")
    required: dict[str, Any] = {
        "pr": {},
        "plan": {"layer": "talos"},
        "apply": {"layer": "talos"},
        "deploy": {"github_token": key, "repo": "o/r", "sha": "a" * 40},
    }[name]
    if name != "pr":
        required |= {"oci_config": key, "oci_key": key}
    function = getattr(module, name)
    mounted = ("withSecretVariable", {"name": variable, "secret": key})
    assert mounted in _calls(function(**required, **{param: key}))
    assert mounted not in _calls(function(**required))
    argv = " ".join(" ".join(a) for a in _execs(function(**required, **{param: key})))
    assert "placeholder" not in argv


def test_bootstrap_proxmox_takes_the_ssh_key_as_a_mounted_secret(module: Freetier) -> None:
    key = dag.set_secret("ssh_key", "placeholder")
    ts = dag.set_secret("ts", "placeholder-ts")
    ctr = module.bootstrap_proxmox(ssh_key=key, tailscale_authkey=ts, dry_run=True)
    calls = _calls(ctr)
    assert (
        "withMountedSecret",
        {"path": "/run/secrets/freetier-ssh-key", "source": key, "mode": 0o600},
    ) in calls
    assert ("withSecretVariable", {"name": "TS_AUTH_KEY", "secret": ts}) in calls
    [*_, last] = _execs(ctr)
    assert last[1:] == [
        "proxmox",
        "bootstrap",
        "--stack",
        "stack.yaml",
        "--ssh-key",
        "/run/secrets/freetier-ssh-key",
        "--no-backend",
        "--dry-run",
    ]


@pytest.mark.parametrize("name", ["pr", "deploy"])
def test_pr_and_deploy_take_the_proxmox_key_as_a_mounted_secret(
    module: Freetier, name: str
) -> None:
    key = dag.set_secret("proxmox_ssh_key", "placeholder")
    ts = dag.set_secret("ts", "placeholder-ts")
    required: dict[str, Any] = {
        "pr": {},
        "deploy": {"github_token": ts, "repo": "o/r", "sha": "a" * 40, "oci_config": ts}
        | {"oci_key": ts},
    }[name]
    function = getattr(module, name)
    ctr = function(**required, proxmox_ssh_key=key, tailscale_authkey=ts)
    mounted = (
        "withMountedSecret",
        {"path": "/run/secrets/freetier-ssh-key", "source": key, "mode": 0o600},
    )
    assert mounted in _calls(ctr)
    [*_, last] = _execs(ctr)
    at = last.index("--proxmox-ssh-key")
    assert last[at + 1] == "/run/secrets/freetier-ssh-key"
    assert "placeholder" not in " ".join(last)
    lxc_key = ("withSecretVariable", {"name": "TS_AUTH_KEY", "secret": ts})
    assert (lxc_key in _calls(ctr)) is (name == "deploy")
    without = function(**required)
    assert mounted not in _calls(without)
    assert "--proxmox-ssh-key" not in _execs(without)[-1]


def test_validate_keeps_the_report_on_failure_and_takes_credentials_as_secrets(
    module: Freetier,
) -> None:
    secrets = {n: dag.set_secret(n, "placeholder") for n in ("c", "k", "g", "a", "s")}
    out = module.validate(
        oci_config=secrets["c"],
        oci_key=secrets["k"],
        github_token=secrets["g"],
        state_access_key=secrets["a"],
        state_secret_key=secrets["s"],
        backend_config="tofu/oci/backend.hcl",
        report_issue="octo/infra",
        head="2f1c0de5",
        require="talos, flux",
    )
    calls = _calls(out)
    assert calls[-1] == ("directory", {"path": f"{pipeline.OUT}/validate"})
    name, args = calls[-2]
    assert name == "withExec"
    # A failing check (exit 1) still hands back the report: the workflow reads the verdict.
    assert args["expect"] == "ANY"
    assert args["redirectStdout"] == f"{pipeline.OUT}/validate/validate.json"
    assert args["args"][1:] == [
        "validate",
        "--stack",
        "stack.yaml",
        "--format",
        "json",
        "--summary",
        f"{pipeline.OUT}/validate/validate.md",
        "--backend-config",
        "tofu/oci/backend.hcl",
        "--report-issue",
        "octo/infra",
        "--head",
        "2f1c0de5",
        "--require",
        "talos",
        "--require",
        "flux",
    ]
    assert ("withSecretVariable", {"name": "GITHUB_TOKEN", "secret": secrets["g"]}) in calls
    assert ("withMountedSecret", {"path": "/root/.oci/config", "source": secrets["c"]}) in calls
