"""When an object counts as ready, from its status alone. Pure.

Flux objects follow kstatus (sigs.k8s.io/cli-utils, pkg/kstatus/README.md): the status
speaks for the current spec only when `status.observedGeneration` equals
`metadata.generation`; `Reconciling=True` is work in progress; `Stalled=True` is a failure
that will not fix itself; then `Ready=True` is done. Deployments and DaemonSets are judged as
`kubectl rollout status` judges them (observed generation, then ready replicas or agents);
nodes by the kubelet's Ready condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

State = Literal["ready", "waiting", "failed"]


@dataclass(frozen=True)
class Verdict:
    state: State
    message: str  # why not ready (or what it is at, when ready)

    @property
    def ready(self) -> bool:
        return self.state == "ready"


def ref(obj: Mapping[str, Any]) -> str:
    """`Kind namespace/name` (or `Kind name` for a cluster-scoped object).

    >>> ref({"kind": "Kustomization", "metadata": {"name": "apps", "namespace": "flux-system"}})
    'Kustomization flux-system/apps'
    """
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    where = f"{namespace}/{metadata.get('name')}" if namespace else str(metadata.get("name"))
    return f"{obj.get('kind')} {where}"


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found = (obj.get("status") or {}).get("conditions") or []
    return {str(c.get("type")): c for c in found if isinstance(c, Mapping)}


def _said(condition: Mapping[str, Any]) -> str:
    reason, message = condition.get("reason") or "", condition.get("message") or ""
    return f"{condition.get('type')}={condition.get('status')}" + (
        f" {reason}: {message}" if message else f" {reason}" if reason else ""
    )


def _generation_seen(obj: Mapping[str, Any]) -> Verdict | None:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is not None and observed != generation:
        if observed is None:
            return Verdict("waiting", f"generation {generation} not observed yet")
        return Verdict(
            "waiting", f"status is for generation {observed}, the object is at {generation}"
        )
    return None


def kstatus(obj: Mapping[str, Any]) -> Verdict:
    """A Flux object (or any custom resource following the convention).

    >>> kstatus({"metadata": {"generation": 2}, "status": {"observedGeneration": 1,
    ...     "conditions": [{"type": "Ready", "status": "True"}]}}).message
    'status is for generation 1, the object is at 2'
    >>> kstatus({"metadata": {"generation": 1}, "status": {"observedGeneration": 1,
    ...     "conditions": [{"type": "Stalled", "status": "True", "reason": "BuildFailed",
    ...     "message": "kustomize build failed"}]}})
    Verdict(state='failed', message='Stalled=True BuildFailed: kustomize build failed')
    """
    stale = _generation_seen(obj)
    if stale:
        return stale
    conditions = _conditions(obj)
    stalled = conditions.get("Stalled")
    if stalled and stalled.get("status") == "True":
        return Verdict("failed", _said(stalled))
    reconciling = conditions.get("Reconciling")
    if reconciling and reconciling.get("status") == "True":
        return Verdict("waiting", _said(reconciling))
    ready = conditions.get("Ready")
    if ready is None:
        return Verdict("waiting", "no Ready condition yet")
    if ready.get("status") == "True":
        return Verdict("ready", str(ready.get("message") or ready.get("reason") or "Ready"))
    return Verdict("waiting", _said(ready))


def git_fetched(obj: Mapping[str, Any]) -> Verdict:
    """A GitRepository: Ready by kstatus and holding an artifact."""
    verdict = kstatus(obj)
    if not verdict.ready:
        return verdict
    revision = ((obj.get("status") or {}).get("artifact") or {}).get("revision")
    if not revision:
        return Verdict("waiting", "Ready but no artifact yet")
    return Verdict("ready", f"artifact {revision}")


def deployment(obj: Mapping[str, Any]) -> Verdict:
    """Every replica of the current generation ready."""
    stale = _generation_seen(obj)
    if stale:
        return stale
    want = (obj.get("spec") or {}).get("replicas", 1)
    status = obj.get("status") or {}
    ready, updated = status.get("readyReplicas") or 0, status.get("updatedReplicas") or 0
    if ready >= want and updated >= want:
        return Verdict("ready", f"{ready}/{want} replicas ready")
    available = _conditions(obj).get("Available")
    detail = f" ({_said(available)})" if available and available.get("status") != "True" else ""
    return Verdict("waiting", f"{ready}/{want} replicas ready{detail}")


def daemonset(obj: Mapping[str, Any]) -> Verdict:
    """Every scheduled agent of the current generation ready (and at least one scheduled)."""
    stale = _generation_seen(obj)
    if stale:
        return stale
    status = obj.get("status") or {}
    desired, ready = status.get("desiredNumberScheduled") or 0, status.get("numberReady") or 0
    updated = status.get("updatedNumberScheduled") or 0
    if desired and ready == desired and updated == desired:
        return Verdict("ready", f"{ready}/{desired} agents ready")
    return Verdict("waiting", f"{ready}/{desired} agents ready")


def node(obj: Mapping[str, Any]) -> Verdict:
    """The kubelet's Ready condition."""
    ready = _conditions(obj).get("Ready")
    if ready and ready.get("status") == "True":
        return Verdict("ready", "Ready")
    return Verdict("waiting", _said(ready) if ready else "no Ready condition yet")
