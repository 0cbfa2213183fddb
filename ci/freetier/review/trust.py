"""Which plan a merged pull request reviewed, taken only from the workflow's own records.

Deploy applies a layer only when two records agree on its fingerprint:

1. the plan comment reviewers read, the newest carrying the marker that the workflow's App
   wrote (`github-actions[bot]`, performed via the `github-actions` App). A comment by anyone
   else is ignored however it looks: whoever may comment can copy the marker, not the author.
2. the layer's check run on the pull request's head commit, created by that same App. Only a
   GitHub App can create a check run and only its creator can change it, and it belongs to
   the one commit that was merged.

Why both: the comment alone is what people reviewed, but a collaborator with write access
may edit anybody's comment, the workflow's included, without its author changing; and a
comment can trail the head (a plan for an older push). The check run alone is tamper-proof
and pinned to the head, but it is not what reviewers read. When the two name the same plan,
the plan was published by the workflow, for the merged commit, and shown to reviewers
unchanged. Anything else refuses the layer and says why. Pure.
"""

from __future__ import annotations

from freetier.comment import read_fingerprints
from freetier.github.record import ReviewRecord
from freetier.review.gate import Refused
from freetier.review.publication import check_name


def reviewed_fingerprint(record: ReviewRecord, layer: str) -> dict[str, str]:
    """The fingerprint `layer` was reviewed with; Refused when the records do not show one."""
    pr, head = f"#{record.pr}", record.head_sha[:12]
    if record.comment_id is None:
        others = f"; ignored the ones by {', '.join(record.ignored)}" if record.ignored else ""
        raise Refused(layer, [f"pull request {pr} has no plan comment by {record.author}{others}"])
    commented = read_fingerprints(record.comment).get(layer)
    if commented is None or "changes" not in commented:
        raise Refused(layer, [f"pull request {pr} shows no reviewed plan for it"])
    name = check_name(layer)
    if name not in record.checks:
        raise Refused(
            layer,
            [
                f"the head commit {head} of {pr} has no check run {name!r} by {record.author}, "
                "so the plan comment cannot be tied to the merged commit"
            ],
        )
    if read_fingerprints(record.checks[name]).get(layer) != commented:
        raise Refused(
            layer,
            [
                f"the plan comment of {pr} and the check run {name!r} of its head commit {head} "
                "name different plans: the comment was edited, or written for another commit"
            ],
        )
    return commented


def describe(record: ReviewRecord) -> str:
    """One line: where the reviewed plans come from."""
    if record.comment_id is None:
        where = f"no plan comment by {record.author} on #{record.pr}"
    else:
        where = f"comment {record.comment_id} by {record.author} on #{record.pr}"
    ignored = f" ({len(record.ignored)} author(s) of look-alike comments ignored)"
    return f"reviewed plans: {where}, checked against the check runs of {record.head_sha[:12]}" + (
        ignored if record.ignored else ""
    )
