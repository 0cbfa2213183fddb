"""Files a stranger can write, read by the commands that take them: each ends in one clear
`freetier: error:` line and exit 2, never a traceback, a hang or a run-away expansion."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from freetier.cli import main
from freetier.errors import ConfigError
from freetier.files import MAX_DEPTH, MAX_NODES, check_tree
from freetier.secrets.sops_config import read_config_recipients
from tests.conftest import SHIPPED_STACK

# 324 bytes that expand to 9^9 (387 million) strings.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)
DEEP_FLOW = "a: " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_BLOCK = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * 105 + "x\n"


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("freetier: error: "), err[:500]
    return lines[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ALIAS_BOMB, f"holds more than {MAX_NODES} values once its aliases are expanded"),
        (DEEP_FLOW, f"nested deeper than {MAX_DEPTH} levels"),
        (DEEP_BLOCK, f"nested deeper than {MAX_DEPTH} levels"),
    ],
    ids=["alias-bomb", "deep-flow", "deep-block"],
)
def test_stack_validate_bounds_the_yaml(tmp_path: Path, text: str, expected: str) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(text)
    code, _, err = run(["stack", "validate", str(stack)])
    assert code == 2
    assert one_error_line(err) == f"freetier: error: {stack}: {expected}"


def test_a_huge_bad_value_is_cut_in_the_error_line(tmp_path: Path) -> None:
    text = SHIPPED_STACK.read_text().replace("name: freetier\n", f"name: {'x' * 900_000}\n", 1)
    (tmp_path / "stack.yaml").write_text(text)
    code, _, err = run(["stack", "validate", str(tmp_path / "stack.yaml")])
    assert code == 2
    line = one_error_line(err)
    assert len(line) < 500 and "(900002 characters)" in line


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "stack.yaml"
    os.mkfifo(fifo)
    # A subprocess with a deadline: a reader that opens the FIFO would wait for a writer.
    done = subprocess.run(
        [sys.executable, "-m", "freetier", "stack", "validate", str(fifo)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert one_error_line(done.stderr).endswith("not a regular file (a FIFO or a device?)")


def _failed_plan_folder(tmp_path: Path, errors: object) -> Path:
    folder = tmp_path / "plans" / "oci"
    folder.mkdir(parents=True)
    (folder / "errors.json").write_text(json.dumps(errors))
    return folder


GUARD = {
    "profile": {"name": "p", "source": "https://example.org", "read": "2026-06-01"},
    "free": True,
    "verdict": "free: $0.00 a month",
    "limits": [],
    "resources": [],
    "blocking": [],
    "warnings": [],
}


@pytest.mark.parametrize(
    ("guard", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
        ("{", "1: not valid JSON"),
        ("{}", "not the output of `freetier guard --format json` (profile: Field required)"),
        (json.dumps({**GUARD, "free": "yes"}), "(free: Input should be a valid boolean)"),
        (json.dumps({**GUARD, "resources": [{"origin": 1}]}), "(resources.0.address: Field"),
    ],
    ids=["deep", "truncated", "empty-object", "wrong-type", "bad-resource"],
)
def test_comment_render_checks_the_guard_report(tmp_path: Path, guard: str, expected: str) -> None:
    folder = _failed_plan_folder(tmp_path, ["Error: boom"])
    (tmp_path / "guard.json").write_text(guard)
    code, out, err = run(
        ["comment", "render", "--plan", f"oci={folder}", "--guard", str(tmp_path / "guard.json")]
    )
    assert (code, out) == (2, "")
    assert expected in one_error_line(err)


def test_a_good_guard_report_renders(tmp_path: Path) -> None:
    folder = _failed_plan_folder(tmp_path, ["Error: boom"])
    (tmp_path / "guard.json").write_text(json.dumps(GUARD))
    code, out, _ = run(
        ["comment", "render", "--plan", f"oci={folder}", "--guard", str(tmp_path / "guard.json")]
    )
    assert code == 0 and "Free-tier guard: free: $0.00 a month" in out


@pytest.mark.parametrize(
    "errors", [{"not": "a list"}, [1, 2], "text"], ids=["object", "numbers", "string"]
)
def test_a_malformed_errors_json_is_bad_input(tmp_path: Path, errors: object) -> None:
    folder = _failed_plan_folder(tmp_path, errors)
    code, _, err = run(["comment", "render", "--plan", f"oci={folder}"])
    assert code == 2
    assert one_error_line(err).endswith("errors.json: not a list of error lines")


@pytest.mark.parametrize("text", [ALIAS_BOMB, DEEP_FLOW], ids=["alias-bomb", "deep"])
def test_sops_config_is_bounded(tmp_path: Path, text: str) -> None:
    (tmp_path / ".sops.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"values once its aliases|nested deeper"):
        read_config_recipients(tmp_path)


def test_flux_validate_bounds_every_document(tmp_path: Path) -> None:
    """The bomb is refused while reading (bounded), kept aside as a file that does not parse:
    no Kustomization takes it in, so the run goes on."""
    (tmp_path / "bomb.yaml").write_text(ALIAS_BOMB)
    (tmp_path / "source.yaml").write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n"
        "  name: a\n  namespace: flux-system\nspec:\n  interval: 1m\n"
        "  url: https://example.com/a\n"
    )
    code, out, _ = run(["flux", "validate", str(tmp_path), "--format", "json"])
    assert code == 0
    assert json.loads(out)["counts"]["broken"] == 1


def test_check_tree_counts_a_shared_node_each_time_it_is_reached() -> None:
    leaf = list(range(10))
    check_tree([leaf] * 10, "t", max_nodes=111)  # 1 + 10 + 100
    with pytest.raises(ConfigError, match="more than 110 values"):
        check_tree([leaf] * 10, "t", max_nodes=110)
    with pytest.raises(ConfigError, match="nested deeper than 3 levels"):
        check_tree({"a": {"b": {"c": 1}}}, "t", max_depth=3)
    check_tree({"a": {"b": 1}}, "t", max_depth=3)


FINGERPRINT = {
    "changes": "sha256-public:" + "0" * 64,
    "tofu_version": "1.11.0",
    "lock_file": "",
    "lineage": "l",
    "serial": 3,
    "base": "",
    "head": "",
    "upstream": "",
}


@pytest.mark.parametrize(
    "body",
    [
        [],
        {k: v for k, v in FINGERPRINT.items() if k != "serial"},
        {**FINGERPRINT, "serial": "3"},
        {**FINGERPRINT, "extra": 1},
    ],
    ids=["list", "missing-field", "wrong-type", "extra-field"],
)
def test_apply_refuses_a_fingerprint_it_did_not_write(tmp_path: Path, body: object) -> None:
    folder = tmp_path / "reviewed"
    folder.mkdir()
    (folder / "fingerprint.json").write_text(json.dumps(body))
    argv = ["apply", "--layer", "oci", "--no-backend", "--plan", str(folder)]
    code, _, err = run([*argv, "--stack", str(SHIPPED_STACK)])
    assert code == 2
    assert one_error_line(err).endswith("not a fingerprint written by `freetier plan`")


def test_apply_refuses_changes_it_did_not_write(tmp_path: Path) -> None:
    folder = tmp_path / "reviewed"
    folder.mkdir()
    (folder / "fingerprint.json").write_text(json.dumps(FINGERPRINT))
    (folder / "changes.json").write_text('{"not": "a list"}')
    argv = ["apply", "--layer", "oci", "--no-backend", "--plan", str(folder)]
    code, _, err = run([*argv, "--stack", str(SHIPPED_STACK)])
    assert code == 2
    assert one_error_line(err).endswith("not the changes written by `freetier plan`")


def test_a_deeply_nested_plan_json_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("[" * 100_000 + "]" * 100_000)
    code, out, err = run(["comment", "render", "--plan", f"oci={tmp_path / 'plan.json'}"])
    assert (code, out) == (2, "")
    assert one_error_line(err).endswith("nested too deeply to be a plan")


TREE = (".sops.yaml", ".freetier", "clusters", "infrastructure", "apps")


@pytest.mark.parametrize(
    "tail",
    ["key: [unclosed\n  token: s3cr3t-in-this-line\n", "x: *undefined-s3cr3t-in-this-line\n"],
    ids=["invalid", "unknown-alias"],
)
def test_a_generated_file_edited_into_invalid_yaml_is_drift_not_a_crash(
    tmp_path: Path, tail: str
) -> None:
    """Both crashed with a traceback quoting the line (which may hold a secret), and pr wrote
    no report. `--check` shows the user their own edit as a diff, as for any hand edit; the
    report, which is published, never quotes it."""
    for name in ("stack.yaml", "stack.schema.json", *TREE):
        source = SHIPPED_STACK.parent / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, tmp_path / name)
    release = tmp_path / "infrastructure/controllers/cilium/release.yaml"
    release.write_text(release.read_text() + tail)
    code, _, err = run(["flux", "render", "--check", "--stack", str(tmp_path / "stack.yaml")])
    assert code == 1 and "Traceback" not in err
    assert "freetier: infrastructure/controllers/cilium/release.yaml: conflict: edited" in err
    argv = ["pr", "--stack", str(tmp_path / "stack.yaml"), "--out", str(tmp_path / "out")]
    code, out, err = run(argv)
    assert code == 1 and "s3cr3t" not in out + err
    assert all("s3cr3t" not in p.read_text() for p in (tmp_path / "out").glob("*.*"))
    report = json.loads((tmp_path / "out" / "pr-report.json").read_text())
    assert {s["name"]: s["outcome"] for s in report["steps"]}["flux-tree"] == "failed"
