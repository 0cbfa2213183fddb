"""tofu argv builders (pure), the tofu/terraform lookup, and the runners against real terraform."""

from __future__ import annotations

import doctest
import os
import shutil
from pathlib import Path

import pytest

import freetier.tofu.run as tofu_run
from freetier.command import MASK
from freetier.errors import ToolError
from freetier.tofu.run import (
    Tofu,
    apply,
    apply_argv,
    find_tofu,
    format_var,
    init,
    init_argv,
    plan,
    plan_argv,
    show_json,
    show_json_argv,
    var_args,
)

FIXTURE = Path(__file__).parent / "fixtures" / "capacity"


def real_tofu() -> str:
    exe = shutil.which("tofu") or shutil.which("terraform")
    if exe is None:
        pytest.fail("terraform or tofu must be installed for this test (./dev setup installs it)")
    return exe


def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tofu:
    """Real tofu/terraform that reads and writes nothing outside tmp_path."""
    for name in list(os.environ):
        if name.startswith("TF_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    return Tofu(
        real_tofu(),
        env={
            "HOME": str(home),
            "TF_DATA_DIR": str(tmp_path / "tf-data"),
            "TF_CLI_CONFIG_FILE": os.devnull,
            "TF_PLUGIN_CACHE_DIR": "",
        },
        timeout_s=120,
    )


def copy_layer(tmp_path: Path, capacity_ad: int = 1) -> Path:
    layer = tmp_path / "layer"
    shutil.copytree(FIXTURE, layer)
    (layer / "test.auto.tfvars.json").write_text(f'{{"capacity_ad": {capacity_ad}}}\n')
    return layer


# --- argv builders -------------------------------------------------------------------------


def test_doctests() -> None:
    assert doctest.testmod(tofu_run).failed == 0


def test_init_argv() -> None:
    assert init_argv() == ["init", "-input=false", "-no-color"]
    assert init_argv(backend=False) == ["init", "-input=false", "-no-color", "-backend=false"]


def test_plan_argv_json_detailed_exitcode_and_sorted_vars() -> None:
    argv = plan_argv(out="p.bin", var_overrides={"region": "eu-frankfurt-1", "ad_rotation": 1})
    assert argv == [
        "plan",
        "-input=false",
        "-no-color",
        "-json",
        "-detailed-exitcode",
        "-out=p.bin",
        "-var",
        "ad_rotation=1",
        "-var",
        "region=eu-frankfurt-1",
    ]


def test_show_json_argv_takes_no_input_flag() -> None:
    assert show_json_argv("plan.bin") == ["show", "-json", "-no-color", "plan.bin"]


def test_apply_argv() -> None:
    assert apply_argv(var_overrides={"ad_rotation": 2}) == [
        "apply",
        "-input=false",
        "-no-color",
        "-json",
        "-auto-approve",
        "-var",
        "ad_rotation=2",
    ]
    assert apply_argv(plan_file="plan.bin") == [
        "apply",
        "-input=false",
        "-no-color",
        "-json",
        "plan.bin",
    ]
    with pytest.raises(ValueError, match="saved plan"):
        apply_argv(plan_file="plan.bin", var_overrides={"ad_rotation": 1})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", "plain text"),
        (3, "3"),
        (0.5, "0.5"),
        (False, "false"),
        ([1, 2, 3], "[1, 2, 3]"),
        ({"cp": {"ocpus": 1}}, '{"cp": {"ocpus": 1}}'),
        (["${path.module}", "%{if}"], '["$${path.module}", "%%{if}"]'),
    ],
    ids=["string", "int", "float", "bool", "list", "map", "templates-escaped"],
)
def test_format_var(value: tofu_run.VarValue, expected: str) -> None:
    assert format_var(value) == expected


def test_secrets_go_through_env_never_argv() -> None:
    tofu = Tofu("tofu", secret_vars={"oci_private_key": "KEY-MATERIAL"})
    cmd = tofu.command(["apply", *var_args({"ad_rotation": 0})], Path())
    assert not any("KEY-MATERIAL" in arg for arg in cmd.argv)
    assert cmd.env["TF_VAR_oci_private_key"] == "KEY-MATERIAL"
    assert cmd.env["TF_IN_AUTOMATION"] == "1"
    assert cmd.secrets == ("KEY-MATERIAL",)


# --- find_tofu -----------------------------------------------------------------------------


def _bin_dir(tmp_path: Path, links: dict[str, str], scripts: dict[str, str]) -> str:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, real in links.items():
        (folder / name).symlink_to(real)
    for name, body in scripts.items():
        script = folder / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    return str(folder)


def test_find_tofu_accepts_terraform_alone(tmp_path: Path) -> None:
    path = _bin_dir(tmp_path, {"terraform": real_tofu()}, {})
    assert find_tofu(path) == str(Path(path) / "terraform")


def test_find_tofu_finds_tofu(tmp_path: Path) -> None:
    path = _bin_dir(tmp_path, {}, {"tofu": "echo 'OpenTofu v1.10.6'"})
    assert find_tofu(path) == str(Path(path) / "tofu")


def test_find_tofu_prefers_tofu(tmp_path: Path) -> None:
    path = _bin_dir(tmp_path, {"terraform": real_tofu()}, {"tofu": "echo 'OpenTofu v1.10.6'"})
    assert Path(find_tofu(path)).name == "tofu"


def test_find_tofu_missing_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as info:
        find_tofu(_bin_dir(tmp_path, {}, {}))
    assert info.value.missing and info.value.exit_code == 2
    assert "tofu, terraform" in str(info.value)
    assert len(str(info.value).splitlines()) == 1


# --- runners on the fixture layer ----------------------------------------------------------


def test_plan_reports_changes_and_show_json_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tofu = isolated(tmp_path, monkeypatch)
    layer = copy_layer(tmp_path)
    init(layer, backend=False, tofu=tofu)
    result = plan(layer, var_overrides={"availability_domains": [1, 2, 3]}, tofu=tofu)
    assert result.changes is True
    assert result.plan_file == layer / "plan.bin" and result.plan_file.is_file()

    shown = show_json(layer, result.plan_file.name, tofu=tofu)
    assert shown["format_version"].startswith("1.")
    changes = {rc["address"]: rc["change"]["actions"] for rc in shown["resource_changes"]}
    assert changes == {"terraform_data.instance": ["create"]}
    assert not (layer / ".terraform").exists()  # TF_DATA_DIR is honoured


def test_plan_without_changes_exits_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tofu = isolated(tmp_path, monkeypatch)
    layer = copy_layer(tmp_path)
    init(layer, tofu=tofu)
    domains = {"availability_domains": [1, 2, 3]}
    applied = apply(layer, var_overrides=domains, tofu=tofu)
    assert applied.summary is not None and applied.summary.add == 1
    assert any(m.startswith("Apply complete!") for m in applied.messages)
    assert plan(layer, var_overrides=domains, tofu=tofu).changes is False


def test_apply_of_a_saved_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tofu = isolated(tmp_path, monkeypatch)
    layer = copy_layer(tmp_path)
    init(layer, tofu=tofu)
    plan(layer, var_overrides={"availability_domains": [1]}, tofu=tofu)
    applied = apply(layer, plan_file="plan.bin", tofu=tofu)
    assert applied.ok and applied.summary is not None and applied.summary.add == 1


def test_plan_error_raises_with_stderr_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tofu = isolated(tmp_path, monkeypatch)
    layer = copy_layer(tmp_path)
    init(layer, tofu=tofu)
    with pytest.raises(ToolError) as info:
        plan(layer, var_overrides={"availability_domains": [1], "no_such_var": 1}, tofu=tofu)
    assert "exit code 1" in str(info.value)
    assert "Value for undeclared variable" in str(info.value)


def test_apply_error_quotes_diagnostics_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tofu = isolated(tmp_path, monkeypatch)
    secret = "Error: 401-NotAuthenticated, key s3cr3t-fingerprint"
    tofu = Tofu(tofu.exe, env=tofu.env, secret_vars={"fail_with": secret}, timeout_s=120)
    layer = copy_layer(tmp_path)
    init(layer, tofu=tofu)
    with pytest.raises(ToolError) as info:
        apply(layer, var_overrides={"availability_domains": [1]}, tofu=tofu)
    message = str(info.value)
    assert "exit code 1" in message and "local-exec provisioner error" in message
    assert MASK in message and "s3cr3t" not in message


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"OCI_CLI_PROFILE": "LONDON"}, {"OCI_CONFIG_FILE_PROFILE": "LONDON"}),
        ({}, {}),
        ({"OCI_CLI_PROFILE": ""}, {}),
        # A profile named for the provider itself wins: nothing is overridden.
        ({"OCI_CLI_PROFILE": "LONDON", "OCI_CONFIG_FILE_PROFILE": "PROD"}, {}),
        ({"OCI_CLI_PROFILE": "LONDON", "TF_VAR_config_file_profile": "PROD"}, {}),
    ],
)
def test_the_provider_gets_the_profile_freetier_checked(
    environ: dict[str, str], expected: dict[str, str]
) -> None:
    assert tofu_run.provider_profile_env(environ) == expected


def test_found_tofu_runs_with_the_cli_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCI_CLI_PROFILE", "LONDON")
    monkeypatch.delenv("OCI_CONFIG_FILE_PROFILE", raising=False)
    monkeypatch.delenv("TF_VAR_config_file_profile", raising=False)
    cmd = Tofu.find().command(["version"], Path.cwd())
    assert cmd.env["OCI_CONFIG_FILE_PROFILE"] == "LONDON"
