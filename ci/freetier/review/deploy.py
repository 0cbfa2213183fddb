"""On merge to main: apply, layer by layer, exactly what the merged pull request reviewed.

The reviewed plan is named by the fingerprints the workflow itself recorded: its sticky
comment and the check runs of the pull request's head commit, which must agree, and nobody
else's comment counts (review/trust.py). Each layer is planned again and applied only when
its changes match (review/gate.py). A layer that does not match stops the deploy, and the
reason is posted to the merged pull request.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from freetier.cluster.run import WAIT_DEADLINE_S, wait_for_layer
from freetier.comment import MARKER
from freetier.github.publish import comment_on_pull, pulls_for_commit
from freetier.github.record import read_review_record
from freetier.layers import present_layers
from freetier.plans.model import Reviewed, Secrets
from freetier.review.gate import Applied, Refused, apply_reviewed_layer
from freetier.review.trust import describe, reviewed_fingerprint
from freetier.stack import Stack
from freetier.tofu import run


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
) -> list[Applied]:
    prs = pulls_for_commit(repo, sha, token=token, base_url=base_url)
    if not prs:
        raise Refused(
            "deploy", [f"commit {sha} came from no merged pull request: nothing was reviewed"]
        )
    pr = prs[-1]
    record = read_review_record(repo, pr, MARKER, token=token, base_url=base_url)
    progress(describe(record))
    tofu = tofu or run.Tofu.find()
    applied: list[Applied] = []
    for layer in present_layers(stack_file):  # in order; a refusal or failure stops the rest
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
        applied.append(done)
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
