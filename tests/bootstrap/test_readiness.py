"""kstatus and rollout rules on hand-written objects."""

from __future__ import annotations

from typing import Any

import pytest

from freetier.bootstrap import readiness


def flux(
    generation: int, observed: int | None, *conditions: tuple[str, str, str]
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [
            {"type": t, "status": s, "reason": "R", "message": m} for t, s, m in conditions
        ]
    }
    if observed is not None:
        status["observedGeneration"] = observed
    return {
        "kind": "Kustomization",
        "metadata": {"name": "apps", "generation": generation},
        "status": status,
    }


@pytest.mark.parametrize(
    ("obj", "state", "message"),
    [
        (
            flux(2, 2, ("Ready", "True", "Applied revision: main@sha1:1")),
            "ready",
            "Applied revision: main@sha1:1",
        ),
        (
            flux(2, 1, ("Ready", "True", "Applied")),
            "waiting",
            "status is for generation 1, the object is at 2",
        ),
        (flux(1, None), "waiting", "generation 1 not observed yet"),
        (
            flux(1, 1, ("Stalled", "True", "build failed"), ("Ready", "False", "build failed")),
            "failed",
            "Stalled=True R: build failed",
        ),
        (
            flux(1, 1, ("Reconciling", "True", "in progress"), ("Ready", "True", "old")),
            "waiting",
            "Reconciling=True R: in progress",
        ),
        (
            flux(1, 1, ("Ready", "False", "dependency not ready")),
            "waiting",
            "Ready=False R: dependency not ready",
        ),
        (flux(1, 1), "waiting", "no Ready condition yet"),
    ],
    ids=[
        "ready",
        "old-generation",
        "unobserved",
        "stalled",
        "reconciling",
        "not-ready",
        "no-conditions",
    ],
)
def test_kstatus(obj: dict[str, Any], state: str, message: str) -> None:
    assert readiness.kstatus(obj) == readiness.Verdict(state, message)  # type: ignore[arg-type]


def test_a_git_repository_needs_an_artifact() -> None:
    ready = flux(1, 1, ("Ready", "True", "stored"))
    assert readiness.git_fetched(ready).message == "Ready but no artifact yet"
    ready["status"]["artifact"] = {"revision": "main@sha1:abc"}
    assert readiness.git_fetched(ready) == readiness.Verdict("ready", "artifact main@sha1:abc")


def test_rollouts() -> None:
    deployment = {
        "metadata": {"generation": 3},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 3, "readyReplicas": 1, "updatedReplicas": 2},
    }
    assert readiness.deployment(deployment).message == "1/2 replicas ready"
    deployment["status"]["readyReplicas"] = 2
    assert readiness.deployment(deployment).ready
    deployment["metadata"]["generation"] = 4
    assert not readiness.deployment(deployment).ready
    agents = {
        "metadata": {"generation": 1},
        "status": {"observedGeneration": 1, "desiredNumberScheduled": 0},
    }
    assert readiness.daemonset(agents).message == "0/0 agents ready"  # none scheduled is not ready
    agents["status"].update(desiredNumberScheduled=2, numberReady=2, updatedNumberScheduled=2)
    assert readiness.daemonset(agents).ready
    node = {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "KubeletNotReady",
                    "message": "cni plugin not initialized",
                }
            ]
        }
    }
    assert readiness.node(node).message == "Ready=False KubeletNotReady: cni plugin not initialized"
