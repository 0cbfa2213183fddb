"""Published fingerprints let nobody confirm a guess at a sensitive value, and deploy compares
only fingerprints made the same way: through the CLI, with the real terraform on the stand-in
layer and the real PyGithub against the fake GitHub.

The hostile review recovered a 4-digit sensitive variable from `comment.md` alone by hashing
every guess the way freetier did. `brute_force` is that attack: it knows the whole plan but
the value, and tries every 4-digit value with each way a digest can be computed without the
key: freetier's own code, and the unkeyed sha256 freetier published before.
"""

from __future__ import annotations

import json
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from freetier.cli import main
from freetier.comment import read_fingerprints
from freetier.plans.fingerprint import canonical, changes_digest, normalise_changes
from freetier.plans.model import Secrets
from tests.fakes.github_server import FakeGitHub
from tests.test_cli_plans import REPO, github, repo

__all__ = ["github", "repo"]  # fixtures, shared with the review loop's tests

PIN = "4821"
KEY = "f1ngerpr1nt-key-only-ci-holds-0123456789abcdef"
OTHER_KEY = "another-key-of-a-fork-or-a-rotation-0123456789"
PIN_TF = """
variable "pin" {
  type      = string
  sensitive = true
}

resource "terraform_data" "pin" {
  input = var.pin
}
"""
PIN_ADDRESS = "terraform_data.pin"
ATTACKERS_KEY = Secrets(fingerprint_key=b"any-key-the-attacker-makes-up-0123456789")
NOT_COVERED = "Changes to sensitive values are not covered by this review"


@pytest.fixture
def pinned(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (repo / "tofu" / "oci" / "pin.tf").write_text(PIN_TF)
    monkeypatch.setenv("TF_VAR_pin", PIN)
    return repo


def plan_and_render(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["plan", "--layer", "oci", "--no-backend", "--out", "out/plans"]) == 0
    capsys.readouterr()
    assert main(["comment", "render", "--plan", "oci=out/plans/oci"]) == 0
    return capsys.readouterr().out


def with_pin(shown: dict[str, Any], guess: str) -> dict[str, Any]:
    """The plan with `guess` wherever the value is (the attacker knows where, not what)."""
    change = next(rc for rc in shown["resource_changes"] if rc["address"] == PIN_ADDRESS)
    change["change"]["after"]["input"] = guess
    shown["variables"]["pin"]["value"] = guess
    return shown


def legacy_digest(shown: dict[str, Any]) -> str:
    """The digest freetier published before fingerprints were keyed: sha256 over the changes,
    the sensitive value as the token `(sensitive sha256:<sha256 of address, path, value>)`."""
    normalised = normalise_changes(shown)
    value = next(rc for rc in shown["resource_changes"] if rc["address"] == PIN_ADDRESS)
    token = sha256(f"{PIN_ADDRESS}\0input\0{canonical(value['change']['after']['input'])}".encode())
    for entry in normalised:
        if entry["address"] == PIN_ADDRESS:
            entry["after"]["input"] = f"(sensitive sha256:{token.hexdigest()})"
    return sha256(canonical(normalised).encode()).hexdigest()


def brute_force(plan_json: Path, published: str) -> set[str]:
    """Every 4-digit value that the published digest confirms, computed by freetier's code
    without a key and with a key of the attacker's own (a key that is not used would show),
    and by the old unkeyed digest."""
    shown = with_pin(json.loads(plan_json.read_text()), "")
    digits = published.rpartition(":")[2]
    found = set()
    for guess in (f"{n:04d}" for n in range(10_000)):
        candidate = with_pin(shown, guess)
        digests = (changes_digest(candidate), changes_digest(candidate, ATTACKERS_KEY))
        if digits in {d.rpartition(":")[2] for d in digests} | {legacy_digest(candidate)}:
            found.add(guess)
    return found


def test_the_keyed_fingerprint_confirms_no_guess(
    pinned: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FREETIER_FINGERPRINT_KEY", KEY)
    comment = plan_and_render(capsys)
    published = read_fingerprints(comment)["oci"]["changes"]
    assert published.startswith("hmac-sha256/") and NOT_COVERED not in comment
    found = brute_force(pinned / "out" / "plans" / "oci" / "plan.json", published)
    assert (len(found), PIN in found) == (0, False)
    assert (KEY in comment, PIN in (pinned / "out" / "plans" / "oci" / "plan.txt").read_text()) == (
        False,
        False,
    )


def test_without_a_key_the_fingerprint_leaves_the_value_out_and_says_so(
    pinned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    comment = plan_and_render(capsys)
    published = read_fingerprints(comment)["oci"]["changes"]
    assert published.startswith("sha256-public:") and NOT_COVERED in comment
    found = brute_force(pinned / "out" / "plans" / "oci" / "plan.json", published)
    assert len(found) == 10_000  # every guess fits: the digest says nothing of the value


def test_the_attack_recovers_the_value_from_the_unkeyed_digest_freetier_published_before(
    pinned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_and_render(capsys)
    plan_json = pinned / "out" / "plans" / "oci" / "plan.json"
    published = legacy_digest(json.loads(plan_json.read_text()))
    found = brute_force(plan_json, published)
    assert (len(found), PIN in found) == (1, True)


# --- deploy compares like with like ---------------------------------------------------------


def review_and_merge(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], number: int, merge_sha: str
) -> None:
    pull = github.add_pull(REPO, number)
    assert main(["plan", "--layer", "oci", "--no-backend", "--out", "out/plans"]) == 0
    post = ["comment", "post", "--repo", REPO, "--pr", str(number), "--sha", pull.head_sha]
    assert main([*post, "--plan", "oci=out/plans/oci"]) == 0
    github.add_commit(REPO, merge_sha, (number,))
    pull.merged_at = github.now()
    capsys.readouterr()


def use_key(monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    if key is None:
        monkeypatch.delenv("FREETIER_FINGERPRINT_KEY", raising=False)
    else:
        monkeypatch.setenv("FREETIER_FINGERPRINT_KEY", key)


def deploy(merge_sha: str) -> int:
    return main(["deploy", "--repo", REPO, "--sha", merge_sha, "--no-backend"])


@pytest.mark.parametrize(
    ("review_key", "deploy_key", "reason"),
    [
        (None, KEY, "made without FREETIER_FINGERPRINT_KEY"),
        (KEY, None, "FREETIER_FINGERPRINT_KEY is not set here"),
        (KEY, OTHER_KEY, "made with another key"),
    ],
    ids=["unkeyed-review", "unkeyed-deploy", "other-key"],
)
def test_deploy_refuses_a_fingerprint_made_another_way(
    pinned: Path,
    github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    review_key: str | None,
    deploy_key: str | None,
    reason: str,
) -> None:
    use_key(monkeypatch, review_key)
    review_and_merge(github, capsys, 9, "e" * 40)
    use_key(monkeypatch, deploy_key)
    assert deploy("e" * 40) == 1
    err = capsys.readouterr().err
    refusal = github.repo(REPO).pulls[9].comments[-1].body
    assert (reason in err, reason in refusal) == (True, True)
    assert not (pinned / "tofu" / "oci" / "terraform.tfstate").exists()


@pytest.mark.parametrize(("key", "applied"), [(KEY, False), (None, True)], ids=["keyed", "unkeyed"])
def test_a_sensitive_value_changed_after_review_is_covered_only_with_the_key(
    pinned: Path,
    github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    key: str | None,
    applied: bool,
) -> None:
    use_key(monkeypatch, key)
    review_and_merge(github, capsys, 10, "f" * 40)
    monkeypatch.setenv("TF_VAR_pin", "9999")
    assert deploy("f" * 40) == (0 if applied else 1)
    out, err = capsys.readouterr()
    if applied:
        assert "deployed 1 layer(s): oci (identical re-plan)" in out
    else:
        assert "oci: refused to apply" in err
        assert (PIN in err, "9999" in err) == (False, False)


def test_the_same_key_deploys_what_was_reviewed(
    pinned: Path,
    github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FREETIER_FINGERPRINT_KEY", KEY)
    review_and_merge(github, capsys, 11, "a" * 40)
    assert deploy("a" * 40) == 0
    assert "deployed 1 layer(s): oci (identical re-plan)" in capsys.readouterr().out


def test_a_short_key_is_refused_without_showing_it(
    pinned: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FREETIER_FINGERPRINT_KEY", "short-key")
    assert main(["plan", "--layer", "oci", "--no-backend"]) == 2
    err = capsys.readouterr().err
    assert "FREETIER_FINGERPRINT_KEY: shorter than 32 characters" in err
    assert ("short-key" in err, len(err.splitlines())) == (False, 1)
