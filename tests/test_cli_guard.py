"""`freetier guard` and `freetier tofu vars` through the CLI: exit codes, formats, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from freetier.cli import main
from tests.conftest import PROXMOX_EXAMPLE, ROOT, SHIPPED_STACK
from tests.guard.planjson import a1, change, plan, volume


def _freetier() -> str:
    return str(Path(sys.executable).with_name("freetier"))


def test_shipped_stack_is_free(capsys) -> None:
    assert main(["guard", "--stack", str(SHIPPED_STACK)]) == 0
    out = capsys.readouterr().out
    assert "a1_ocpus                2     2" in out
    assert out.rstrip().endswith("free: $0.00 a month")


def test_proxmox_example_is_free_only_under_the_legacy_profile(capsys) -> None:
    assert main(["guard", "--stack", str(PROXMOX_EXAMPLE)]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "guard",
                "--stack",
                str(PROXMOX_EXAMPLE),
                "--profile",
                "always-free-2026-06",
                "--format",
                "json",
            ]
        )
        == 1
    )
    body = json.loads(capsys.readouterr().out)
    assert body["free"] is False and body["exit_code"] == 1
    assert {lim["name"] for lim in body["limits"] if lim["over"]} == {
        "a1_ocpus",
        "a1_memory_gb",
        "a1_instances",
    }


def test_an_oci_plan_replaces_the_stack_and_other_layers_add(tmp_path: Path, capsys) -> None:
    oci = tmp_path / "oci.json"
    oci.write_text(json.dumps(plan(a1("only", ocpus=1, memory=6))))
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(plan(a1("more", ocpus=2, memory=6))))
    assert (
        main(["guard", "--stack", str(SHIPPED_STACK), "--plan", f"oci={oci}", "--format", "json"])
        == 0
    )
    body = json.loads(capsys.readouterr().out)
    # The oci plan replaces what the stack derives of layer 1; the load balancer the committed
    # Flux tree's Gateway asks the OCI CCM for still counts.
    assert body["sources"] == ["cluster", "plan:oci"]
    assert (
        main(
            [
                "guard",
                "--stack",
                str(SHIPPED_STACK),
                "--plan",
                f"oci={oci}",
                "--plan",
                f"extra={extra}",
                "--format",
                "markdown",
            ]
        )
        == 1
    )
    assert "### ❌ Free-tier guard: BLOCKING" in capsys.readouterr().out


def test_may_be_billed_is_not_free_and_says_so(tmp_path: Path, capsys) -> None:
    reserved = change("oci_core_public_ip", "ingress", ["create"], {"lifetime": "RESERVED"})
    oci = _write(tmp_path, "oci.json", json.dumps(plan(a1("only"), reserved)))
    args = ["guard", "--stack", str(SHIPPED_STACK), "--plan", f"oci={oci}", "--format"]
    assert main([*args, "markdown"]) == 1
    md = capsys.readouterr().out
    assert md.startswith(
        "### ❌ Free-tier guard: MAY BE BILLED: 1 item(s), up to an estimated $0.00 a month "
        "plus items at unknown prices\n"
    )
    assert (
        "**May be billed**\n\n- oci_core_public_ip.ingress: reserved public IPs are not in the "
        "Always Free list; price unconfirmed\n"
    ) in md
    assert "**Blocking**" not in md
    assert main([*args, "json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["free"] is False and body["exit_code"] == 1 and body["blocking"] == []
    assert body["may_be_billed"] == [
        "oci_core_public_ip.ingress: reserved public IPs are not in the Always Free list; "
        "price unconfirmed"
    ]
    assert main([*args, "text"]) == 1
    text = capsys.readouterr().out
    assert "\nmay be billed:\n  - oci_core_public_ip.ingress: reserved public IPs" in text
    assert text.rstrip().endswith(
        "MAY BE BILLED: 1 item(s), up to an estimated $0.00 a month plus items at unknown prices"
    )


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("malformed-json", "not valid JSON"),
        ("unsupported-format", "format_version: '0.1' is not supported"),
        ("unknown-profile", "--profile always-free-1999: unknown free-tier profile"),
        ("missing-plan", "no such file"),
        ("invalid-stack", "required field is missing"),
        ("bad-plan-spec", "--plan oci: expected NAME=FILE"),
        ("layer-twice", "--plan: a layer is named twice"),
        (
            "nan-quantity",
            "plan:oci: oci_core_volume.data: vpus_per_gb = nan is not a quantity",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(kind: str, fragment: str, tmp_path: Path) -> None:
    good = _write(tmp_path, "good.json", json.dumps(plan()))
    # json.dumps writes float("nan") as NaN, which Python's (and the guard's) JSON reader takes.
    nan_volume = change("oci_core_volume", "data", ["create"], volume(vpus=float("nan")))
    args = {
        "malformed-json": ["--plan", f"oci={_write(tmp_path, 'bad.json', '{oops')}"],
        "unsupported-format": [
            "--plan",
            f"oci={_write(tmp_path, 'old.json', json.dumps(plan(version='0.1')))}",
        ],
        "unknown-profile": ["--profile", "always-free-1999"],
        "missing-plan": ["--plan", f"oci={tmp_path / 'absent.json'}"],
        "invalid-stack": [
            "--stack",
            str(
                _write(
                    tmp_path,
                    "stack.yaml",
                    SHIPPED_STACK.read_text().replace("  alert_email: you@example.com\n", ""),
                )
            ),
        ],
        "bad-plan-spec": ["--plan", "oci"],
        "layer-twice": ["--plan", f"oci={good}", "--plan", f"oci={good}"],
        "nan-quantity": [
            "--plan",
            f"oci={_write(tmp_path, 'nan.json', json.dumps(plan(nan_volume)))}",
        ],
    }[kind]
    stack = [] if kind == "invalid-stack" else ["--stack", str(SHIPPED_STACK)]
    proc = subprocess.run(
        [_freetier(), "guard", *stack, *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_tofu_vars_writes_then_checks(tmp_path: Path, capsys) -> None:
    (tmp_path / "tofu" / "oci").mkdir(parents=True)
    stack = tmp_path / "stack.yaml"
    stack.write_text(SHIPPED_STACK.read_text())
    assert main(["tofu", "vars", "--layer", "oci", "--stack", str(stack), "--check"]) == 1
    assert main(["tofu", "vars", "--layer", "oci", "--stack", str(stack)]) == 0
    written = json.loads((tmp_path / "tofu" / "oci" / "stack.auto.tfvars.json").read_text())
    assert written["instances"]["node-1"]["ocpus"] == 1
    assert written["free_tier_limits"]["a1_ocpus"] == 2
    assert main(["tofu", "vars", "--layer", "oci", "--stack", str(stack), "--check"]) == 0
    stack.write_text(SHIPPED_STACK.read_text().replace("memory_gb: 6", "memory_gb: 5", 1))
    assert main(["tofu", "vars", "--layer", "oci", "--stack", str(stack), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err


def test_tofu_vars_needs_the_layer_folder(tmp_path: Path, capsys) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(SHIPPED_STACK.read_text())
    assert main(["tofu", "vars", "--layer", "oci", "--stack", str(stack)]) == 2
    assert "no such layer folder" in capsys.readouterr().err
    assert ROOT.joinpath("tofu").is_dir()
