"""`freetier bootstrap`: check the inputs, apply Flux, the `sops-age` Secret and the sync, then
wait until the cluster reconciles. Idempotent: every object is server-side applied and
compared, the Secret is read first and written only when missing or different, so a second
run on a healthy cluster changes nothing and says so."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freetier import kube, kube_objects
from freetier.bootstrap import inputs, manifests
from freetier.bootstrap.wait import Expect, wait_for_flux
from freetier.cluster.kubeconfig import ClusterAccess, api_server, expected_nodes
from freetier.errors import ConfigError, RemoteError
from freetier.flux.render_clusters import kustomization_paths, sync_documents
from freetier.flux.render_common import FLUX_NAMESPACE, FLUX_SOURCE, SOPS_SECRET
from freetier.stack import Stack

DEADLINE_S = 20 * 60.0


@dataclass(frozen=True)
class Applied:
    object: str  # "Kind namespace/name"
    action: str  # created | configured | unchanged (what it would be, on a dry run)


@dataclass(frozen=True)
class Outcome:
    flux_version: str
    install_sha256: str
    sync: dict[str, str]
    applied: tuple[Applied, ...]
    sops_action: str  # created | replaced | unchanged
    steps: tuple[tuple[str, str], ...] = ()
    dry_run: bool = False
    key_source: str = ""

    @property
    def changed(self) -> bool:
        return self.sops_action != "unchanged" or any(a.action != "unchanged" for a in self.applied)

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "changed": self.changed,
            "flux": {"version": self.flux_version, "install_sha256": self.install_sha256},
            "sync": self.sync,
            "applied": [{"object": a.object, "action": a.action} for a in self.applied],
            "sops_secret": {
                "object": f"Secret {FLUX_NAMESPACE}/{SOPS_SECRET}",
                "action": self.sops_action,
                "from": self.key_source,
            },
            "steps": [{"step": s, "result": r} for s, r in self.steps],
            "reconciled": bool(self.steps),
        }


@dataclass(frozen=True)
class Options:
    repo: str | None = None  # OWNER/NAME being deployed: Flux must sync it
    deadline_s: float = DEADLINE_S
    interval_s: float = 5.0
    dry_run: bool = False
    flux_releases: str = manifests.FLUX_RELEASES
    cache: Path = Path("out/cache")
    pins: Mapping[str, str] = field(default_factory=lambda: dict(manifests.FLUX_INSTALL_SHA256))
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def _reach(api: Any, server: str) -> None:
    """The cluster answers; else bad input (exit 2) saying what to check."""
    try:
        kube.version(api, server)
    except RemoteError as exc:
        raise ConfigError(
            [
                f"{exc}: the kubeconfig does not reach the cluster; join the tailnet (the "
                "Kubernetes API is closed to the internet) and check its server, or run "
                "`freetier talos wait` first"
            ]
        ) from None


def bootstrap(
    stack: Stack,
    root: Path,
    access: ClusterAccess,
    options: Options,
    progress: Callable[[str], None] = lambda line: None,
) -> Outcome:
    key = inputs.read_age_key(root, options.env)
    inputs.check_repo(stack, options.repo)
    inputs.check_tree(root, stack)
    version = stack.versions.flux
    body, sha = manifests.fetch_install(
        version, base=options.flux_releases, cache=options.cache, pins=options.pins
    )
    install = manifests.parse_install(body, manifests.install_url(options.flux_releases, version))
    progress(f"Flux {version}: {manifests.INSTALL_ASSET} matches its pinned SHA-256 {sha[:12]}")
    sync = sync_documents(stack)
    server = api_server(access)
    verb = "would " if options.dry_run else ""
    applied: list[Applied] = []
    with kube.api_client(access.kubeconfig, server) as api:
        _reach(api, server)
        with kube_objects.dynamic_client(api, server) as dyn:
            new_namespaces: set[str] = set()  # a dry run's: not there to be asked about

            def put(doc: dict[str, Any]) -> None:
                if doc["metadata"].get("namespace") in new_namespaces:
                    action: kube_objects.Action = "created"
                else:
                    action = kube_objects.apply(
                        dyn, doc, dry_run=options.dry_run, sleep=options.sleep
                    )
                if options.dry_run and doc["kind"] == "Namespace" and action == "created":
                    new_namespaces.add(doc["metadata"]["name"])
                item = Applied(kube_objects.describe(doc), action)
                applied.append(item)
                if action != "unchanged":
                    progress(f"{verb}{action.removesuffix('d') if verb else action} {item.object}")

            for doc in manifests.ordered(install, []):
                put(doc)
            secret = _sops_secret(api, key, dry_run=options.dry_run)
            progress(f"Secret {FLUX_NAMESPACE}/{SOPS_SECRET} ({key.source}): {verb}{secret}")
            for doc in sync:
                put(doc)
            outcome = Outcome(
                version,
                sha,
                _sync_summary(stack),
                tuple(applied),
                secret,
                dry_run=options.dry_run,
                key_source=key.source,
            )
            if options.dry_run:
                return outcome
            expect = Expect(
                nodes=tuple(expected_nodes(stack)),
                controllers=tuple(manifests.controllers(install)),
                kustomizations=tuple(kustomization_paths(stack)),
            )
            steps = wait_for_flux(
                dyn,
                expect,
                deadline_s=options.deadline_s,
                interval_s=options.interval_s,
                clock=options.clock,
                sleep=options.sleep,
                progress=progress,
            )
    return Outcome(
        version,
        sha,
        outcome.sync,
        outcome.applied,
        secret,
        tuple(steps),
        key_source=key.source,
    )


def _sops_secret(api: Any, key: inputs.AgeKey, *, dry_run: bool) -> str:
    """created | replaced | unchanged: the Secret is read first, written only when needed."""
    value = key.secret_value()
    holds = kube_objects.secret_holds(
        api, FLUX_NAMESPACE, SOPS_SECRET, inputs.SOPS_SECRET_KEY, value
    )
    if holds:
        return "unchanged"
    if not dry_run:
        kube_objects.write_secret(
            api,
            FLUX_NAMESPACE,
            SOPS_SECRET,
            inputs.SOPS_SECRET_KEY,
            value,
            replace=holds is not None,
        )
    return "created" if holds is None else "replaced"


def _sync_summary(stack: Stack) -> dict[str, str]:
    return {
        "url": stack.flux.repo_url,
        "branch": stack.flux.branch,
        "path": f"./{kustomization_paths(stack)[FLUX_SOURCE]}",
    }
