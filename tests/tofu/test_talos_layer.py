"""Layer 2, tofu/talos, checked statically: the talos provider cannot be downloaded here (nor
built: its source vendors no Go modules), so no `tofu validate` or plan runs on it. Instead:
formatted, clean under checkov, parsed with python-hcl2 (checkov's bc-python-hcl2), and every
resource, data source and argument it uses exists, writable and of the right kind, in the
provider's documented schema for the pinned version (tests/tofu/fixtures/
talos-provider-schema.json, the docs/ of siderolabs/terraform-provider-talos at v0.11.0).
Its variables are exercised by a real terraform through the stand-in layer
(tests/test_cli_talos.py copies this layer's variables.tf)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from freetier.talos.machine import TAILSCALE_AUTHKEY_PLACEHOLDER
from tests.tofu.test_oci_layer import (
    assert_formatted,
    checkov_command,
    run,
    tofu_binary,
    tool_env,
)

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "tofu" / "talos"
SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "talos-provider-schema.json").read_text())
# The helm provider's documented schema of `helm_template` at v3.1.2 (the fixture names its
# source): the data source that renders Cilium into the control planes' inline manifest.
HELM_SCHEMA = json.loads(
    (Path(__file__).parent / "fixtures" / "helm-provider-schema.json").read_text()
)
META = {"for_each", "count", "depends_on", "lifecycle", "provider"}


@pytest.fixture(scope="module")
def hcl() -> dict[str, dict[str, Any]]:
    return {p.name: hcl2.loads(p.read_text(encoding="utf-8")) for p in sorted(LAYER.glob("*.tf"))}


def blocks(hcl: dict[str, dict[str, Any]], kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of every `resource` or `data` block of the layer."""
    found = []
    for doc in hcl.values():
        for entry in doc.get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    found.append((rtype, name, body))
    return found


def arguments(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if not k.startswith("__") and k not in META}


def schema_problems(kind: str, rtype: str, name: str, body: dict[str, Any]) -> list[str]:
    schema = HELM_SCHEMA if rtype.startswith("helm_") else SCHEMA
    documented = schema[kind].get(rtype)
    if documented is None:
        return [f"{kind} {rtype}: not in the provider's documented schema"]
    top = documented[""]
    where = f"{kind} {rtype}.{name}"
    args = arguments(body)
    problems = [p for arg, v in args.items() for p in argument_problems(documented, arg, v)]
    problems += [
        f"{arg}: required, not set"
        for arg, spec in top.items()
        if spec["kind"] == "required" and arg not in args
    ]
    return [f"{where}: {p}" for p in problems]


def argument_problems(documented: dict[str, Any], arg: str, value: Any) -> list[str]:
    spec = documented[""].get(arg)
    if spec is None:
        return [f"{arg}: no such argument"]
    if spec["kind"] == "read-only":
        return [f"{arg}: read-only, cannot be set"]
    item = value[0] if isinstance(value, list) and value else value
    if spec["type"] != "Attributes" or not isinstance(item, dict):
        return []
    # An object literal (`arg = { ... }`); a block (`arg { ... }`) would wrap each value in a
    # list, and the plugin-framework provider refuses block syntax for nested attributes.
    problems = []
    if any(isinstance(v, list) for v in item.values()):
        problems.append(f"{arg}: an attribute: write `{arg} = {{...}}`")
    problems += [f"{arg}.{k}: no such attribute" for k in item if k not in documented.get(arg, {})]
    return problems


# --- 1. the pin and the vendored schema ------------------------------------------------------


def test_provider_pinned_to_the_stable_0_11_line(hcl) -> None:
    (terraform,) = hcl["versions.tf"]["terraform"]
    (providers,) = terraform["required_providers"]
    assert providers["talos"] == [{"source": "siderolabs/talos", "version": "~> 0.11.0"}]
    assert SCHEMA["version"] == "0.11.0" and SCHEMA["provider"] == "siderolabs/talos"
    assert "v0.11.0 (commit d69608163e7afd37afad3f93a9813d4ba27381bf)" in SCHEMA["source"]


def test_the_backend_is_tofu_oci_s() -> None:
    assert (LAYER / "backend.tf").read_text() == (ROOT / "tofu" / "oci" / "backend.tf").read_text()


# --- 2. every resource, data source and argument in the documented schema --------------------


def test_every_block_and_argument_is_in_the_documented_schema(hcl) -> None:
    # bpg/proxmox's resources (the proxmox topology) are checked by test_talos_proxmox.py.
    used = [("resource", *b) for b in blocks(hcl, "resource") if not b[0].startswith("proxmox_")]
    used += [("data", *b) for b in blocks(hcl, "data")]
    assert {f"{k} {t}" for k, t, _, _ in used} == {
        "resource talos_image_factory_schematic",
        "resource talos_machine_secrets",
        "data talos_machine_configuration",
        "resource talos_machine_configuration_apply",
        "resource talos_machine_bootstrap",
        "resource talos_cluster_kubeconfig",
        "data talos_client_configuration",
        "data helm_template",
    }
    problems = [
        p for kind, rtype, name, body in used for p in schema_problems(kind, rtype, name, body)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"node": ["x"], "nodes": ["y"]}, "nodes: no such argument"),
        ({"node": ["x"], "id": ["y"]}, "id: read-only, cannot be set"),
        ({"endpoint": ["x"]}, "node: required, not set"),
        ({"node": ["x"], "timeouts": [{"create": ["5m"]}]}, "timeouts: an attribute"),
        ({"node": ["x"], "timeouts": [{"delete": "5m"}]}, "timeouts.delete: no such attribute"),
    ],
)
def test_the_schema_check_catches_what_the_provider_refuses(body, problem) -> None:
    found = schema_problems("resource", "talos_machine_bootstrap", "t", body)
    assert any(problem in p for p in found), found


def test_talos_version_is_set_where_the_provider_recommends_it(hcl) -> None:
    data = {n: b for t, n, b in blocks(hcl, "data") if t == "talos_machine_configuration"}
    assert data["role"]["talos_version"] == ["${var.talos_version}"]
    assert data["role"]["kubernetes_version"] == ["${var.kubernetes_version}"]
    assert data["role"]["for_each"] == ["${local.roles}"]
    assert data["role"]["machine_type"] == ["${each.key}"]
    assert data["role"]["config_patches"] == ["${lookup(local.role_patches,each.key,[])}"]
    secrets = {n: b for t, n, b in blocks(hcl, "resource") if t == "talos_machine_secrets"}
    assert secrets["this"]["talos_version"] == ["${var.talos_version}"]
    assert secrets["this"]["lifecycle"] == [{"prevent_destroy": [True]}]


def test_config_applied_per_node_and_bootstrapped_once_on_the_first_control_plane(hcl) -> None:
    res = {(t, n): b for t, n, b in blocks(hcl, "resource")}
    apply = res[("talos_machine_configuration_apply", "node")]
    assert apply["for_each"] == ["${var.nodes}"]
    assert apply["node"] == apply["endpoint"] == ["${each.value.private_ip}"]
    assert apply["config_patches"] == ["${local.node_patches[each.key]}"]
    boot = res[("talos_machine_bootstrap", "this")]
    assert "for_each" not in boot and "count" not in boot
    assert boot["node"] == ["${var.nodes[var.bootstrap_node].private_ip}"]
    assert boot["depends_on"] == [["${talos_machine_configuration_apply.node}"]]
    kube = res[("talos_cluster_kubeconfig", "this")]
    assert kube["depends_on"] == [["${talos_machine_bootstrap.this}"]]


def test_the_tailscale_key_is_a_sensitive_variable_put_where_the_patches_refer_to_it(hcl) -> None:
    (variables,) = [v for v in hcl["variables.tf"]["variable"] if "tailscale_authkey" in v]
    key = variables["tailscale_authkey"]
    assert key["sensitive"] == [True] and "default" not in key
    (locals_,) = hcl["main.tf"]["locals"]
    assert locals_["auth_key_ref"] == [TAILSCALE_AUTHKEY_PLACEHOLDER.replace("${", "$${")]
    text = (LAYER / "main.tf").read_text()
    assert text.count("replace(patch, local.auth_key_ref, var.tailscale_authkey)") == 2


def test_secret_outputs_are_sensitive(hcl) -> None:
    outputs = {k: v for o in hcl["outputs.tf"]["output"] for k, v in o.items()}
    assert outputs["kubeconfig"]["value"] == ["${talos_cluster_kubeconfig.this.kubeconfig_raw}"]
    assert outputs["talosconfig"]["value"] == [
        "${data.talos_client_configuration.this.talos_config}"
    ]
    assert outputs["kubeconfig"]["sensitive"] == outputs["talosconfig"]["sensitive"] == [True]
    assert "sensitive" not in outputs["control_planes"]


def test_variables_match_what_freetier_derives() -> None:
    """The names of tofu/talos's inputs are a contract with ci/freetier/tofu/vars.py."""
    from freetier.stack import load_stack
    from freetier.tofu.vars import derive_talos_vars
    from tests.conftest import SHIPPED_STACK

    outputs = {
        "instance_private_ips": {"node-1": "10.0.1.10", "node-2": "10.0.1.11"},
        "instance_public_ips": {"node-1": "192.0.2.10", "node-2": "192.0.2.11"},
    }
    derived = derive_talos_vars(load_stack(SHIPPED_STACK), outputs)
    declared = {k for v in hcl2.loads((LAYER / "variables.tf").read_text())["variable"] for k in v}
    assert declared - set(derived) == {"tailscale_authkey"}
    assert set(derived) <= declared


OCI_OUTPUTS = {
    "instance_private_ips": {"node-1": "10.0.1.10", "node-2": "10.0.1.11"},
    "instance_public_ips": {"node-1": "192.0.2.10", "node-2": "192.0.2.11"},
}


@pytest.mark.parametrize(
    ("talos", "form", "controlplane", "worker", "first_own"),
    [
        pytest.param(
            "v1.13.9",
            "v1alpha1-1.13",
            ["cluster+machine"],
            ["cluster+machine"],
            # machine.install, .certSANs, ...; on control planes cluster.apiServer.certSANs
            ("cluster+machine", "machine"),
            id="talos-1.13",
        ),
        pytest.param(
            "v1.14.0",
            "multidoc-1.14",
            [
                "KubeNetworkConfig",
                "KubeFlannelCNIConfig",
                "KubeProxyConfig",
                "KubeExternalManifestConfig",
                "cluster",
                "KubePrismConfig",
            ],
            ["KubeNetworkConfig", "cluster", "KubePrismConfig"],
            ("machine", "machine"),  # machine.certSANs, then the 1.14 node kinds
            id="talos-1.14",
        ),
    ],
)
def test_talos_vars_carry_the_form_and_each_role_its_cluster_patches(
    talos: str,
    form: str,
    controlplane: list[str],
    worker: list[str],
    first_own: tuple[str, str],
) -> None:
    """Each role's configuration gets the cluster patches of its role, each node the rest, and
    main.tf learns the form from `talos_config_form`."""
    from freetier.stack import load_stack
    from freetier.tofu.vars import derive_talos_vars
    from tests.conftest import SHIPPED_STACK

    stack = load_stack(SHIPPED_STACK)
    stack = stack.model_copy(
        update={"versions": stack.versions.model_copy(update={"talos": talos})}
    )
    derived = derive_talos_vars(stack, OCI_OUTPUTS)

    def names(texts: list[str]) -> list[str]:
        docs = [yaml.safe_load(t) for t in texts]
        return [d.get("kind") or "+".join(sorted(d)) for d in docs]

    assert derived["talos_config_form"] == form
    assert names(derived["role_patches"]["controlplane"]) == controlplane
    assert names(derived["role_patches"]["worker"]) == worker
    for node, first, count in (("node-1", first_own[0], 1), ("node-2", first_own[1], 0)):
        own = names(derived["nodes"][node]["config_patches"])
        assert own[0] == first
        assert not set(own) & {"KubeNetworkConfig", "KubePrismConfig", "KubeProxyConfig"}
        assert own.count("KubeAPIServerConfig") == (count if form == "multidoc-1.14" else 0)


def test_generated_inputs_and_state_are_ignored() -> None:
    ignored = (LAYER / ".gitignore").read_text().splitlines()
    assert {"stack.auto.tfvars.json", ".terraform/", "*.tfstate*"} <= set(ignored)


# --- 3. tools ------------------------------------------------------------------------------


def test_fmt_check_passes(tmp_path: Path) -> None:
    assert_formatted(LAYER, tmp_path)


def test_checkov_finds_no_failed_check(tmp_path: Path) -> None:
    argv = [
        *checkov_command(),
        "--directory",
        str(LAYER),
        "--framework",
        "terraform",
        "--compact",
        "--skip-download",
        "--output",
        "json",
    ]
    result = run(argv, tmp_path, tool_env(tmp_path / "home"))
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov gave no JSON report (exit {result.returncode}):\n{result.stderr}")
    # checkov 3 knows no talos_* resource: it parses the layer (no parsing errors) and has no
    # check that applies, which it reports as a bare summary rather than a results list.
    reports = report if isinstance(report, list) else [report]
    summaries = [r.get("summary", r) for r in reports]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    for check in failed:
        print(f"FAILED {check['check_id']} {check['check_name']}: {check['resource']}")
    assert not failed and all(s["failed"] == 0 for s in summaries), summaries
    assert all(s["parsing_errors"] == 0 for s in summaries), summaries


def test_no_secret_material_in_the_layer() -> None:
    text = "".join(p.read_text() for p in LAYER.glob("*"))
    assert not re.search(r"tskey-[a-z]+-\w{6,}", text)
    assert "BEGIN" not in text


# --- 4. Cilium at bootstrap: the chart rendered into the control planes' inline manifest ------


def _main_tf_expression(name: str) -> str:
    """The raw HCL of `name = ...` in main.tf's locals, up to its closing bracket."""
    text = (LAYER / "main.tf").read_text()
    start = text.index(f"  {name} = ") + len(f"  {name} = ")
    depth = 0
    for end, char in enumerate(text[start:], start):
        if char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
            if depth == 0:
                return text[start : end + 1]
    raise AssertionError(f"main.tf: {name}: no closing bracket")


def _console(tmp_path: Path, expression: str, variables: dict[str, Any]) -> Any:
    """Evaluate one expression with the real terraform (no provider needed), as JSON."""
    folder = tmp_path / "console"
    folder.mkdir(exist_ok=True)
    declared = "".join(f'variable "{name}" {{}}\n' for name in variables)
    # In a `locals` block, so an expression may span lines as in main.tf.
    (folder / "main.tf").write_text(
        f"{declared}locals {{\n  expression = {expression}\n}}\n", encoding="utf-8"
    )
    (folder / "terraform.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
    env = tool_env(tmp_path / "home")
    result = subprocess.run(
        [tofu_binary(), "console"],
        input="jsonencode(local.expression)\n",
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout))


def test_helm_template_renders_exactly_the_cilium_input(hcl) -> None:
    (body,) = [b for t, n, b in blocks(hcl, "data") if t == "helm_template"]
    assert {k: v for k, v in arguments(body).items() if k != "lifecycle"} == {
        "name": ["${var.cilium.release}"],
        "namespace": ["${var.cilium.namespace}"],
        "repository": ["${var.cilium.repository}"],
        "chart": ["${var.cilium.chart}"],
        "version": ["${var.cilium.version}"],
        "values": [["${var.cilium.values}"]],
        "kube_version": ["${var.kubernetes_version}"],
        "api_versions": ["${var.cilium.api_versions}"],
        # Helm's DisableHooks (helm/data_helm_template.go at v3.1.2: hooks are appended to
        # `manifest` only when it is false), and no test pods.
        "disable_webhooks": [True],
        "skip_tests": [True],
        "include_crds": [False],
    }
    assert HELM_SCHEMA["data"]["helm_template"][""]["disable_webhooks"]["kind"] == "optional"
    variables = {k: v for d in hcl["variables.tf"]["variable"] for k, v in d.items()}
    declared = variables["cilium"]["type"][0]
    # The variable's attributes are exactly what freetier derives (tofu/vars.py's contract).
    from freetier.stack import load_stack
    from freetier.talos.cilium import cilium_bootstrap
    from tests.conftest import SHIPPED_STACK

    attributes = set(re.findall(r"'(\w+)': '\$\{(?:string|list\(string\))\}'", declared))
    assert attributes == set(cilium_bootstrap(load_stack(SHIPPED_STACK)))
    assert attributes == {
        "release", "namespace", "repository", "chart", "version", "values", "api_versions"
    }  # fmt: skip


def test_the_inline_manifest_goes_to_control_planes_only(hcl) -> None:
    (locals_,) = hcl["main.tf"]["locals"]
    roles = locals_["role_patches"][0]
    assert "role == \"controlplane\" ? ['${local.cilium_patch}'] : []" in roles


@pytest.mark.parametrize(
    ("form", "expected", "talos"),
    [
        pytest.param(
            "v1alpha1-1.13",
            {"cluster": {"inlineManifests": [{"name": "cilium", "contents": "MANIFEST"}]}},
            "1.13.9",
            id="talos-1.13",
        ),
        pytest.param(
            "multidoc-1.14",
            {
                "apiVersion": "v1alpha1",
                "kind": "KubeInlineManifestConfig",
                "name": "cilium",
                "manifest": "MANIFEST",
            },
            "1.14.0-rc.1",
            id="talos-1.14",
        ),
    ],
)
def test_the_inline_manifest_patch_fits_the_talos_schema(
    tmp_path: Path, form: str, expected: dict[str, Any], talos: str
) -> None:
    """The patch main.tf builds, evaluated by terraform with a stand-in manifest, in the form
    freetier passes: a Talos 1.13 `cluster.inlineManifests` entry or a 1.14
    KubeInlineManifestConfig document, holding the rendered chart."""
    from tests.talos.test_machine import _errors

    expression = _main_tf_expression("cilium_patch").replace(
        "data.helm_template.cilium.manifest", "var.manifest"
    )
    manifest = "---\n# Source: cilium/templates/cilium-agent/daemonset.yaml\nkind: DaemonSet\n"
    variables = {"manifest": manifest, "cilium": {"release": "cilium"}, "talos_config_form": form}
    patch = yaml.safe_load(_console(tmp_path, expression, variables))
    assert patch == json.loads(json.dumps(expected).replace('"MANIFEST"', json.dumps(manifest)))
    assert _errors(patch, talos) == []


def test_the_inline_manifest_form_is_the_one_freetier_derives(tmp_path: Path) -> None:
    """main.tf compares var.talos_config_form with the 1.14 form's name as freetier spells it,
    and the variable accepts exactly the forms freetier writes."""
    from freetier.talos.form import FORMS, MULTIDOC

    text = (LAYER / "main.tf").read_text()
    assert f'var.talos_config_form == "{MULTIDOC}"' in text
    # The raw HCL (python-hcl2 re-quotes strings in single quotes, which terraform refuses).
    (expression,) = re.findall(
        r"condition\s*=\s*(.*var\.talos_config_form.*)", (LAYER / "variables.tf").read_text()
    )
    for form in [*FORMS.values(), "multidoc-1.15"]:
        accepted = _console(tmp_path, expression, {"talos_config_form": form})
        assert accepted is (form in FORMS.values()), form


@pytest.mark.parametrize(
    ("manifest", "refused"),
    [
        ("---\nkind: DaemonSet\nmetadata:\n  name: cilium\n", False),
        ("---\nkind: Job\nmetadata:\n  name: cilium-certgen\n", True),
        ("---\nkind: CronJob\n", True),
        ('---\nkind: Deployment\nspec:\n  note: "kind: Job"\n', False),
    ],
    ids=["daemonset", "job", "cronjob", "job-in-a-value"],
)
def test_the_postcondition_refuses_a_job(tmp_path: Path, hcl, manifest: str, refused: bool) -> None:
    (body,) = [b for t, n, b in blocks(hcl, "data") if t == "helm_template"]
    (condition,) = body["lifecycle"][0]["postcondition"][0]["condition"]
    expression = condition.removeprefix("${").removesuffix("}").replace("self.manifest", "var.m")
    assert _console(tmp_path, expression, {"m": manifest}) is (not refused)


def test_the_bootstrap_values_are_deterministic_and_free_of_jobs() -> None:
    """What makes the rendering repeatable: no Hubble (its helm-generated certificates change on
    every render, cilium/cilium#36012; its cronJob method is a Job)."""
    from freetier.stack import load_stack
    from freetier.talos.cilium import cilium_bootstrap
    from tests.conftest import SHIPPED_STACK

    values = yaml.safe_load(cilium_bootstrap(load_stack(SHIPPED_STACK))["values"])
    assert values["hubble"] == {"enabled": False}
