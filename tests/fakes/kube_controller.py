"""A scripted stand-in for what runs inside a cluster after the talos layer: the Cilium agents
Talos's inline manifest starts, the kubelets, the Deployment controller, and Flux's source,
kustomize and helm controllers. `FakeKubeApi.controller = ClusterController(...)`: it runs
before every request, and from the first node list on (the first poll of a wait: before it
the cluster's clock stands still, so how many requests an apply takes does not matter) each
request is one "tick"; an object moves on when it has been seen for enough ticks and what it
needs is there, as in a real cluster:

- the `cilium` DaemonSet in kube-system exists from the start (Talos applies inline manifests
  at bootstrap); its agents are ready after `cilium_after` ticks;
- nodes turn Ready once the Cilium agents are (no CNI before);
- a Deployment's replicas are ready `ready_after` ticks after it appears, once nodes are Ready;
- a Flux object stays without status until its controller's Deployment is ready, then
  `Reconciling`, then Ready `ready_after` ticks later when its source (and `dependsOn`, and
  the decryption Secret) are Ready; Ready objects carry `observedGeneration`, a GitRepository
  its artifact. When the `flux-system` Kustomization is applied, the objects in `tree` appear
  (what the repository's `clusters/<name>` holds).

Failures are scripted by (kind, name): `never_ready` never gets there, `stalled` goes
Stalled=True with the given reason and message, `stale` reports Ready=True for the previous
generation.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.kube_api import Call, FakeKubeApi
from tests.fakes.kube_objects import Obj

REVISION = "main@sha1:2f1c0de5a1e0b1d4c0ffee0000000000000000aa"
CONTROLLER_OF = {
    "GitRepository": "source-controller",
    "HelmRepository": "source-controller",
    "OCIRepository": "source-controller",
    "Kustomization": "kustomize-controller",
    "HelmRelease": "helm-controller",
}
FLUX_GROUPS = ("source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io")


def condition(kind: str, status: str, reason: str, message: str, when: str) -> Obj:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": when,
    }


@dataclass
class ClusterController:
    cilium_after: int = 3
    ready_after: int = 3
    nodes: int = 2
    cilium: bool = True
    tree: list[Obj] = field(default_factory=list)
    never_ready: set[tuple[str, str]] = field(default_factory=set)
    stalled: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    stale: set[tuple[str, str]] = field(default_factory=set)
    ticks: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # uid -> tick first seen by its controller
    tree_applied: bool = False
    started: bool = False

    def __call__(self, api: FakeKubeApi, call: Call) -> None:
        if call.method == "GET" and call.path.rstrip("/") == "/api/v1/nodes":
            self.started = True
        if not self.started:
            return
        self.ticks += 1
        store = api.store
        if self.cilium and self.ticks == 1:
            store.put("apps/v1", "DaemonSet", _cilium_daemonset())
        cilium_ready = self._cilium(api)
        for name in api.node_names:
            api.node_ready(name, cilium_ready)
        for deployment in store.items(store.kind_of("apps", "v1", "deployments")):
            self._deployment(api, deployment, cilium_ready)
        for kind in list(store.kinds.values()):
            if kind.group in FLUX_GROUPS:
                for obj in store.items(kind):
                    self._flux(api, obj)

    def _age(self, obj: Obj) -> int:
        uid = obj["metadata"]["uid"]
        return self.ticks - self.seen.setdefault(uid, self.ticks)

    def _cilium(self, api: FakeKubeApi) -> bool:
        ds = api.store.find("apps/v1", "DaemonSet", "kube-system", "cilium")
        if ds is None:
            return False
        ready = self.nodes if self._age(ds) >= self.cilium_after else 0
        if ("DaemonSet", "cilium") in self.never_ready:
            ready = 0
        api.store.set_status(
            ds,
            {
                "currentNumberScheduled": self.nodes,
                "desiredNumberScheduled": self.nodes,
                "numberAvailable": ready,
                "numberMisscheduled": 0,
                "numberReady": ready,
                "updatedNumberScheduled": self.nodes,
                "observedGeneration": ds["metadata"]["generation"],
            },
        )
        return ready == self.nodes

    def _deployment(self, api: FakeKubeApi, deployment: Obj, nodes_ready: bool) -> None:
        name = deployment["metadata"]["name"]
        replicas = (deployment.get("spec") or {}).get("replicas", 1)
        if not nodes_ready:
            return
        ready = self._age(deployment) >= self.ready_after and (
            ("Deployment", name) not in self.never_ready
        )
        when = api.store.timestamp()
        status: Obj = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
            "unavailableReplicas": 0 if ready else replicas,
            "conditions": [
                condition(
                    "Available",
                    "True" if ready else "False",
                    "MinimumReplicasAvailable" if ready else "MinimumReplicasUnavailable",
                    "Deployment has minimum availability."
                    if ready
                    else "Deployment does not have minimum availability.",
                    when,
                )
            ],
        }
        if ready:
            status["readyReplicas"] = status["availableReplicas"] = replicas
        old = deployment.get("status") or {}
        if old.get("readyReplicas") != status.get("readyReplicas") or "conditions" not in old:
            api.store.set_status(deployment, status)

    def _controller_ready(self, api: FakeKubeApi, kind: str) -> bool:
        found = api.store.find("apps/v1", "Deployment", "flux-system", CONTROLLER_OF[kind])
        return bool(found and (found.get("status") or {}).get("readyReplicas"))

    def _flux(self, api: FakeKubeApi, obj: Obj) -> None:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind not in CONTROLLER_OF or not self._controller_ready(api, kind):
            return
        age = self._age(obj)
        generation = obj["metadata"]["generation"]
        when = api.store.timestamp()
        status = copy.deepcopy(obj.get("status") or {})
        if (kind, name) in self.stalled:
            reason, message = self.stalled[(kind, name)]
            status.update(
                observedGeneration=generation,
                conditions=[
                    condition("Stalled", "True", reason, message, when),
                    condition("Ready", "False", reason, message, when),
                ],
            )
        elif age < self.ready_after or (kind, name) in self.never_ready:
            status["conditions"] = [
                condition("Reconciling", "True", "Progressing", "reconciliation in progress", when),
                condition("Ready", "Unknown", "Progressing", "reconciliation in progress", when),
            ]
        else:
            waiting = self._blocked(api, obj)
            if waiting:
                status["conditions"] = [condition("Ready", "False", *waiting, when)]
                status["observedGeneration"] = generation
            else:
                status.update(self._ready(obj, generation, when))
        if _conditions(status) != _conditions(obj.get("status") or {}) or status.get(
            "observedGeneration"
        ) != (obj.get("status") or {}).get("observedGeneration"):
            api.store.set_status(obj, status)
        if (
            kind == "Kustomization"
            and name == "flux-system"
            and _is_ready(obj)
            and not self.tree_applied
        ):
            self.tree_applied = True
            for doc in self.tree:
                body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
                api.store.put(doc["apiVersion"], doc["kind"], copy.deepcopy(body))

    def _blocked(self, api: FakeKubeApi, obj: Obj) -> tuple[str, str] | None:
        """(reason, message) while what the object needs is not Ready yet."""
        spec = obj.get("spec") or {}
        namespace = obj["metadata"].get("namespace", "")
        source = spec.get("sourceRef") or (spec.get("chart") or {}).get("spec", {}).get("sourceRef")
        if source and obj["kind"] != "HelmRelease":
            found = _flux_find(api, source["kind"], source.get("namespace", namespace), source)
            if found is None or not _is_ready(found):
                return (
                    "ArtifactFailed",
                    f"Source artifact not found, retrying in 30s: {source['kind']} "
                    f"{namespace}/{source['name']}",
                )
        for dependency in spec.get("dependsOn") or []:
            found = api.store.find(
                obj["apiVersion"],
                obj["kind"],
                dependency.get("namespace", namespace),
                dependency["name"],
            )
            if found is None or not _is_ready(found):
                return (
                    "DependencyNotReady",
                    f"dependency '{namespace}/{dependency['name']}' is not ready",
                )
        secret = ((spec.get("decryption") or {}).get("secretRef") or {}).get("name")
        if secret and api.store.find("v1", "Secret", namespace, secret) is None:
            return (
                "ReconciliationFailed",
                f'decryption secret error: Secret "{secret}" not found',
            )
        return None

    def _ready(self, obj: Obj, generation: int, when: str) -> Obj:
        kind, name = obj["kind"], obj["metadata"]["name"]
        observed = generation - 1 if (kind, name) in self.stale else generation
        if kind == "GitRepository":
            return {
                "observedGeneration": observed,
                "conditions": [
                    condition(
                        "Ready",
                        "True",
                        "Succeeded",
                        f"stored artifact for revision '{REVISION}'",
                        when,
                    ),
                    condition(
                        "ArtifactInStorage",
                        "True",
                        "Succeeded",
                        f"stored artifact for revision '{REVISION}'",
                        when,
                    ),
                ],
                "artifact": {
                    "digest": "sha256:" + "ab" * 32,
                    "lastUpdateTime": when,
                    "path": f"gitrepository/flux-system/{name}/2f1c0de5.tar.gz",
                    "revision": REVISION,
                    "size": 48213,
                    "url": f"http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/{name}/2f1c0de5.tar.gz",
                },
            }
        if kind == "Kustomization":
            message = f"Applied revision: {REVISION}"
            return {
                "observedGeneration": observed,
                "lastAppliedRevision": REVISION,
                "lastAttemptedRevision": REVISION,
                "conditions": [
                    condition("Ready", "True", "ReconciliationSucceeded", message, when)
                ],
            }
        if kind == "HelmRelease":
            message = f"Helm install succeeded for release {name}"
            return {
                "observedGeneration": observed,
                "conditions": [condition("Ready", "True", "InstallSucceeded", message, when)],
            }
        return {
            "observedGeneration": observed,
            "conditions": [condition("Ready", "True", "Succeeded", "stored artifact", when)],
        }


def _flux_find(api: FakeKubeApi, kind: str, namespace: str, ref: Obj) -> Obj | None:
    for known in api.store.kinds.values():
        if known.kind == kind and known.group in FLUX_GROUPS:
            found = api.store.find(known.api_version, kind, namespace, ref["name"])
            if found is not None:
                return found
    return None


def _conditions(status: Obj) -> list[tuple[Any, ...]]:
    return [(c["type"], c["status"], c["reason"]) for c in status.get("conditions") or []]


def _is_ready(obj: Obj) -> bool:
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"].get("generation") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []
    )


def _cilium_daemonset() -> Obj:
    """The agents' DaemonSet as the Cilium chart names it (what Talos's inline manifest holds)."""
    labels = {"k8s-app": "cilium", "app.kubernetes.io/name": "cilium-agent"}
    return {
        "metadata": {"name": "cilium", "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "cilium"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "cilium-agent", "image": "quay.io/cilium/cilium"}]
                },
            },
        },
    }
