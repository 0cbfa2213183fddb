"""`freetier bootstrap` end to end through the CLI: the real `kubernetes` client against the fake
API server (tests/fakes/kube_api.py) with a scripted controller, Flux's install.yaml from a
release site over https, the repository made by the real `secrets init` and `flux render`."""

from __future__ import annotations

import base64
import json
import time

import pytest
import yaml

from tests.bootstrap.conftest import INSTALL_PATH, REPO_URL, World

KUSTOMIZE = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations"
SOURCE = "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories"
SECRETS = "/api/v1/namespaces/flux-system/secrets"


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("freetier: error:")]


def test_a_healthy_bootstrap_applies_then_waits_for_every_step(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.run() == 0
    out, err = capsys.readouterr()
    assert "applied 18 objects (18 created); Secret sops-age: created" in out
    assert out.splitlines()[-6:] == [
        "ready: nodes registered: node-1, node-2",
        "ready: Cilium agents ready: DaemonSet kube-system/cilium: 2/2 agents ready",
        "ready: nodes Ready: 2 Ready",
        "ready: Flux controllers ready: source-controller, kustomize-controller, helm-controller",
        "ready: GitRepository fetched: GitRepository flux-system/flux-system: artifact "
        "main@sha1:2f1c0de5a1e0b1d4c0ffee0000000000000000aa",
        "ready: Kustomizations and HelmReleases Ready: 4 Kustomizations, 2 HelmReleases",
    ]
    # It waited, step by step, and said why.
    assert "bootstrap: cluster at Cilium agents ready (DaemonSet kube-system/cilium: 0/2 " in err
    assert "bootstrap: cluster at Flux controllers ready (Deployment flux-system/" in err
    assert err.rstrip().splitlines()[-1].startswith("bootstrap: cluster reconciled; ")
    # Everything went in by server-side apply as freetier, but the Secret.
    writes = [c for c in world.api.calls if c.method != "GET"]
    applies = [c for c in writes if c.method == "PATCH"]
    assert len(applies) == 18
    assert {c.content_type for c in applies} == {"application/apply-patch+yaml"}
    assert {c.query["fieldManager"][0] for c in applies} == {"freetier"}
    assert [(c.method, c.path) for c in writes if c.method != "PATCH"] == [("POST", SECRETS)]
    secret = world.api.store.find("v1", "Secret", "flux-system", "sops-age")
    assert secret is not None
    assert base64.b64decode(secret["data"]["age.agekey"]).decode() == world.key_line + "\n"
    assert world.site.requests == [INSTALL_PATH]


def _applied_body(world: World, path: str) -> dict:
    (call,) = [c for c in world.api.calls if c.method == "PATCH" and c.path == path]
    return yaml.safe_load(call.body)


def test_the_tree_and_what_bootstrap_applies_are_the_same_sync(world: World) -> None:
    assert world.run() == 0
    expected_source = {
        "interval": "1m0s",
        "ref": {"branch": "main"},
        "url": REPO_URL,
    }
    expected_sync = {
        "interval": "10m0s",
        "path": "./clusters/freetier",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
    }
    on_disk = list(
        yaml.safe_load_all(
            (world.root / "clusters/freetier/flux-system/gotk-sync.yaml").read_text()
        )
    )
    sent_source = _applied_body(world, f"{SOURCE}/flux-system")
    sent_sync = _applied_body(world, f"{KUSTOMIZE}/flux-system")
    assert [d["spec"] for d in on_disk] == [expected_source, expected_sync]
    assert [sent_source["spec"], sent_sync["spec"]] == [expected_source, expected_sync]
    assert on_disk == [sent_source, sent_sync]


def test_a_rerun_on_a_healthy_cluster_changes_nothing_and_says_so(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.run() == 0
    capsys.readouterr()
    before = {k: o["metadata"]["resourceVersion"] for k, o in world.api.store.objects.items()}
    first = len(world.api.calls)
    assert world.run() == 0
    out, _ = capsys.readouterr()
    assert "nothing changed: all 18 objects and the sops-age Secret were already in place" in out
    after = {k: o["metadata"]["resourceVersion"] for k, o in world.api.store.objects.items()}
    assert after == before
    rerun = world.api.calls[first:]
    assert [c for c in rerun if c.method in ("POST", "PUT", "DELETE")] == []


def test_flux_never_ready_times_out_naming_the_object(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.controller.never_ready = {("Deployment", "source-controller")}
    assert world.run("--deadline", "0.02") == 1
    _, err = capsys.readouterr()
    (line,) = _errors(err)
    assert line.startswith("freetier: error: cluster not reconciled after ")
    assert line.endswith(
        ": waiting for Flux controllers ready: Deployment flux-system/source-controller: "
        "0/1 replicas ready (Available=False MinimumReplicasUnavailable: Deployment does not "
        "have minimum availability.)"
    )


def test_a_stalled_kustomization_fails_at_once_with_its_message(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    message = (
        "kustomize build failed: accumulating resources from 'cluster-issuers.yaml': "
        "missing Resource metadata"
    )
    world.controller.stalled = {("Kustomization", "infra-configs"): ("BuildFailed", message)}
    start = time.monotonic()
    assert world.run("--deadline", "0.5") == 1
    assert time.monotonic() - start < 15  # at once, not at the deadline (30 s)
    _, err = capsys.readouterr()
    assert _errors(err) == [
        "freetier: error: Kustomization flux-system/infra-configs failed: Stalled=True "
        f"BuildFailed: {message}"
    ]


def test_ready_for_an_older_generation_is_not_ready(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.controller.stale = {("Kustomization", "apps")}
    assert world.run("--deadline", "0.02") == 1
    _, err = capsys.readouterr()
    (line,) = _errors(err)
    assert line.endswith(
        ": waiting for Kustomizations and HelmReleases Ready: Kustomization flux-system/apps: "
        "status is for generation 0, the object is at 1 (5 of 6 Ready)"
    )
    apps = world.api.store.find(
        "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps"
    )
    assert apps is not None
    assert [c["status"] for c in apps["status"]["conditions"] if c["type"] == "Ready"] == ["True"]


def test_the_age_key_is_sent_once_in_the_secret_and_nowhere_else(
    world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    assert world.run() == 0
    assert world.run() == 0
    assert world.run("--dry-run", "--format", "json") == 0
    out, err = capsys.readouterr()
    line = world.key_line
    forms = {
        line,
        line.removeprefix("AGE-SECRET-KEY-1"),
        base64.b64encode((line + "\n").encode()).decode(),
        base64.b64encode(line.encode()).decode(),
    }
    carrying = [
        (c.method, c.path)
        for c in world.api.calls
        if any(f in c.text() or f in c.path or f in json.dumps(c.query) for f in forms)
    ]
    assert carrying == [("POST", SECRETS)]
    for text in (out, err, caplog.text):
        assert not any(f in text for f in forms)
    cached = [p for p in (world.root / "out").rglob("*") if p.is_file()]
    assert cached and not any(f in p.read_text(errors="replace") for p in cached for f in forms)


def test_a_key_from_the_environment_is_used_and_replaces_a_different_one(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.run() == 0
    identity = world.root / "secrets" / "age.agekey"
    text = identity.read_text()
    identity.unlink()
    monkeypatch.setenv("FREETIER_AGE_KEY", text)
    assert world.run() == 0
    assert "nothing changed" in capsys.readouterr().out
    # The same recipient, so .sops.yaml accepts it; its Secret differs only if the key does.
    secret = world.api.store.find("v1", "Secret", "flux-system", "sops-age")
    assert secret is not None
    secret["data"] = {"age.agekey": base64.b64encode(b"stale\n").decode()}
    assert world.run() == 0
    out, _ = capsys.readouterr()
    assert "Secret sops-age: replaced" in out
    assert [(c.method, c.path) for c in world.api.calls if c.method == "PUT"] == [
        ("PUT", f"{SECRETS}/sops-age")
    ]


def test_dry_run_says_what_it_would_apply_and_writes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.run("--dry-run") == 0
    out, _ = capsys.readouterr()
    assert "would create Namespace flux-system" in out
    assert "would create Kustomization flux-system/flux-system" in out
    assert "would apply 18 objects (18 created); Secret sops-age: created (would be)" in out
    assert world.api.store.find("v1", "Namespace", "", "flux-system") is None
    writes = [c for c in world.api.calls if c.method != "GET"]
    assert all(c.method == "PATCH" and c.query.get("dryRun") == ["All"] for c in writes)


def test_json_reports_the_objects_the_secret_and_the_steps(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.run("--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["changed"] is True and report["reconciled"] is True
    assert report["flux"]["version"] == "v2.9.5"
    assert report["sync"] == {"url": REPO_URL, "branch": "main", "path": "./clusters/freetier"}
    assert report["sops_secret"]["action"] == "created"
    assert report["sops_secret"]["object"] == "Secret flux-system/sops-age"
    assert [s["step"] for s in report["steps"]] == [
        "nodes registered",
        "Cilium agents ready",
        "nodes Ready",
        "Flux controllers ready",
        "GitRepository fetched",
        "Kustomizations and HelmReleases Ready",
    ]
    assert {"object": "Deployment flux-system/helm-controller", "action": "created"} in report[
        "applied"
    ]


# --- bad input: exit 2, one line, nothing sent ----------------------------------------------


def test_no_age_identity_and_no_environment_key(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    (world.root / "secrets" / "age.agekey").unlink()
    assert world.run() == 2
    _, err = capsys.readouterr()
    identity = world.root / "secrets" / "age.agekey"
    assert _errors(err) == [
        f"freetier: error: no age identity: run `freetier secrets init` (it writes {identity}) "
        "or set FREETIER_AGE_KEY to the identity (in CI: the FREETIER_AGE_KEY secret of the "
        "production environment)"
    ]
    assert world.api.calls == [] and world.site.requests == []


def test_an_environment_key_sops_does_not_encrypt_for(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyrage  # type: ignore[import-untyped]

    monkeypatch.setenv("FREETIER_AGE_KEY", str(pyrage.x25519.Identity.generate()))
    assert world.run() == 2
    (line,) = _errors(capsys.readouterr().err)
    assert line.startswith("freetier: error: $FREETIER_AGE_KEY: its recipient age1")
    assert "so Flux could decrypt none of the tree's secrets with it" in line
    assert world.api.calls == []


def test_a_kubeconfig_that_does_not_reach_the_cluster(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.kubeconfig.write_text(world.api.kubeconfig(server="https://127.0.0.1:9"))
    assert world.run() == 2
    (line,) = _errors(capsys.readouterr().err)
    assert line.startswith("freetier: error: https://127.0.0.1:9: /version: ")
    assert "the kubeconfig does not reach the cluster; join the tailnet" in line
    assert "client-key-data" not in line and "BEGIN" not in line


def test_a_flux_repository_that_is_not_this_one(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.run("--repo", "someone/else") == 2
    assert _errors(capsys.readouterr().err) == [
        f"freetier: error: stack.yaml flux.repo_url: {REPO_URL} is not this repository "
        "(someone/else), so Flux would sync another one; set it to "
        "https://github.com/someone/else and run `freetier flux render`"
    ]
    assert world.api.calls == []
    assert world.run("--repo", "Your-Org/freetier", "--dry-run") == 0


def test_a_tree_that_syncs_another_repository(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = world.stack.read_text().replace(REPO_URL, "https://github.com/me/fork")
    world.stack.write_text(stack)
    assert world.run() == 2
    assert _errors(capsys.readouterr().err) == [
        f"freetier: error: clusters/freetier/flux-system/gotk-sync.yaml: syncs {REPO_URL} on "
        "main, not stack.yaml's flux.repo_url https://github.com/me/fork on main; run "
        "`freetier flux render` and commit the tree"
    ]
    assert world.api.calls == []


def test_an_install_yaml_that_is_not_the_pinned_one_is_never_applied(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.site.files[INSTALL_PATH] += (
        b"\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"
    )
    assert world.run() == 1
    (line,) = _errors(capsys.readouterr().err)
    assert "install.yaml: SHA-256 " in line and " is not the expected " in line
    assert world.api.calls == []


def test_a_flux_version_without_a_pinned_checksum(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.stack.write_text(world.stack.read_text().replace("flux: v2.9.5", "flux: v2.9.6"))
    assert world.run() == 2
    assert _errors(capsys.readouterr().err) == [
        "freetier: error: stack.yaml versions.flux: v2.9.6 has no pinned checksum for its "
        "install.yaml (pinned: v2.9.5); use a pinned release or add its SHA-256 to "
        "freetier/bootstrap/manifests.py"
    ]
    assert world.site.requests == []
