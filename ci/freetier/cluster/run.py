"""The wait after the talos layer, from its state: what `talos wait`, `apply --layer talos` and
`deploy` run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from freetier.cluster.kubeconfig import expected_nodes, read_access
from freetier.cluster.wait import Ready, wait_for_cluster
from freetier.stack import Stack
from freetier.tofu import run

WAIT_DEADLINE_S = 15 * 60.0


def wait_for_layer(
    stack: Stack,
    stack_file: Path,
    *,
    backend: bool,
    backend_config: Path | None,
    deadline_s: float = WAIT_DEADLINE_S,
    interval_s: float = 5.0,
    tofu: run.Tofu | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Ready]:
    """Read the kubeconfig and control planes from the talos layer's state, then wait."""
    access = read_access(stack_file, backend=backend, backend_config=backend_config, tofu=tofu)
    return wait_for_cluster(
        access,
        expected_nodes(stack),
        deadline_s=deadline_s,
        interval_s=interval_s,
        progress=progress,
    )
