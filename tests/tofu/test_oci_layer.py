"""Layer 1, tofu/oci: formatted, clean under checkov, its variable validations
really enforced by a real terraform (the tofu stand-in), its derived values
(AD rotation, quota statements) computed by terraform, and its structure
(no reserved IPs, shape_config only for Flex, budget rules, quota) checked.

The oci provider cannot be downloaded here, so terraform runs on the parts of
the layer that need no provider: variables.tf and locals.tf, with a built-in
`terraform_data` resource to plan.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from freetier.images.recipes import PV_ENCRYPTION_IN_TRANSIT
from freetier.stack import load_stack
from freetier.tofu.vars import tfvars_text
from tests.conftest import PROXMOX_EXAMPLE, SHIPPED_STACK
from tests.tofu.hcl import Block, parse, unquote

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "tofu" / "oci"

# The shape `freetier tofu vars --layer oci` writes (the contract).
GOOD_VARS: dict[str, Any] = {
    "name": "freetier",
    "region": "uk-london-1",
    "compartment_ocid": "ocid1.tenancy.oc1..aaaaaaaaexample",
    "availability_domains": [1],
    "instances": {
        "node-1": {
            "role": "controlplane",
            "shape": "VM.Standard.A1.Flex",
            "ocpus": 1.0,
            "memory_gb": 6,
            "boot_volume_gb": 50,
            "availability_domain": 1,
        },
        "node-2": {
            "role": "worker",
            "shape": "VM.Standard.A1.Flex",
            "ocpus": 1.0,
            "memory_gb": 6,
            "boot_volume_gb": 50,
            "availability_domain": 1,
        },
    },
    "bastion": {
        "enabled": True,
        "name": "bastion",
        "shape": "VM.Standard.E2.1.Micro",
        "boot_volume_gb": 50,
        "availability_domain": 1,
    },
    "vcn_cidr": "10.0.0.0/16",
    "subnet_cidr": "10.0.1.0/24",
    "admin_cidrs": ["203.0.113.10/32"],
    "budget_alert_email": "you@example.com",
    "budget_amount": 1,
    "free_tier_limits": {
        "a1_ocpus": 2.0,
        "a1_memory_gb": 12.0,
        "a1_instances": 2.0,
        "micro_instances": 2.0,
        "block_storage_gb": 200.0,
        "volume_backups": 5.0,
    },
}

PROBE_MAIN = """\
resource "terraform_data" "probe" {}

output "quota_statements" { value = local.quota_statements }
output "quota_unknown_shapes" { value = local.quota_unknown_shapes }
output "instance_ad_number" { value = local.instance_ad_number }
output "bastion_ad_number" { value = local.bastion_ad_number }
output "instance_arch" { value = local.instance_arch }
output "tenancy_ocid" { value = local.tenancy_ocid }
output "vcn_dns_label" { value = local.vcn_dns_label }
"""


# --- helpers -----------------------------------------------------------------


def tofu_binary() -> str:
    found = shutil.which("tofu") or shutil.which("terraform")
    if found is None:
        pytest.fail("neither tofu nor terraform is on PATH")
    return found


def tool_env(home: Path) -> dict[str, str]:
    """A hermetic environment: own HOME, CLI config and data dir, no colour."""
    home.mkdir(parents=True, exist_ok=True)
    cli_config = home / "tofurc"
    cli_config.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "TOFU_"))}
    env.update(
        HOME=str(home),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        TF_CLI_CONFIG_FILE=str(cli_config),
        TF_DATA_DIR=str(home / "data"),
    )
    return env


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def flat(text: str) -> str:
    """Terraform wraps diagnostics at 78 columns; compare with whitespace collapsed."""
    return " ".join(text.split())


def variant(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD_VARS)
    data.update(changes)
    return data


def a1(ocpus: float, memory_gb: float, boot_volume_gb: int = 50, ad: int = 1) -> dict[str, Any]:
    return {
        "role": "worker",
        "shape": "VM.Standard.A1.Flex",
        "ocpus": ocpus,
        "memory_gb": memory_gb,
        "boot_volume_gb": boot_volume_gb,
        "availability_domain": ad,
    }


class Probe:
    """variables.tf + locals.tf of the layer in a scratch module, planned for real."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "module"
        self.dir.mkdir(parents=True)
        for name in ("variables.tf", "locals.tf"):
            shutil.copy(LAYER / name, self.dir / name)
        (self.dir / "main.tf").write_text(PROBE_MAIN, encoding="utf-8")
        self.env = tool_env(workdir / "home")
        self.tofu = tofu_binary()
        self.count = 0
        init = self.run("init", "-input=false", "-no-color")
        assert init.returncode == 0, init.stdout + init.stderr

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run([self.tofu, *args], self.dir, self.env)

    def write_vars(self, data: dict[str, Any]) -> Path:
        self.count += 1
        path = self.dir.parent / f"case-{self.count}.tfvars.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    def plan(self, data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return self.run("plan", "-input=false", "-no-color", f"-var-file={self.write_vars(data)}")

    def outputs(self, data: dict[str, Any]) -> dict[str, Any]:
        """Apply (terraform_data only, local state) and read the derived locals."""
        state = self.dir.parent / f"state-{self.count + 1}.tfstate"
        applied = self.run(
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            f"-state={state}",
            f"-var-file={self.write_vars(data)}",
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr
        shown = self.run("output", "-json", f"-state={state}")
        assert shown.returncode == 0, shown.stderr
        return {k: v["value"] for k, v in json.loads(shown.stdout).items()}


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Probe:
    return Probe(tmp_path_factory.mktemp("oci-probe"))


@pytest.fixture(scope="module")
def layer() -> dict[str, Block]:
    return {path.name: parse(path.read_text(encoding="utf-8")) for path in LAYER.glob("*.tf")}


def resources(layer: dict[str, Block], rtype: str) -> dict[str, Block]:
    return {
        b.labels[1]: b for f in layer.values() for b in f.find("resource") if b.labels[0] == rtype
    }


def checkov_command() -> list[str]:
    beside = Path(sys.executable).parent / "checkov"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("checkov")
    if found:
        return [found]
    if importlib.util.find_spec("checkov") is not None:
        return [sys.executable, "-m", "checkov.main"]
    pytest.fail("checkov is not installed; install the test extras (pip install -e .[test])")


# --- 1. formatting -----------------------------------------------------------


def assert_formatted(layer: Path, tmp_path: Path) -> None:
    """`fmt -check` of the real terraform passes on the layer's folder."""
    result = run(
        [tofu_binary(), "fmt", "-check", "-recursive", "-diff", "-no-color", str(layer)],
        ROOT,
        tool_env(tmp_path),
    )
    assert result.returncode == 0, f"not formatted:\n{result.stdout}{result.stderr}"


def test_fmt_check_passes(tmp_path: Path) -> None:
    assert_formatted(LAYER, tmp_path)


# --- 2. checkov ---------------------------------------------------------------


def test_checkov_finds_no_failed_check(tmp_path: Path) -> None:
    # The example inputs let checkov render for_each and dynamic blocks.
    var_file = tmp_path / "example.tfvars.json"
    var_file.write_text(json.dumps(GOOD_VARS), encoding="utf-8")
    argv = [
        *checkov_command(),
        "--directory",
        str(LAYER),
        "--framework",
        "terraform",
        "--var-file",
        str(var_file),
        "--compact",
        "--skip-download",
        "--output",
        "json",
    ]
    env = tool_env(tmp_path / "home")
    result = run(argv, tmp_path, env)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov gave no JSON report (exit {result.returncode}):\n{result.stderr}")
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r["results"].get("failed_checks", [])]
    summary = [r["summary"] for r in reports]
    print("checkov summary:", summary)
    for check in failed:
        print(f"FAILED {check['check_id']} {check['check_name']}: {check['resource']}")
    assert not failed, f"{len(failed)} failed checkov check(s), listed above"
    assert all(s["parsing_errors"] == 0 for s in summary), summary
    assert sum(s["resource_count"] for s in summary) >= 10, summary


def test_every_checkov_skip_carries_a_reason() -> None:
    skip = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")
    for path in LAYER.glob("*.tf"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in skip.finditer(line):
                reason = (match.group(2) or "").strip()
                assert len(reason) >= 15, f"{path.name}:{number}: skip of {match[1]} needs a reason"


# --- 3. variable validations, run by terraform --------------------------------


def test_good_inputs_plan(probe: Probe) -> None:
    result = probe.plan(GOOD_VARS)
    assert result.returncode == 0, result.stdout + result.stderr


def three_a1_at_1_33() -> dict[str, Any]:
    return variant(
        instances={f"node-{n}": a1(1.33, 8) for n in (1, 2, 3)},
        bastion={**GOOD_VARS["bastion"], "enabled": False},
    )


def three_a1_at_1() -> dict[str, Any]:
    return variant(instances={f"node-{n}": a1(1, 4) for n in (1, 2, 3)})


def boot_250_gb() -> dict[str, Any]:
    return variant(instances={"node-1": a1(1, 6, 100), "node-2": a1(1, 6, 100)})


def boot_40_gb() -> dict[str, Any]:
    return variant(instances={"node-1": a1(1, 6, 40), "node-2": a1(1, 6, 50)})


def with_bastion(**changes: Any) -> Callable[[], dict[str, Any]]:
    return lambda: variant(bastion={**GOOD_VARS["bastion"], **changes})


def with_limits(**changes: Any) -> Callable[[], dict[str, Any]]:
    return lambda: variant(free_tier_limits={**GOOD_VARS["free_tier_limits"], **changes})


def with_vars(**changes: Any) -> Callable[[], dict[str, Any]]:
    return lambda: variant(**changes)


BAD_CASES: dict[str, tuple[Callable[[], dict[str, Any]], list[str]]] = {
    "three A1 at 1.33 OCPU / 8 GB": (
        three_a1_at_1_33,
        [
            "Ampere A1 OCPUs add up to 3.99, more than the Always Free 2.",
            "Ampere A1 memory adds up to 24 GB, more than the Always Free 12 GB.",
            "There are 3 Ampere A1 instances, more than the Always Free 2.",
            "Ampere A1 OCPUs must be whole numbers of at least 1",
        ],
    ),
    "three A1 at 1 OCPU": (
        three_a1_at_1,
        [
            "There are 3 Ampere A1 instances, more than the Always Free 2.",
            "Ampere A1 OCPUs add up to 3, more than the Always Free 2.",
        ],
    ),
    "250 GB of boot volumes": (
        boot_250_gb,
        ["Boot volumes (instances and bastion) add up to 250 GB, more than the Always Free 200"],
    ),
    "admin_cidrs 0.0.0.0/0": (
        with_vars(admin_cidrs=["0.0.0.0/0"]),
        ["admin_cidrs must not contain 0.0.0.0/0"],
    ),
    "admin_cidrs empty": (with_vars(admin_cidrs=[]), ["admin_cidrs must hold at least one CIDR"]),
    "invalid admin CIDR": (
        with_vars(admin_cidrs=["203.0.113.300/32"]),
        ["admin_cidrs entries must be valid IPv4 CIDRs"],
    ),
    "invalid VCN CIDR": (with_vars(vcn_cidr="10.0.0.0/33"), ["vcn_cidr must be a valid IPv4 CIDR"]),
    "invalid subnet CIDR": (
        with_vars(subnet_cidr="10.0.1.0"),
        ["subnet_cidr must be a valid IPv4 CIDR"],
    ),
    "subnet outside the VCN": (
        with_vars(subnet_cidr="10.1.1.0/24"),
        ["subnet_cidr must lie inside vcn_cidr."],
    ),
    "40 GB boot volume": (
        boot_40_gb,
        ["Instance boot_volume_gb must be a whole number of at least 50"],
    ),
    "40 GB bastion boot volume": (
        with_bastion(boot_volume_gb=40),
        ["bastion.boot_volume_gb must be a whole number of at least 50"],
    ),
    "too many micro instances": (
        with_limits(micro_instances=0.0),
        ["E2.1.Micro instances (bastion included) exceed the Always Free 0."],
    ),
    "bastion named like an instance": (
        with_bastion(name="node-1"),
        ["bastion.name must be a DNS label", "that no instance uses."],
    ),
    "flexible bastion": (
        with_bastion(shape="VM.Standard.A1.Flex"),
        ["bastion.shape must be a fixed shape"],
    ),
    "Flex shape without ocpus": (
        with_vars(instances={"node-1": {**a1(1, 6), "ocpus": None}}),
        ["Flexible shapes (*.Flex) need both ocpus and memory_gb."],
    ),
    "AD outside availability_domains": (
        with_vars(instances={"node-1": a1(1, 6, ad=2)}),
        ["Each instance's availability_domain must be one of availability_domains."],
    ),
    "negative ad_rotation": (
        with_vars(ad_rotation=-1),
        ["ad_rotation must be a whole number >= 0."],
    ),
    "compartment without tenancy_ocid": (
        with_vars(compartment_ocid="ocid1.compartment.oc1..aaaaexample"),
        ["tenancy_ocid must be a tenancy OCID"],
    ),
    "image_ocids with an unknown key": (
        with_vars(image_ocids={"riscv64": "ocid1.image.oc1..aaaa"}),
        ["image_ocids keys must be arm64 or amd64"],
    ),
    "unknown role": (
        with_vars(instances={"node-1": {**a1(1, 6), "role": "etcd"}}),
        ["Instance role must be one of controlplane, worker, proxmox-host."],
    ),
    "fractional budget": (
        with_vars(budget_amount=1.5),
        ["budget_amount must be a whole number greater than 0"],
    ),
    "zero budget": (
        with_vars(budget_amount=0),
        ["budget_amount must be a whole number greater than 0"],
    ),
    "private key instead of a public one": (
        with_vars(ssh_public_key="-----BEGIN OPENSSH PRIVATE KEY-----"),
        ["ssh_public_key must be an OpenSSH public key line"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_inputs_are_refused(probe: Probe, case: str) -> None:
    build, messages = BAD_CASES[case]
    result = probe.plan(build())
    output = flat(result.stdout + result.stderr)
    assert result.returncode != 0, f"{case}: plan succeeded\n{output}"
    assert "Invalid value for variable" in output, output
    for message in messages:
        assert message in output, f"{case}: missing {message!r} in\n{output}"


@pytest.mark.parametrize("stack_file", [SHIPPED_STACK, PROXMOX_EXAMPLE], ids=lambda p: p.name)
def test_generated_tfvars_fit_the_variables(probe: Probe, stack_file: Path) -> None:
    """The contract: what `freetier tofu vars --layer oci` writes, this layer accepts."""
    data = json.loads(tfvars_text(load_stack(stack_file)))
    result = probe.plan(data)
    assert result.returncode == 0, flat(result.stdout + result.stderr)


def test_good_variants_plan(probe: Probe) -> None:
    """Inputs that look unusual but are legal must not be refused."""
    cases = [
        variant(bastion={**GOOD_VARS["bastion"], "enabled": False}),
        # A disabled bastion's AD is neither validated nor looked up.
        variant(bastion={**GOOD_VARS["bastion"], "enabled": False, "availability_domain": 2}),
        variant(instances={"node-1": a1(2, 12, 150)}),
        variant(
            compartment_ocid="ocid1.compartment.oc1..aaaaexample",
            tenancy_ocid="ocid1.tenancy.oc1..aaaaexample",
            availability_domains=[1, 2, 3],
            admin_cidrs=["203.0.113.10/32", "198.51.100.0/24"],
            ad_rotation=4,
            image_ocids={"arm64": "ocid1.image.oc1.uk-london-1.aaaa"},
            ssh_public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample freetier",
        ),
    ]
    for data in cases:
        result = probe.plan(data)
        assert result.returncode == 0, flat(result.stdout + result.stderr)


# --- derived values, computed by terraform -------------------------------------


ZEROS = [
    "zero compute-core quotas in tenancy",
    "zero compute-memory quotas in tenancy",
    "zero block-storage quotas in tenancy",
]
LONDON = "in tenancy where request.region = 'uk-london-1'"


def in_ad(n: int) -> str:
    return f"in tenancy where request.ad = 'uk-london-1-ad-{n}'"


def test_quota_zeroes_the_families_then_allows_the_free_tier_in_the_home_region(
    probe: Probe,
) -> None:
    statements = probe.outputs(GOOD_VARS)["quota_statements"]
    assert statements == [
        *ZEROS,
        f"set block-storage quota total-storage-gb to 200 {in_ad(1)}",
        f"set block-storage quota volume-count to 4 {in_ad(1)}",
        f"set compute-core quota standard-a1-core-count to 2 {in_ad(1)}",
        f"set compute-core quota standard-e2-micro-core-count to 2 {in_ad(1)}",
        f"set compute-memory quota standard-a1-memory-count to 12 {in_ad(1)}",
        f"set block-storage quota backup-count to 5 {LONDON}",
        f"set compute-core quota standard-a1-core-regional-count to 2 {LONDON}",
        f"set compute-memory quota standard-a1-memory-regional-count to 12 {LONDON}",
    ]


def test_quota_splits_the_allowance_over_the_ads_so_the_caps_add_up_to_it(
    probe: Probe,
) -> None:
    """AD-scoped quotas apply to each AD: each AD gets what its instances use, the first
    listed AD (2) also gets what is left, and the caps add up to the allowance."""
    data = variant(
        availability_domains=[2, 1, 3],
        instances={"node-1": a1(1, 6, ad=1), "node-2": a1(1, 6, ad=3)},
        bastion={**GOOD_VARS["bastion"], "availability_domain": 1},
    )
    statements = probe.outputs(data)["quota_statements"]
    assert statements == [
        *ZEROS,
        # node-1 and the bastion in AD 1, node-2 in AD 3, the 50 GB left in AD 2.
        f"set block-storage quota total-storage-gb to 100 {in_ad(1)}",
        f"set block-storage quota total-storage-gb to 50 {in_ad(2)}",
        f"set block-storage quota total-storage-gb to 50 {in_ad(3)}",
        f"set block-storage quota volume-count to 2 {in_ad(1)}",
        f"set block-storage quota volume-count to 1 {in_ad(2)}",
        f"set block-storage quota volume-count to 1 {in_ad(3)}",
        f"set compute-core quota standard-a1-core-count to 1 {in_ad(1)}",
        f"set compute-core quota standard-a1-core-count to 1 {in_ad(3)}",
        f"set compute-core quota standard-e2-micro-core-count to 1 {in_ad(1)}",
        f"set compute-core quota standard-e2-micro-core-count to 1 {in_ad(2)}",
        f"set compute-memory quota standard-a1-memory-count to 6 {in_ad(1)}",
        f"set compute-memory quota standard-a1-memory-count to 6 {in_ad(3)}",
        f"set block-storage quota backup-count to 5 {LONDON}",
        f"set compute-core quota standard-a1-core-regional-count to 2 {LONDON}",
        f"set compute-memory quota standard-a1-memory-regional-count to 12 {LONDON}",
    ]


def test_quota_follows_ad_rotation(probe: Probe) -> None:
    data = variant(
        availability_domains=[1, 2],
        instances={"node-1": a1(2, 12, ad=1)},
        bastion={**GOOD_VARS["bastion"], "enabled": False},
        ad_rotation=1,
    )
    statements = probe.outputs(data)["quota_statements"]
    assert f"set compute-core quota standard-a1-core-count to 2 {in_ad(2)}" in statements
    assert not any("standard-a1-core-count" in s and "ad-1'" in s for s in statements)


def test_quota_allows_a_paid_flexible_shape_only_what_it_uses(probe: Probe) -> None:
    data = variant(
        instances={
            "pve-1": {
                "role": "proxmox-host",
                "shape": "VM.Standard.E4.Flex",
                "ocpus": 1,
                "memory_gb": 8,
                "boot_volume_gb": 50,
                "availability_domain": 1,
            }
        },
        free_tier_limits={
            "a1_ocpus": 4.0,
            "a1_memory_gb": 24.0,
            "a1_instances": 4.0,
            "micro_instances": 2.0,
            "block_storage_gb": 200.0,
            "volume_backups": 5.0,
        },
    )
    out = probe.outputs(data)
    assert out["quota_unknown_shapes"] == []
    assert out["quota_statements"] == [
        *ZEROS,
        f"set block-storage quota total-storage-gb to 200 {in_ad(1)}",
        f"set block-storage quota volume-count to 4 {in_ad(1)}",
        f"set compute-core quota standard-a1-core-count to 4 {in_ad(1)}",
        f"set compute-core quota standard-e2-micro-core-count to 2 {in_ad(1)}",
        f"set compute-core quota standard-e4-core-count to 1 {in_ad(1)}",
        f"set compute-memory quota standard-a1-memory-count to 24 {in_ad(1)}",
        f"set compute-memory quota standard-e4-memory-count to 8 {in_ad(1)}",
        f"set block-storage quota backup-count to 5 {LONDON}",
        f"set compute-core quota standard-a1-core-regional-count to 4 {LONDON}",
        f"set compute-memory quota standard-a1-memory-regional-count to 24 {LONDON}",
    ]


def test_shapes_no_documented_quota_allows_are_named(probe: Probe) -> None:
    fixed = {
        "role": "proxmox-host",
        "shape": "VM.Standard2.1",
        "boot_volume_gb": 50,
        "availability_domain": 1,
    }
    e5 = {**fixed, "shape": "VM.Standard.E5.Flex", "ocpus": 1, "memory_gb": 8}
    out = probe.outputs(variant(instances={"a": fixed, "b": e5, "c": a1(1, 6)}))
    assert out["quota_unknown_shapes"] == ["VM.Standard.E5.Flex", "VM.Standard2.1"]


QUOTA_STATEMENT = re.compile(
    r"zero (?P<family>[a-z-]+) quotas in tenancy"
    r"|set (?P<set_family>[a-z-]+) quota (?P<name>[a-z0-9-]+) to [0-9]+ in tenancy"
    r" where request\.(ad = 'uk-london-1-ad-[1-3]'|region = 'uk-london-1')"
)


def test_the_readme_shows_the_shipped_stacks_quota(probe: Probe) -> None:
    readme = (LAYER / "README.md").read_text(encoding="utf-8")
    after = readme.index("For the shipped stack")
    start = readme.index("```\n", after) + 4
    shown = readme[start : readme.index("\n```", start)]
    data = json.loads(tfvars_text(load_stack(SHIPPED_STACK)))
    assert shown.splitlines() == probe.outputs(data)["quota_statements"]


def cited_quota_names() -> tuple[set[str], set[str]]:
    """The quota names locals.tf's comment lists under "Quota names and scopes": those
    under a documentation source, and those under THIRD-PARTY ONLY."""
    text = (LAYER / "locals.tf").read_text(encoding="utf-8")
    block = text[
        text.index("# Quota names and scopes") : text.index(
            "\nlocals {", text.index("# Quota names and scopes")
        )
    ]
    oracle, third_party = block.split("THIRD-PARTY ONLY")
    names = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+)*-(?:count|gb)\b")
    return set(names.findall(oracle)), set(names.findall(third_party))


def test_every_quota_name_is_cited_and_third_party_ones_are_marked(probe: Probe) -> None:
    """Each statement has Oracle's syntax, and each name it uses is listed in locals.tf's
    comment under its source; the names no Oracle quota page lists sit under THIRD-PARTY."""
    oracle, third_party = cited_quota_names()
    statements = probe.outputs(GOOD_VARS)["quota_statements"]
    e4 = {**a1(1, 8), "role": "proxmox-host", "shape": "VM.Standard.E4.Flex"}
    statements += probe.outputs(variant(instances={"pve-1": e4}))["quota_statements"]
    used = set()
    for statement in statements:
        match = QUOTA_STATEMENT.fullmatch(statement)
        assert match, statement
        if match["name"]:
            used.add(match["name"])
    assert used <= oracle | third_party, used - oracle - third_party
    assert third_party == {"standard-a1-core-regional-count", "standard-a1-memory-regional-count"}
    assert not oracle & third_party


def test_ad_rotation_moves_along_the_allowed_ads(probe: Probe) -> None:
    instances = {"node-1": a1(1, 6, ad=1), "node-2": a1(1, 6, ad=3)}
    bastion = {**GOOD_VARS["bastion"], "availability_domain": 2}
    seen = {}
    for rotation in (0, 1, 2, 3):
        data = variant(
            availability_domains=[1, 2, 3],
            instances=instances,
            bastion=bastion,
            ad_rotation=rotation,
        )
        out = probe.outputs(data)
        seen[rotation] = (out["instance_ad_number"], out["bastion_ad_number"])
    assert seen[0] == ({"node-1": 1, "node-2": 3}, 2)
    assert seen[1] == ({"node-1": 2, "node-2": 1}, 3)
    assert seen[2] == ({"node-1": 3, "node-2": 2}, 1)
    assert seen[3] == seen[0]


def test_ad_rotation_follows_the_configured_order(probe: Probe) -> None:
    data = variant(
        availability_domains=[3, 1],
        instances={"node-1": a1(1, 6, ad=3)},
        bastion={**GOOD_VARS["bastion"], "availability_domain": 1},
        ad_rotation=1,
    )
    out = probe.outputs(data)
    assert out["instance_ad_number"] == {"node-1": 1}
    assert out["bastion_ad_number"] == 3


def test_arch_tenancy_and_dns_label(probe: Probe) -> None:
    data = variant(
        name="my-stack-with-a-long-name",
        instances={
            "node-1": a1(1, 6),
            "pve-1": {
                "role": "proxmox-host",
                "shape": "VM.Standard.E2.1.Micro",
                "boot_volume_gb": 50,
                "availability_domain": 1,
            },
        },
        bastion={**GOOD_VARS["bastion"], "enabled": False},
    )
    out = probe.outputs(data)
    assert out["instance_arch"] == {"node-1": "arm64", "pve-1": "amd64"}
    assert out["tenancy_ocid"] == GOOD_VARS["compartment_ocid"]
    assert out["vcn_dns_label"] == "mystackwithalon"


# --- 4. structure ----------------------------------------------------------------


def test_versions_and_backend(layer: dict[str, Block]) -> None:
    terraform = layer["versions.tf"].one("terraform")
    required = unquote(terraform.attr("required_version"))
    assert re.fullmatch(r">= ?1\.1\d(\.\d+)?", required), required
    providers = terraform.one("required_providers").attr("oci")
    assert re.search(r'source\s*=\s*"oracle/oci"', providers), providers
    assert re.search(r'version\s*=\s*"~> ?[78]\.\d+"', providers), providers
    assert layer["versions.tf"].one("provider", "oci").attr("region") == "var.region"

    backend = layer["backend.tf"].one("terraform").one("backend", "s3")
    assert backend.attributes == {} and backend.children == [], "backend is partial config only"


def test_no_reserved_public_ip(layer: dict[str, Block]) -> None:
    assert not resources(layer, "oci_core_public_ip"), "reserved public IPs cost money"
    for name, tree in layer.items():
        assert "RESERVED" not in tree.body, f"{name} mentions a RESERVED lifetime"
    for name, instance in resources(layer, "oci_core_instance").items():
        vnic = instance.one("create_vnic_details")
        assert vnic.attr("assign_public_ip") == "true", name


def test_instances_shape_config_only_for_flex(layer: dict[str, Block]) -> None:
    instances = resources(layer, "oci_core_instance")
    assert set(instances) == {"node", "bastion"}
    node, bastion = instances["node"], instances["bastion"]
    assert node.attr("for_each") == "var.instances"
    assert bastion.attr("count") == "var.bastion.enabled ? 1 : 0"
    for instance in instances.values():
        assert not instance.find("shape_config"), "a static shape_config would hit fixed shapes"
    dynamic = node.one("dynamic", "shape_config")
    assert re.search(r'endswith\(each\.value\.shape, "\.Flex"\)', dynamic.attr("for_each"))
    content = dynamic.one("content")
    assert content.attr("ocpus") == "shape_config.value.ocpus"
    assert content.attr("memory_in_gbs") == "shape_config.value.memory_gb"
    assert not bastion.find("dynamic"), "the bastion is a fixed shape"


def test_instances_are_hardened(layer: dict[str, Block]) -> None:
    for name, instance in resources(layer, "oci_core_instance").items():
        source = instance.one("source_details")
        assert unquote(source.attr("source_type")) == "image", name
        assert "var.image_ocids" in source.attr("source_id"), name
        assert "boot_volume_gb" in source.attr("boot_volume_size_in_gbs"), name
        # Balanced (10 VPUs/GB) is what Always Free includes; more is billed.
        assert source.attr("boot_volume_vpus_per_gb") == "10", name
        launch = instance.one("launch_options")
        assert unquote(launch.attr("network_type")) == "PARAVIRTUALIZED", name
        assert unquote(launch.attr("boot_volume_type")) == "PARAVIRTUALIZED", name
        # Off in both places: imported images do not support it (images/recipes.py, PV);
        # two different values would show a diff in every plan.
        assert launch.attr("is_pv_encryption_in_transit_enabled") == "false", name
        assert instance.attr("is_pv_encryption_in_transit_enabled") == "false", name
        options = instance.one("instance_options")
        assert options.attr("are_legacy_imds_endpoints_disabled") == "true", name
        assert "local.ad_names[" in instance.attr("availability_domain"), name


def test_in_transit_encryption_is_what_the_boot_check_launches_with(
    layer: dict[str, Block],
) -> None:
    """tofu/oci and `images boot-check` launch imported images the same way."""
    assert PV_ENCRYPTION_IN_TRANSIT is False
    for name, instance in resources(layer, "oci_core_instance").items():
        values = {
            instance.attr("is_pv_encryption_in_transit_enabled"),
            instance.one("launch_options").attr("is_pv_encryption_in_transit_enabled"),
        }
        assert values == {"false"}, name


def test_the_provider_credentials_comment_names_what_the_provider_reads(
    layer: dict[str, Block],
) -> None:
    text = (LAYER / "versions.tf").read_text(encoding="utf-8")
    comment = " ".join(
        line.lstrip("# ").strip() for line in text.splitlines() if line.lstrip().startswith("#")
    )
    assert "~/.oci/config" in comment
    assert "OCI_CONFIG_FILE is read only when ~/.oci/config does not exist" in comment
    assert (
        "OCI_CLI_CONFIG_FILE and OCI_CLI_PROFILE (what freetier's own SDK calls read) are not"
        in (comment)
    )


def test_instances_lifecycle(layer: dict[str, Block]) -> None:
    instances = resources(layer, "oci_core_instance")
    for name, instance in instances.items():
        lifecycle = instance.one("lifecycle")
        ignored = lifecycle.attr("ignore_changes")
        for attribute in ("availability_domain", "source_details[0].source_id", "metadata"):
            assert attribute in ignored, f"{name}: {attribute} not ignored"
        conditions = " ".join(p.attr("condition") for p in lifecycle.find("precondition"))
        assert "var.image_ocids" in conditions, f"{name}: no image precondition"
        assert "length(local.ad_names)" in conditions, f"{name}: no AD precondition"
    node_conditions = " ".join(
        p.attr("condition") for p in instances["node"].one("lifecycle").find("precondition")
    )
    assert "floor(each.value.ocpus) == each.value.ocpus" in node_conditions
    assert "each.value.ocpus >= 1" in node_conditions
    bastion = instances["bastion"]
    assert "ssh_authorized_keys = var.ssh_public_key" in bastion.attr("metadata")
    bastion_conditions = [
        p.attr("condition") for p in bastion.one("lifecycle").find("precondition")
    ]
    assert 'var.ssh_public_key != ""' in bastion_conditions


def ingress_rules(security_list: Block) -> list[tuple[Block, str]]:
    """Every ingress rule with its for_each ('' for a static rule)."""
    rules = [(rule, "") for rule in security_list.find("ingress_security_rules")]
    for dynamic in security_list.find("dynamic", "ingress_security_rules"):
        rules.append((dynamic.one("content"), dynamic.attr("for_each")))
    return rules


def tcp_port(rule: Block) -> int | None:
    if not rule.find("tcp_options"):
        return None
    options = rule.one("tcp_options")
    assert options.attr("min") == options.attr("max"), "one port per rule"
    return int(options.attr("min"))


def test_security_list_exposes_only_what_it_should(layer: dict[str, Block]) -> None:
    security_list = resources(layer, "oci_core_security_list")["this"]
    world: set[object] = set()
    admin_ports: set[int | None] = set()
    for rule, for_each in ingress_rules(security_list):
        assert rule.attr("stateless") == "true"
        source = rule.attr("source")
        if source == '"0.0.0.0/0"':
            if unquote(rule.attr("protocol")) == "1":
                icmp = rule.one("icmp_options")
                world.add(("icmp", icmp.attr("type"), icmp.attr("code")))
            else:
                assert unquote(rule.attr("protocol")) == "6"
                world.add(tcp_port(rule))
        elif source == "var.vcn_cidr":
            assert for_each == ""
        else:
            assert source == "ingress_security_rules.value", source
            assert for_each == "toset(var.admin_cidrs)", for_each
            admin_ports.add(tcp_port(rule))
    assert world == {80, 443, ("icmp", "3", "4")}, world
    assert admin_ports == {22, 6443, 50000}, admin_ports
    egress = security_list.one("egress_security_rules")
    assert unquote(egress.attr("protocol")) == "all"


def test_network_is_a_public_regional_subnet(layer: dict[str, Block]) -> None:
    subnet = resources(layer, "oci_core_subnet")["public"]
    assert "availability_domain" not in subnet.attributes, "the subnet must be regional"
    assert subnet.attr("cidr_block") == "var.subnet_cidr"
    assert "dns_label" in subnet.attributes
    assert resources(layer, "oci_core_vcn")["this"].attr("dns_label") == "local.vcn_dns_label"
    route = resources(layer, "oci_core_route_table")["public"].one("route_rules")
    assert unquote(route.attr("destination")) == "0.0.0.0/0"
    assert route.attr("network_entity_id") == "oci_core_internet_gateway.this.id"


def test_budget_alerts_on_actual_and_forecast_spend(layer: dict[str, Block]) -> None:
    budget = resources(layer, "oci_budget_budget")["this"]
    assert budget.attr("compartment_id") == "local.tenancy_ocid"
    assert unquote(budget.attr("reset_period")) == "MONTHLY"
    assert unquote(budget.attr("target_type")) == "COMPARTMENT"
    assert budget.attr("targets") == "[var.compartment_ocid]"
    assert budget.attr("amount") == "var.budget_amount"
    rules = resources(layer, "oci_budget_alert_rule").values()
    assert sorted(unquote(r.attr("type")) for r in rules) == ["ACTUAL", "FORECAST"]
    for rule in rules:
        assert rule.attr("budget_id") == "oci_budget_budget.this.id"
        assert unquote(rule.attr("threshold_type")) == "ABSOLUTE"
        assert float(rule.attr("threshold")) == pytest.approx(0.01)
        assert rule.attr("recipients") == "var.budget_alert_email"


def test_quota_lives_in_the_tenancy_and_refuses_shapes_it_cannot_allow(
    layer: dict[str, Block],
) -> None:
    quota = resources(layer, "oci_limits_quota")["free_tier"]
    assert quota.attr("compartment_id") == "local.tenancy_ocid"
    assert quota.attr("statements") == "local.quota_statements"
    (precondition,) = quota.one("lifecycle").find("precondition")
    assert precondition.attr("condition") == "length(local.quota_unknown_shapes) == 0"


def test_locals_and_variables_stand_alone(layer: dict[str, Block]) -> None:
    """The probe copies these two files alone: no resources or data in them."""
    for name in ("variables.tf", "locals.tf"):
        body = layer[name].body
        assert not re.search(r"\b(data|oci_\w+|resource)\.", body), f"{name} refers to resources"
        assert not layer[name].find("resource") and not layer[name].find("data"), name
    variables = layer["variables.tf"]
    for variable in variables.find("variable"):
        assert "description" in variable.attributes, variable.labels
        assert "type" in variable.attributes, variable.labels
        assert "local." not in variable.body, (
            f"{variable.labels}: validations must be self-contained"
        )


def test_outputs(layer: dict[str, Block]) -> None:
    outputs = {b.labels[0] for b in layer["outputs.tf"].find("output")}
    assert {
        "instance_public_ips",
        "instance_private_ips",
        "bastion_public_ip",
        "subnet_id",
        "vcn_id",
        "image_ocids",
        "availability_domains",
    } <= outputs


def test_generated_inputs_and_state_are_ignored() -> None:
    ignored = (LAYER / ".gitignore").read_text(encoding="utf-8").split()
    for pattern in (
        "stack.auto.tfvars.json",
        "images.auto.tfvars.json",
        ".terraform/",
        "*.tfstate*",
        "*.tfplan",
    ):
        assert pattern in ignored, pattern


def test_no_private_key_material_in_the_layer() -> None:
    for path in LAYER.rglob("*"):
        if path.is_file() and ".terraform" not in path.parts:
            assert "PRIVATE KEY" not in path.read_text(encoding="utf-8", errors="replace"), path
