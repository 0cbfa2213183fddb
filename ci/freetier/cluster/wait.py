"""Wait, with a deadline and progress, until the Kubernetes API answers on every control plane.

The talos provider's bootstrap may report success without bootstrapping
(siderolabs/terraform-provider-talos#248) and does not wait for the cluster (#265), so after
the talos layer is applied freetier checks each control plane itself, in three steps:

1. `/version` answers (the API server is up and trusts the admin client certificate);
2. `/readyz?verbose` passes with its etcd check listed as ok (etcd has a member and serves);
3. the nodes list holds every Talos node of the stack (their kubelets registered).

Each control plane moves through the steps on its own; a step that fails is tried again every
`interval_s` until `deadline_s`, and a timeout names each node still waiting, its step and the
last reason. A line of progress is written whenever a node's step or reason changes, and at
least once a minute (the loop is `freetier.cluster.poll`'s).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from freetier import kube
from freetier.cluster.kubeconfig import ClusterAccess
from freetier.cluster.poll import Waiting, poll
from freetier.errors import FreetierError, RemoteError
from freetier.tofu.apply import format_duration

STEPS = ("/version", "/readyz", "nodes")
BOOTSTRAP_HINT = (
    "if etcd never came up, the provider may have skipped the bootstrap "
    "(siderolabs/terraform-provider-talos#248): in tofu/talos run "
    "`tofu apply -replace=talos_machine_bootstrap.this`, then wait again"
)


class ClusterNotReady(FreetierError):
    """A control plane did not pass every step before the deadline. Exit code 1."""


@dataclass
class Plane(Waiting):
    server: str = ""
    version: str = ""

    def line(self) -> str:
        return super().line() + (f" (Kubernetes {self.version})" if self.done else "")


@dataclass(frozen=True)
class Ready:
    node: str
    server: str
    version: str


def _try_step(plane: Plane, api: Any, expected: Sequence[str]) -> bool:
    """Run the plane's current step once; True when it passed (the plane moves on)."""
    step = STEPS[plane.step]
    try:
        if step == "/version":
            plane.version = kube.version(api, plane.server)
            return True
        if step == "/readyz":
            ready = kube.readyz(api, plane.server)
            if ready.ok and ready.etcd_ok:
                return True
            failing = ", ".join(ready.failing) or "none"
            plane.reason = (
                f"failing checks: {failing}"
                if ready.failing or ready.etcd_ok
                else "etcd check not listed as ok"
            )
            return False
        listed = set(kube.node_names(api, plane.server))
        missing = [n for n in expected if n not in listed]
        if not missing:
            return True
        plane.reason = f"not listed yet: {', '.join(missing)}"
        return False
    except RemoteError as exc:
        plane.reason = str(exc).removeprefix(f"{plane.server}: ")
        return False


def _give_up(waiting: Sequence[Plane], elapsed: float) -> ClusterNotReady:
    lines = "; ".join(f"{p.where()} ({p.reason})" for p in waiting)
    hint = f"; {BOOTSTRAP_HINT}" if any(STEPS[p.step] == "/readyz" for p in waiting) else ""
    return ClusterNotReady(f"cluster not ready after {format_duration(elapsed)}: {lines}{hint}")


def wait_for_cluster(
    access: ClusterAccess,
    expected_nodes: Sequence[str],
    *,
    deadline_s: float,
    interval_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Ready]:
    """Poll every control plane of `access` until each passed every step; ClusterNotReady
    naming the nodes, steps and reasons past `deadline_s`."""
    planes = [
        Plane(node, STEPS, server=server) for node, server in sorted(access.control_planes.items())
    ]
    with contextlib.ExitStack() as stack:
        apis = {
            p.name: stack.enter_context(kube.api_client(access.kubeconfig, p.server))
            for p in planes
        }
        poll(
            planes,
            lambda plane: _try_step(plane, apis[plane.name], expected_nodes),
            deadline_s=deadline_s,
            give_up=_give_up,
            interval_s=interval_s,
            clock=clock,
            sleep=sleep,
            progress=progress,
        )
    return [Ready(p.name, p.server, p.version) for p in planes]
