"""On merge to main: apply, layer by layer, exactly what the merged pull request reviewed.

The reviewed plan is named by the fingerprints the workflow itself recorded: its sticky
comment and the check runs of the pull request's head commit, which must agree, and nobody
else's comment counts (review/trust.py). Each layer is planned again and applied only when
its changes match (review/gate.py). A layer that does not match stops the deploy, and the
reason is posted to the merged pull request.

On the proxmox topology the proxmox layer (no tofu folder) comes between oci and talos: the
bootstrap runs there, and a failed step stops the deploy before talos.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from freetier.cluster.run import WAIT_DEADLINE_S, wait_for_layer
from freetier.comment import MARKER
from freetier.errors import ConfigError, FreetierError
from freetier.github.publish import comment_on_pull, pulls_for_commit
from freetier.github.record import read_review_record
from freetier.layers import BOOTSTRAP_LAYERS, present_layers, topology_layers
from freetier.plans.model import Reviewed, Secrets
from freetier.review.gate import Applied, Refused, apply_reviewed_layer
from freetier.review.trust import describe, reviewed_fingerprint
from freetier.stack import Stack
from freetier.tofu import run

if TYPE_CHECKING:
    from freetier.proxmox.run import BootstrapResult


@dataclass(frozen=True)
class Bootstrapped:
    """A layer without tofu, brought to its state by its bootstrap."""

    layer: str
    how: str  # the report's tally


class BootstrapFailed(FreetierError):
    """The bootstrap of a layer failed a step: the layers after it were not applied. Exit 1."""


def deploy_layers(stack: Stack, stack_file: Path) -> list[str]:
    """The layers deploy goes through, in order: the tofu layers this repository has, and the
    topology's layers without a tofu folder in their place.

    The proxmox topology's order is oci, proxmox, talos (layers.topology_layers)."""
    present = set(present_layers(stack_file))
    return [n for n in topology_layers(stack.topology) if n in present or n in BOOTSTRAP_LAYERS]


def run_layer_bootstrap(
    layer: str,
    bootstrap: Callable[[], BootstrapResult] | None,
    progress: Callable[[str], None],
) -> Bootstrapped:
    """Run the layer's bootstrap (not a dry run); its report goes to the log, and a failed
    step raises BootstrapFailed naming the step and host."""
    if bootstrap is None:  # deploy checks this before it applies anything
        raise ConfigError([f"{layer}: the layer's bootstrap needs the hosts' SSH key"])
    progress(f"{layer}: bootstrap")
    result = bootstrap()
    lines = result.text.rstrip("\n").splitlines()
    for line in lines:
        progress(f"{layer}: {line}")
    failed = [f"{r.step} on {r.host}: {r.summary}" for r in result.records if r.status == "failed"]
    if failed:
        raise BootstrapFailed(
            f"{layer}: bootstrap failed ({'; '.join(failed)}): "
            "the layers after it were not applied; rerun the deploy once it is fixed"
        )
    return Bootstrapped(layer, lines[-1] if lines else "bootstrap")


def deploy(
    stack: Stack,
    stack_file: Path,
    *,
    repo: str,
    sha: str,
    token: str,
    out: Path,
    secrets: Secrets,
    backend: bool = True,
    backend_config: Path | None = None,
    base_url: str | None = None,
    tofu: run.Tofu | None = None,
    wait_s: float = WAIT_DEADLINE_S,
    wait_interval_s: float = 5.0,
    progress: Callable[[str], None] = lambda line: None,
    bootstrap: Callable[[], BootstrapResult] | None = None,
) -> Sequence[Applied | Bootstrapped]:
    order = deploy_layers(stack, stack_file)
    without = [n for n in order if n in BOOTSTRAP_LAYERS and bootstrap is None]
    if without:  # found before anything is applied
        raise ConfigError([f"{n}: the layer's bootstrap needs the hosts' SSH key" for n in without])
    prs = pulls_for_commit(repo, sha, token=token, base_url=base_url)
    if not prs:
        raise Refused(
            "deploy", [f"commit {sha} came from no merged pull request: nothing was reviewed"]
        )
    pr = prs[-1]
    record = read_review_record(repo, pr, MARKER, token=token, base_url=base_url)
    progress(describe(record))
    tofu = tofu or run.Tofu.find()

    def apply_tofu(layer: str) -> Applied:
        try:
            seen = reviewed_fingerprint(record, layer)
            progress(f"{layer}: planning again to compare with the review of #{pr}")
            done = apply_reviewed_layer(
                stack,
                stack_file,
                layer,
                Reviewed(seen["changes"], upstream=seen.get("upstream", "")),
                out / layer,
                backend=backend,
                backend_config=backend_config,
                tofu=tofu,
                secrets=secrets,
                command="deploy",
                progress=_prefixed(progress, layer),
            )
        except Refused as exc:
            comment_on_pull(repo, pr, refusal_comment(exc, sha), token=token, base_url=base_url)
            raise
        progress(f"{layer}: applied ({done.how})")
        if layer == "talos":  # the provider neither makes sure of the bootstrap nor waits
            wait_for_layer(
                stack,
                stack_file,
                backend=backend,
                backend_config=backend_config,
                deadline_s=wait_s,
                interval_s=wait_interval_s,
                tofu=tofu,
                progress=_prefixed(progress, "talos: wait"),
            )
        return done

    return apply_in_order(order, apply_tofu, bootstrap, progress)


def apply_in_order(
    order: Sequence[str],
    apply_tofu: Callable[[str], Applied],
    bootstrap: Callable[[], BootstrapResult] | None,
    progress: Callable[[str], None],
) -> list[Applied | Bootstrapped]:
    """Each layer in order, a tofu layer through `apply_tofu`, a layer without tofu through
    its bootstrap; a refusal or failure (an exception) stops the rest."""
    applied: list[Applied | Bootstrapped] = []
    for layer in order:
        if layer in BOOTSTRAP_LAYERS:
            applied.append(run_layer_bootstrap(layer, bootstrap, progress))
        else:
            applied.append(apply_tofu(layer))
    return applied


def _prefixed(progress: Callable[[str], None], layer: str) -> Callable[[str], None]:
    return lambda line: progress(f"{layer}: {line}")


def refusal_comment(exc: Refused, sha: str) -> str:
    reasons = "\n".join(f"- {r}" for r in exc.reasons[:100])
    return (
        f"### ❌ freetier deploy refused to apply `{exc.layer}`\n\n"
        f"On `{sha[:12]}` the plan could not be shown to be the one this pull request "
        f"reviewed, so nothing was applied to `{exc.layer}` or any later layer:\n\n{reasons}\n\n"
        "Open a new pull request (or re-run the plan) to review the current changes.\n"
    )
