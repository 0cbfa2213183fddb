"""The GitHub Actions workflows: linted by the real actionlint and by zizmor in its
strictest persona (auditor), plus structural rules neither tool enforces (SHA pins,
secrets only through env:// and only inside an environment, the Dagger CLI version
matching dagger.json)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
GITHUB_DIR = ROOT / ".github"
WORKFLOW_DIR = GITHUB_DIR / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.y*ml"))
DAGGER_ACTION = "dagger/dagger-for-github"
SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"

SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(?:\.\d+){0,2}\b")

# A workflow that both linters must reject: an attacker-controlled PR title
# expanded straight into a shell script, a tag-pinned action, and a secret handed to
# a job outside any environment (only the auditor persona reports that one).
BAD_WORKFLOW = """\
name: bad
on: pull_request
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
      - run: ./deploy
        env:
          OCI_KEY: ${{ secrets.OCI_KEY }}
"""
PLAN_ENVIRONMENT = f"${{{{ {SAME_REPO} && 'plan' || '' }}}}"


# --- helpers -----------------------------------------------------------------


def find_tool(name: str) -> str:
    """The tool installed next to this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; install the test extras (pip install -e .[test])")
    return found


def run_tool(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def run_actionlint(files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [find_tool("actionlint"), "-no-color", "-oneline", *map(str, files)]
    return run_tool(argv, cwd)


def run_zizmor(target: Path, cwd: Path, fmt: str = "plain") -> subprocess.CompletedProcess[str]:
    argv = [
        find_tool("zizmor"),
        "--persona=auditor",
        "--offline",
        "--no-progress",
        "--color=never",
        f"--format={fmt}",
        str(target),
    ]
    return run_tool(argv, cwd)


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def load(path: Path) -> dict[Any, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path.name}: not a mapping"
    return doc


def triggers(doc: dict[Any, Any]) -> dict[str, Any]:
    """The `on:` block as a mapping; PyYAML reads the bare key `on` as True."""
    on = doc.get("on", doc.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict), "workflow has no `on:` triggers"
    return on


def jobs(doc: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    found = doc.get("jobs")
    assert isinstance(found, dict) and found, "workflow has no jobs"
    return found


def steps(doc: dict[Any, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in jobs(doc).items():
        for step in job.get("steps", []):
            yield job_id, step


def all_uses(doc: dict[Any, Any]) -> Iterator[str]:
    for job in jobs(doc).values():
        if "uses" in job:  # a reusable workflow call
            yield job["uses"]
    for _, step in steps(doc):
        if "uses" in step:
            yield step["uses"]


def unpinned_uses(doc: dict[Any, Any]) -> list[str]:
    return [ref for ref in all_uses(doc) if not ref.startswith("./") and not SHA_PIN.fullmatch(ref)]


def uses_without_version_comment(text: str) -> list[str]:
    bad = []
    for line in text.splitlines():
        match = USES_LINE.match(line)
        if (
            match
            and not match["ref"].startswith("./")
            and not VERSION_COMMENT.search(match["rest"])
        ):
            bad.append(line.strip())
    return bad


def secrets_in_inline_args(doc: dict[Any, Any]) -> list[str]:
    """`args`/`call` are pasted into the action's shell script, so a secret
    there is printed in the log and open to injection; use env://NAME."""
    bad = []
    for job_id, step in steps(doc):
        for key in ("args", "call"):
            value = str((step.get("with") or {}).get(key, ""))
            if "${{" in value and "secrets." in value:
                bad.append(f"{job_id}: {step.get('name', step.get('uses'))}: with.{key}")
    return bad


def dagger_steps(doc: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for _, step in steps(doc) if str(step.get("uses", "")).startswith(DAGGER_ACTION)]


def engine_version() -> str:
    config = json.loads((ROOT / "dagger.json").read_text(encoding="utf-8"))
    return str(config["engineVersion"]).removeprefix("v")


def workflow_ids(path: Path) -> str:
    return path.name


# --- the real linters ---------------------------------------------------------


def test_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"pr.yml", "deploy.yml"}


def test_actionlint_is_clean() -> None:
    result = run_actionlint(WORKFLOWS, ROOT)
    assert result.returncode == 0 and not result.stdout.strip(), output_of(result)


def test_zizmor_is_clean() -> None:
    result = run_zizmor(GITHUB_DIR, ROOT)
    assert result.returncode == 0, output_of(result)
    assert "No findings to report" in result.stdout + result.stderr, output_of(result)


def test_linters_and_rules_reject_a_bad_workflow(tmp_path: Path) -> None:
    """Proves the tools run for real: a known-bad workflow must be reported."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW, encoding="utf-8")

    lint = run_actionlint([bad], tmp_path)
    assert lint.returncode != 0, output_of(lint)
    assert "github.event.pull_request.title" in lint.stdout, output_of(lint)

    audit = run_zizmor(tmp_path / ".github", tmp_path, fmt="json")
    assert audit.returncode != 0, output_of(audit)
    idents = {finding["ident"] for finding in json.loads(audit.stdout)}
    expected = {"template-injection", "unpinned-uses", "secrets-outside-env"}
    assert expected <= idents, output_of(audit)

    doc = load(bad)
    assert unpinned_uses(doc) == ["actions/checkout@v4"]
    assert "permissions" not in doc
    assert uses_without_version_comment(BAD_WORKFLOW)


def test_inline_secret_rule_catches_secrets_in_args() -> None:
    doc = {
        "jobs": {
            "j": {
                "steps": [
                    {
                        "uses": f"{DAGGER_ACTION}@{'0' * 40}",
                        "with": {"args": "pr --oci-key=${{ secrets.OCI_KEY }}"},
                    }
                ]
            }
        }
    }
    assert secrets_in_inline_args(doc) == [f"j: {DAGGER_ACTION}@{'0' * 40}: with.args"]


# --- structural rules ----------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_ids)
def test_every_action_is_pinned_to_a_commit(path: Path) -> None:
    assert unpinned_uses(load(path)) == []
    assert uses_without_version_comment(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_ids)
def test_no_secret_is_inlined_in_dagger_args(path: Path) -> None:
    assert secrets_in_inline_args(load(path)) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_ids)
def test_no_pull_request_target(path: Path) -> None:
    assert "pull_request_target" not in triggers(load(path))


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_ids)
def test_top_level_permissions_and_concurrency(path: Path) -> None:
    doc = load(path)
    assert doc.get("permissions") == {}, "top level must grant nothing: permissions: {}"
    assert doc.get("concurrency"), "workflow-level concurrency must be set"
    for job_id, job in jobs(doc).items():
        assert isinstance(job.get("permissions"), dict), f"{job_id}: job permissions missing"
        assert job.get("timeout-minutes"), f"{job_id}: timeout-minutes missing"


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_ids)
def test_checkout_does_not_persist_credentials(path: Path) -> None:
    for job_id, step in steps(load(path)):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            with_ = step.get("with") or {}
            assert with_.get("persist-credentials") is False, job_id


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_ids)
def test_dagger_version_matches_dagger_json(path: Path) -> None:
    found = dagger_steps(load(path))
    assert found, f"{path.name}: no {DAGGER_ACTION} step"
    for step in found:
        assert str(step["with"]["version"]) == engine_version()


def test_pr_passes_cloud_secrets_only_to_same_repo_pulls() -> None:
    doc = load(WORKFLOW_DIR / "pr.yml")
    assert set(triggers(doc)) == {"pull_request"}
    assert doc["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in doc["concurrency"]["group"]
    allowed = {"contents": "read", "pull-requests": "write", "checks": "write"}
    for job in jobs(doc).values():
        assert set(job["permissions"].items()) <= set(allowed.items())
    for _, step in steps(doc):
        env = " ".join(str(v) for v in (step.get("env") or {}).values())
        if "secrets." in env:
            assert step.get("if") == SAME_REPO, step.get("name")
    # The secrets are the `plan` environment's, and only a same-repository run enters it.
    assert [job.get("environment") for job in jobs(doc).values()] == [PLAN_ENVIRONMENT]
    args = [str(step["with"]["args"]) for step in dagger_steps(doc)]
    assert all(a.startswith("pr ") and a.endswith("export --path=out") for a in args)
    assert any("--oci-key=env://OCI_KEY" in a for a in args)
    assert any("--oci-key" not in a for a in args), "forks need a step without cloud secrets"
    # Both layers declare the Tailscale key (bastion and nodes): a plan without it stops.
    (same_repo,) = [a for a in args if "--oci-key" in a]
    assert "--tailscale-authkey=env://TS_AUTH_KEY" in same_repo


def test_a_fork_plans_offline_without_any_token() -> None:
    """A fork's token may not write: handing it over would only make the comment step
    fail, and the verdict with it. Without one, `pr` skips the comment and says so."""
    (fork,) = [
        step
        for _, step in steps(load(WORKFLOW_DIR / "pr.yml"))
        if step.get("if") == SAME_REPO.replace("==", "!=")
    ]
    assert set(fork["env"]) == {"PR_NUMBER", "HEAD_SHA"}
    assert "--github-token" not in fork["with"]["args"]


def test_pr_publishes_the_report_and_never_the_plan_files() -> None:
    text = (WORKFLOW_DIR / "pr.yml").read_text(encoding="utf-8")
    assert re.search(r"out/comment-full\.md\s*>>\s*\"\$GITHUB_STEP_SUMMARY\"", text)
    uploads = [
        step
        for _, step in steps(load(WORKFLOW_DIR / "pr.yml"))
        if str(step.get("uses", "")).startswith("actions/upload-artifact@")
    ]
    # plan.bin / plan.json hold values in clear: only the rendered reports are uploaded.
    assert [step["with"]["path"].split() for step in uploads] == [["out/*.md", "out/*.json"]]


def test_pr_names_the_pull_request_through_env_not_expressions_in_args() -> None:
    for step in dagger_steps(load(WORKFLOW_DIR / "pr.yml")):
        args = str(step["with"]["args"])
        assert '--pr-number="$PR_NUMBER"' in args and '--head-sha="$HEAD_SHA"' in args
        assert "${{" not in args
        assert step["env"]["PR_NUMBER"] == "${{ github.event.pull_request.number }}"


def test_deploy_runs_in_production_one_at_a_time() -> None:
    doc = load(WORKFLOW_DIR / "deploy.yml")
    assert triggers(doc)["push"] == {"branches": ["main"]}
    assert doc["concurrency"] == {"group": "deploy-production", "cancel-in-progress": False}
    assert [job.get("environment") for job in jobs(doc).values()] == ["production"]
    step, bootstrap = dagger_steps(doc)
    assert step["with"]["verb"] == "call"
    assert step["with"]["args"].split() == [
        "deploy",
        "--oci-config=env://OCI_CONFIG",
        "--oci-key=env://OCI_KEY",
        "--github-token=env://GITHUB_TOKEN",
        "--state-access-key=env://STATE_ACCESS_KEY",
        "--state-secret-key=env://STATE_SECRET_KEY",
        "--fingerprint-key=env://FREETIER_FINGERPRINT_KEY",
        "--tailscale-authkey=env://TS_AUTH_KEY",
        '--backend-config="$BACKEND_CONFIG"',
        '--repo="$GITHUB_REPOSITORY"',
        '--sha="$GITHUB_SHA"',
    ]
    assert set(step["env"]) == {
        "OCI_CONFIG",
        "OCI_KEY",
        "GITHUB_TOKEN",
        "STATE_ACCESS_KEY",
        "STATE_SECRET_KEY",
        "FREETIER_FINGERPRINT_KEY",
        "TS_AUTH_KEY",
        "BACKEND_CONFIG",
    }
    # Then bootstrap, after the talos layer: the age identity only as a Dagger secret.
    assert bootstrap["with"]["args"].split() == [
        "bootstrap",
        "--age-key=env://FREETIER_AGE_KEY",
        "--state-access-key=env://STATE_ACCESS_KEY",
        "--state-secret-key=env://STATE_SECRET_KEY",
        '--backend-config="$BACKEND_CONFIG"',
        '--repo="$GITHUB_REPOSITORY"',
    ]
    assert bootstrap["env"]["FREETIER_AGE_KEY"] == "${{ secrets.FREETIER_AGE_KEY }}"
    assert set(bootstrap["env"]) == {
        "FREETIER_AGE_KEY",
        "STATE_ACCESS_KEY",
        "STATE_SECRET_KEY",
        "BACKEND_CONFIG",
    }


# tailscale/github-action v4.1.3 is commit 780049a30b6ff5c378a9e7b389d15ece7a204888 (the tag in
# github.com/tailscale/github-action, 2026-06-29); its action.yml takes oauth-client-id,
# oauth-secret, tags, args and use-cache.
TAILSCALE_ACTION = "tailscale/github-action@780049a30b6ff5c378a9e7b389d15ece7a204888"


def test_deploy_joins_the_tailnet_first_as_an_ephemeral_tagged_node() -> None:
    doc = load(WORKFLOW_DIR / "deploy.yml")
    (job,) = jobs(doc).values()
    uses = [str(step.get("uses", "")) for step in job["steps"]]
    join = uses.index(TAILSCALE_ACTION)
    assert join < uses.index(next(u for u in uses if u.startswith(DAGGER_ACTION)))
    step = job["steps"][join]
    assert step["with"] == {
        "oauth-client-id": "${{ secrets.TS_OAUTH_CLIENT_ID }}",
        "oauth-secret": "${{ secrets.TS_OAUTH_SECRET }}",
        "tags": "tag:ci",
        "args": "--accept-routes",
        "use-cache": "false",
    }
    text = (WORKFLOW_DIR / "deploy.yml").read_text()
    assert f"{TAILSCALE_ACTION} # v4.1.3" in text


def test_images_only_the_propose_job_writes_and_only_main_publishes() -> None:
    doc = load(WORKFLOW_DIR / "images.yml")
    writers = {
        name: job["permissions"]
        for name, job in jobs(doc).items()
        if "write" in job.get("permissions", {}).values()
    }
    assert writers == {"propose": {"contents": "write", "pull-requests": "write"}}
    on_main = "github.ref == 'refs/heads/main'"
    publishing = [
        (name, step.get("name"))
        for name, job in jobs(doc).items()
        for step in job["steps"]
        if "OCI_KEY" in step.get("env", {}) or "GITHUB_TOKEN" in step.get("env", {})
    ]
    assert publishing == [("build", "Publish"), ("talos", "Publish"), ("propose", "Propose")]
    for name, step_name in publishing:
        job = jobs(doc)[name]
        step = next(s for s in job["steps"] if s.get("name") == step_name)
        assert on_main in f"{job.get('if', '')} {step.get('if', '')}", (name, step_name)
        # Their secrets are the `images` environment's, entered on main only.
        assert job["environment"] in ("images", f"${{{{ {on_main} && 'images' || '' }}}}"), name
    propose = jobs(doc)["propose"]
    assert propose["needs"] == ["build", "talos"]
    (step,) = [s for s in propose["steps"] if DAGGER_ACTION in s.get("uses", "")]
    assert step["with"]["args"].split()[:2] == ["propose-images", "--ocids=out/ocids"]


def test_images_matrices_come_from_the_stack() -> None:
    doc = load(WORKFLOW_DIR / "images.yml")
    needed = jobs(doc)["needed"]
    (ask,) = [s for s in needed["steps"] if DAGGER_ACTION in s.get("uses", "")]
    assert ask["with"]["args"] == "images-needed"
    assert needed["outputs"]["images"] == f"${{{{ steps.{ask['id']}.outputs.output }}}}"
    for name in ("build", "talos"):
        job = jobs(doc)[name]
        assert job["needs"] == "needed"
        assert job["strategy"]["matrix"]["image"] == (
            f"${{{{ fromJSON(needs.needed.outputs.images).{name} }}}}"
        )
    assert jobs(doc)["build"]["runs-on"] == "${{ matrix.image.runner }}"
