"""The CLI in-process through its parser, and once as the installed `freetier` command."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from freetier.cli import main
from tests.conftest import PROXMOX_EXAMPLE, ROOT, SHIPPED_STACK

BAD_EDITS = {
    "typo-key": ("  amount: 1\n", "  amont: 1\n"),
    "overlapping-cidr": ("service_cidr: 10.96.0.0/12", "service_cidr: 10.0.0.0/12"),
    "fractional-a1-ocpus": ("    ocpus: 1\n", "    ocpus: 1.5\n"),
    "missing-required": ("versions:\n  talos: v1.13.9\n", "versions:\n"),
    "invalid-yaml": ("name: freetier\n", "name: [freetier\n"),
}


def _bad_input(kind: str, tmp_path: Path) -> Path:
    if kind == "empty":
        (tmp_path / "stack.yaml").write_text("")
    elif kind == "directory":
        (tmp_path / "stack.yaml").mkdir()
    elif kind == "non-utf8":
        (tmp_path / "stack.yaml").write_bytes(b"name: fr\xe9etier\n")
    else:
        old, new = BAD_EDITS[kind]
        text = SHIPPED_STACK.read_text()
        assert old in text
        (tmp_path / "stack.yaml").write_text(text.replace(old, new, 1))
    return tmp_path / "stack.yaml"


BAD_KINDS = [*BAD_EDITS, "empty", "directory", "non-utf8"]


def _freetier() -> str:
    exe = Path(sys.executable).with_name("freetier")
    return str(exe) if exe.exists() else shutil.which("freetier") or "freetier"


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_stack_exits_2_with_one_line_and_writes_nothing(kind: str, tmp_path: Path) -> None:
    path = _bad_input(kind, tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    proc = subprocess.run(
        [_freetier(), "stack", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"freetier: error: {path}"), lines[0]
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("typo-key", "budget.amont: unknown key (a typo?)"),
        ("overlapping-cidr", "network.service_cidr: 10.0.0.0/12 overlaps vcn_cidr 10.0.0.0/16"),
        ("fractional-a1-ocpus", "instances[0].ocpus: A1 OCPUs must be a whole number (got 1.5)"),
        ("missing-required", "versions.talos: required field is missing"),
        ("invalid-yaml", "invalid YAML"),
        ("empty", "file is empty"),
        ("directory", "is a directory, expected a YAML file"),
        ("non-utf8", "not UTF-8 text (byte 0xe9 at offset 8)"),
    ],
)
def test_bad_stack_message_names_the_field(
    kind: str, fragment: str, tmp_path: Path, capsys
) -> None:
    assert main(["stack", "validate", str(_bad_input(kind, tmp_path))]) == 2
    assert fragment in capsys.readouterr().err


def test_validate_json_for_machines(capsys, tmp_path: Path) -> None:
    assert main(["stack", "validate", str(SHIPPED_STACK), "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["valid"] is True
    assert body["totals"] == {
        "a1_instances": 2,
        "a1_ocpus": 2.0,
        "a1_memory_gb": 12,
        "micro_instances": 1,
        "boot_volume_gb": 150,
    }
    assert (
        main(["stack", "validate", str(_bad_input("typo-key", tmp_path)), "--format", "json"]) == 2
    )
    bad = json.loads(capsys.readouterr().out)
    assert bad["valid"] is False and len(bad["errors"]) == 1


def test_validate_defaults_to_stack_yaml_in_the_current_folder(monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["stack", "validate"]) == 0
    assert capsys.readouterr().out.startswith("stack.yaml: valid: freetier: topology direct")


def test_schema_prints_the_committed_schema(capsys) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == (ROOT / "stack.schema.json").read_text()


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["stack", "--help"],
        ["stack", "validate", "--help"],
        ["schema", "--help"],
        ["doctor", "--help"],
        ["pr", "--help"],
    ],
)
def test_every_command_has_help(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: freetier" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys) -> None:
    assert main([]) == 2
    assert "usage: freetier" in capsys.readouterr().err


def test_doctor_json_and_exit_code(tmp_path: Path, monkeypatch, capsys) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    git = shutil.which("git")
    assert git
    (folder / "git").symlink_to(git)
    monkeypatch.setenv("PATH", str(folder))
    assert main(["doctor", "--stage", "pr", "--format", "json"]) == 2  # no tofu/terraform
    body = json.loads(capsys.readouterr().out)
    assert {t["tool"]: t["status"] for t in body["tools"]} == {"tofu": "missing", "git": "found"}
    assert body["blocked_stages"] == ["oci", "talos", "pr"]


def test_doctor_exits_0_when_the_stage_has_its_tools(tmp_path: Path, monkeypatch, capsys) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "ssh").symlink_to(shutil.which("ssh") or "/usr/bin/ssh")
    monkeypatch.setenv("PATH", str(folder))
    assert main(["doctor", "--stage", "proxmox"]) == 0
    out = capsys.readouterr().out
    assert "ssh" in out and "blocked stages: none" in out


def test_shipped_pr_runs_offline_as_a_user_would(tmp_path: Path) -> None:
    """`freetier pr` on the shipped stack, no credentials: exit 0 and both reports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCI_", "GITHUB_"))}
    env["HOME"] = str(tmp_path)  # no ~/.oci/config
    out = tmp_path / "out"
    proc = subprocess.run(
        [_freetier(), "pr", "--stack", str(SHIPPED_STACK), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "comment-full.md",
        "comment.md",
        "pr-report.json",
        "pr-report.md",
    ]
    assert re.search(r"skipped\s+oci ", proc.stdout)
    assert "ran offline" in proc.stdout
    report = json.loads((out / "pr-report.json").read_text())
    assert report["exit_code"] == 0


def test_online_gate_refuses_to_skip(tmp_path: Path, monkeypatch, capsys) -> None:
    """The deploy gate: without credentials the oci step would be skipped, so it fails."""
    for name in [k for k in os.environ if k.startswith("OCI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "out"
    assert main(["pr", "--online", "--stack", str(SHIPPED_STACK), "--out", str(out)]) == 1
    assert (
        "--online: step(s) skipped for lack of credentials or tools: oci" in capsys.readouterr().err
    )
    assert not out.exists()


def test_validate_says_what_the_proxmox_example_costs_on_the_current_allowance(capsys) -> None:
    assert main(["stack", "validate", str(PROXMOX_EXAMPLE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        f"{PROXMOX_EXAMPLE}: free tier on always-free-2026-06: BLOCKING: 3 finding(s), an "
        "estimated $13.87 a month plus items at unknown prices (a1_ocpus 3 of 2 OCPU; "
        "a1_memory_gb 18 of 12 GB; a1_instances 3 of 2 instances)"
    )
    assert main(["stack", "validate", str(PROXMOX_EXAMPLE), "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["free_tier"]["profile"] == "always-free-2026-06"
    assert body["free_tier"]["free"] is False
    assert main(["stack", "validate", str(SHIPPED_STACK)]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[1]
        .endswith("free tier on always-free-2026-06: free: $0.00 a month")
    )
