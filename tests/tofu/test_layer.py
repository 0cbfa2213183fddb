"""`freetier plan` and `freetier apply` on a layer, end to end with the real terraform.

The stand-in layer takes exactly tofu/oci's variables from `freetier tofu vars` but holds
only built-in resources, since the oci provider cannot be downloaded here.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from freetier.cli import main
from tests.conftest import SHIPPED_STACK

STAND_IN = Path(__file__).parent / "fixtures" / "stand-in-oci"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [k for k in os.environ if k.startswith("TF_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/dev/null")
    shutil.copytree(STAND_IN, tmp_path / "tofu" / "oci")
    text = SHIPPED_STACK.read_text().replace(
        "availability_domains: [1]", "availability_domains: [1, 2]"
    )
    (tmp_path / "stack.yaml").write_text(text)
    return tmp_path


def test_plan_writes_the_plan_and_guards_it(repo: Path, capsys) -> None:
    code = main(
        [
            "plan",
            "--layer",
            "oci",
            "--stack",
            str(repo / "stack.yaml"),
            "--no-backend",
            "--out",
            str(repo / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith(f"oci: changes; plan in {repo / 'out' / 'oci'}")
    assert sorted(p.name for p in (repo / "out" / "oci").iterdir()) == [
        "changes.json",
        "fingerprint.json",
        "plan.bin",
        "plan.json",
        "plan.txt",
    ]
    shown = json.loads((repo / "out" / "oci" / "plan.json").read_text())
    assert [rc["address"] for rc in shown["resource_changes"]] == [
        'terraform_data.instance["node-1"]',
        'terraform_data.instance["node-2"]',
    ]
    tfvars = json.loads((repo / "tofu" / "oci" / "stack.auto.tfvars.json").read_text())
    assert tfvars["availability_domains"] == [1, 2]
    assert "free: $0.00 a month" in out  # terraform_data is no OCI resource


def test_apply_rotates_to_the_ad_with_capacity(repo: Path, capsys) -> None:
    code = main(
        [
            "apply",
            "--layer",
            "oci",
            "--stack",
            str(repo / "stack.yaml"),
            "--no-backend",
            "--deadline",
            "5",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "oci: applied after 2 attempt(s), AD rotation 1" in captured.out
    assert "oci: attempt 1: AD rotation 0 (ADs 1, 2): out of host capacity" in captured.err
    state = repo / "tofu" / "oci" / "terraform.tfstate"  # values in clear: tofu runs umask 077
    assert state.stat().st_mode & 0o777 == 0o600
    # A rerun finds everything in place: one attempt.
    assert (
        main(
            [
                "apply",
                "--layer",
                "oci",
                "--stack",
                str(repo / "stack.yaml"),
                "--no-backend",
                "--deadline",
                "5",
            ]
        )
        == 0
    )
    assert "applied after 1 attempt(s)" in capsys.readouterr().out


def test_missing_layer_is_bad_input(tmp_path: Path, capsys) -> None:
    (tmp_path / "stack.yaml").write_text(SHIPPED_STACK.read_text())
    assert main(["plan", "--layer", "oci", "--stack", str(tmp_path / "stack.yaml")]) == 2
    assert "no such tofu layer" in capsys.readouterr().err


def test_deadline_must_be_positive(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["apply", "--layer", "oci", "--deadline", "0"])
    assert info.value.code == 2


def _plan(repo: Path) -> int:
    stack = str(repo / "stack.yaml")
    return main(["plan", "--layer", "oci", "--stack", stack, "--no-backend", "--out", "out"])


def test_the_plan_folder_is_its_owners_only(repo: Path, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    folder = repo / "out" / "oci"
    folder.mkdir(parents=True)
    (folder / "plan.bin").write_bytes(b"")
    (folder / "plan.bin").chmod(0o644)  # left by an older run: terraform keeps the mode
    assert _plan(repo) == 0
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert modes == dict.fromkeys(modes, 0o600) and "plan.bin" in modes
    assert folder.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    ("broken", "shown_as"),
    [
        (  # the plan fails quoting an absolute path in the repository
            'resource "terraform_data" "x" { input = file("${path.cwd}/missing.txt") }\n',
            '"tofu/oci/missing.txt"',
        ),
        ('resource "terraform_data" "x" {\n', "terraform init"),  # argv names the binary
    ],
    ids=["plan", "init"],
)
def test_a_failed_plan_shows_no_runner_path(
    repo: Path, monkeypatch, capsys, broken: str, shown_as: str
) -> None:
    monkeypatch.chdir(repo)
    (repo / "tofu" / "oci" / "broken.tf").write_text(broken)
    assert _plan(repo) == 1
    err = capsys.readouterr().err
    errors = (repo / "out" / "oci" / "errors.json").read_text()
    assert main(["comment", "render", "--plan", "oci=out/oci"]) == 0
    comment = capsys.readouterr().out
    exe = shutil.which("tofu") or shutil.which("terraform")
    assert exe is not None and "❌ plan failed" in comment
    shown_as = shown_as.replace("terraform", Path(exe).name)
    for shown in (err, json.loads(errors), comment):
        assert (str(repo) in str(shown), exe in str(shown), shown_as in str(shown)) == (
            False,
            False,
            True,
        )
