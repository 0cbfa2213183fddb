"""The wait after bootstrap applied Flux: one step after another, through the same polling loop
as `talos wait` (`freetier.cluster.poll`), each step judged by `readiness`:

1. nodes registered: every Talos node of the stack is listed;
2. Cilium agents ready: the `cilium` DaemonSet in kube-system (Talos's inline manifest) has
   every scheduled agent ready;
3. nodes Ready: the kubelets report Ready (they cannot before a CNI runs);
4. Flux controllers ready: every Deployment of the Flux release;
5. GitRepository fetched: `flux-system` Ready with an artifact;
6. Kustomizations and HelmReleases Ready: the tree's Kustomizations and every Kustomization
   and HelmRelease in the cluster, by kstatus.

A `Stalled=True` (or a failed fetch) ends the wait at once naming the object and its
message; the deadline ends it naming the step and the object it waited on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from freetier import kube_objects
from freetier.bootstrap import readiness
from freetier.cluster.poll import Waiting, poll
from freetier.errors import FreetierError, RemoteError
from freetier.flux.render_common import FLUX_NAMESPACE, FLUX_SOURCE, KUSTOMIZE_API, SOURCE_API
from freetier.talos.cilium import CILIUM_NAMESPACE
from freetier.tofu.apply import format_duration

HELM_API = "helm.toolkit.fluxcd.io/v2"
STEPS = (
    "nodes registered",
    "Cilium agents ready",
    "nodes Ready",
    "Flux controllers ready",
    "GitRepository fetched",
    "Kustomizations and HelmReleases Ready",
)
# The agents' DaemonSet: the Cilium chart names it `cilium` whatever the release is called
# (templates/cilium-agent/daemonset.yaml), in the namespace the inline manifest installs to.
CILIUM = (CILIUM_NAMESPACE, "cilium")


class ReconcileFailed(FreetierError):
    """A Flux object is Stalled (or failed for good): waiting longer will not help. Exit 1."""


class NotReconciled(FreetierError):
    """The deadline passed with a step still waiting. Exit 1."""


@dataclass(frozen=True)
class Expect:
    nodes: tuple[str, ...]
    controllers: tuple[tuple[str, str], ...]  # (namespace, name) of Flux's Deployments
    kustomizations: tuple[str, ...]  # names in flux-system the tree defines


@dataclass
class Cluster(Waiting):
    passed: list[tuple[str, str]] = field(default_factory=list)  # (step, what it ended at)


def _nodes_registered(dyn: Any, expect: Expect) -> tuple[bool, str]:
    listed = {n["metadata"]["name"] for n in kube_objects.list_objects(dyn, "v1", "Node")}
    missing = [n for n in expect.nodes if n not in listed]
    if missing:
        return False, f"not listed yet: {', '.join(missing)}"
    return True, ", ".join(expect.nodes)


def _cilium(dyn: Any, expect: Expect) -> tuple[bool, str]:
    found = kube_objects.get(dyn, "apps/v1", "DaemonSet", CILIUM[1], CILIUM[0])
    if found is None:
        return False, f"DaemonSet {CILIUM[0]}/{CILIUM[1]} not created yet"
    verdict = readiness.daemonset(found)
    return verdict.ready, f"DaemonSet {CILIUM[0]}/{CILIUM[1]}: {verdict.message}"


def _nodes_ready(dyn: Any, expect: Expect) -> tuple[bool, str]:
    nodes = {n["metadata"]["name"]: n for n in kube_objects.list_objects(dyn, "v1", "Node")}
    for name in expect.nodes:
        verdict = readiness.node(nodes.get(name) or {})
        if not verdict.ready:
            return False, f"node {name}: {verdict.message}"
    return True, f"{len(expect.nodes)} Ready"


def _controllers(dyn: Any, expect: Expect) -> tuple[bool, str]:
    for namespace, name in expect.controllers:
        found = kube_objects.get(dyn, "apps/v1", "Deployment", name, namespace)
        verdict = readiness.deployment(found) if found else None
        if verdict is None or not verdict.ready:
            said = verdict.message if verdict else "not created yet"
            return False, f"Deployment {namespace}/{name}: {said}"
    return True, ", ".join(name for _, name in expect.controllers)


def _judge(obj: dict[str, Any], verdict: readiness.Verdict) -> None:
    if verdict.state == "failed":
        raise ReconcileFailed(f"{readiness.ref(obj)} failed: {verdict.message}")


def _source(dyn: Any, expect: Expect) -> tuple[bool, str]:
    found = kube_objects.get(dyn, SOURCE_API, "GitRepository", FLUX_SOURCE, FLUX_NAMESPACE)
    if found is None:
        return False, f"GitRepository {FLUX_NAMESPACE}/{FLUX_SOURCE} not created yet"
    verdict = readiness.git_fetched(found)
    _judge(found, verdict)
    return verdict.ready, f"{readiness.ref(found)}: {verdict.message}"


def _reconciled(dyn: Any, expect: Expect) -> tuple[bool, str]:
    found = [
        *kube_objects.list_objects(dyn, KUSTOMIZE_API, "Kustomization"),
        *kube_objects.list_objects(dyn, HELM_API, "HelmRelease"),
    ]
    names = {
        o["metadata"]["name"]
        for o in found
        if o.get("kind") == "Kustomization" and o["metadata"].get("namespace") == FLUX_NAMESPACE
    }
    missing = [n for n in expect.kustomizations if n not in names]
    waiting: list[str] = []
    for obj in found:
        verdict = readiness.kstatus(obj)
        _judge(obj, verdict)
        if not verdict.ready:
            waiting.append(f"{readiness.ref(obj)}: {verdict.message}")
    waiting += [f"Kustomization {FLUX_NAMESPACE}/{n}: not created yet" for n in missing]
    total = len(found) + len(missing)
    if waiting:
        return False, f"{waiting[0]} ({total - len(waiting)} of {total} Ready)"
    kinds = sum(o.get("kind") == "Kustomization" for o in found)
    return True, f"{kinds} Kustomizations, {len(found) - kinds} HelmReleases"


CHECKS: tuple[Callable[[Any, Expect], tuple[bool, str]], ...] = (
    _nodes_registered,
    _cilium,
    _nodes_ready,
    _controllers,
    _source,
    _reconciled,
)


def _try_step(cluster: Cluster, dyn: Any, expect: Expect) -> bool:
    try:
        ok, said = CHECKS[cluster.step](dyn, expect)
    except RemoteError as exc:  # the API hiccups while a cluster comes up: try again
        cluster.reason = str(exc)
        return False
    if ok:
        step = cluster.steps[cluster.step]
        cluster.passed.append((step, said))
        cluster.notes.append(f"{step}: {said}")
    else:
        cluster.reason = said
    return ok


def _give_up(waiting: Sequence[Cluster], elapsed: float) -> NotReconciled:
    (cluster,) = waiting
    return NotReconciled(
        f"cluster not reconciled after {format_duration(elapsed)}: waiting for "
        f"{cluster.steps[cluster.step]}: {cluster.reason}"
    )


def wait_for_flux(
    dyn: Any,
    expect: Expect,
    *,
    deadline_s: float,
    interval_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda line: None,
) -> list[tuple[str, str]]:
    """Every step passed, each with what it ended at; ReconcileFailed or NotReconciled."""
    cluster = Cluster("cluster", STEPS)
    poll(
        [cluster],
        lambda item: _try_step(item, dyn, expect),
        deadline_s=deadline_s,
        give_up=_give_up,
        interval_s=interval_s,
        clock=clock,
        sleep=sleep,
        progress=progress,
        describe=lambda item: "cluster reconciled" if item.done else item.line(),
    )
    return cluster.passed
