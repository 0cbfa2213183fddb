"""Every layer's plan and the guard's verdict as ONE pull-request comment. Pure.

The comment must stay under a budget (GitHub rejects 65,536 characters), so it is built in
tiers: each tier leaves out more detail, always whole sections, never markdown cut in half.
The first tier that fits is the comment; the full rendering goes to the job summary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from freetier.guard.render import guard_markdown
from freetier.layers import topology_layers
from freetier.masking import FINGERPRINT_KEY_ENV
from freetier.plans.keyed import is_keyed
from freetier.plans.model import LayerPlan, ResourceChange

MARKER = "<!-- freetier:plan -->"
OVER = "❌ over the free tier"
MAY_BE_BILLED = "❌ may be billed"
DEFAULT_BUDGET = 60_000  # GitHub rejects comments of 65,536 characters and more
SUMMARY_BUDGET = 1_000_000  # $GITHUB_STEP_SUMMARY takes 1 MiB
BANNER_ITEMS = 50
VALUE_CHARS = 120
MIN_TEXT_SHARE = 400  # below this a cut plan text says nothing: leave it out
STEP_TEXT_CUT = 4_000  # a layer report's share when the tier cuts texts
# Every layer's place in the comment: the proxmox layer between oci and talos.
LAYER_ORDER = topology_layers("proxmox")
SYMBOLS = {
    "create": "+",
    "update": "~",
    "replace": "±",
    "delete": "-",
    "forget": "⊘",
    "read": "≤",
    "no-op": "·",
}


@dataclass(frozen=True)
class Tier:
    details: Literal["attributes", "addresses", "counts"]
    guard_resources: bool
    text: Literal["full", "cut", "none"]
    note: str


TIERS = (
    Tier("attributes", True, "full", ""),
    Tier("attributes", True, "cut", "plan text cut in the middle"),
    Tier("attributes", False, "cut", "plan text cut; guard's per-resource table left out"),
    Tier(
        "addresses",
        False,
        "cut",
        "plan text cut; changed attributes and the guard's per-resource table left out",
    ),
    Tier(
        "addresses",
        False,
        "none",
        "plan text, changed attributes and the guard's per-resource table left out",
    ),
    Tier("counts", False, "cut", "only counts per resource type and the plan text's ends shown"),
    Tier("counts", False, "none", "only counts per resource type shown"),
)


@dataclass(frozen=True)
class StepSection:
    """A layer that has no tofu plan (the proxmox layer): what its dry run reported, as the
    command prints it, shown in the layer's place."""

    layer: str
    summary: str  # one line: the report's tally, or why it did not run
    text: str = ""  # the report; "" when it did not run
    failed: bool = False


def render_comment(
    layers: Sequence[LayerPlan],
    guard: dict[str, Any] | None = None,
    *,
    budget: int = DEFAULT_BUDGET,
    where_full: str = "the job summary and the plan artifact",
    steps: Sequence[StepSection] = (),
) -> str:
    """The richest rendering that fits in `budget` characters."""
    sections: dict[str, list[list[str]]] = {}  # per detail level: built once, reused by tiers
    for tier in TIERS:
        if tier.details not in sections:
            sections[tier.details] = [_layer_section(p, tier) for p in layers]
        text = _render(layers, guard, tier, budget, where_full, sections[tier.details], steps)
        if len(text) <= budget:
            return text
    return _minimal(layers, guard, where_full, steps)


def render_full(
    layers: Sequence[LayerPlan],
    guard: dict[str, Any] | None = None,
    steps: Sequence[StepSection] = (),
) -> str:
    """Everything, for the job summary and the artifact (still capped at 1 MiB)."""
    return render_comment(
        layers, guard, budget=SUMMARY_BUDGET, where_full="the plan artifact", steps=steps
    )


def fingerprint_marker(layers: Sequence[LayerPlan]) -> str:
    """Hidden in the comment: which plan each layer's review saw. `changes` is what the deploy
    gate compares a fresh plan with; `digest` also pins the state, versions and commits;
    `upstream` (a layer derived from another's outputs) which outputs it was planned against."""
    prints = {
        p.layer: {"changes": p.fingerprint.changes, "digest": p.fingerprint.digest}
        | ({"upstream": p.fingerprint.upstream} if p.fingerprint.upstream else {})
        for p in layers
        if p.fingerprint is not None
    }
    return f"<!-- freetier:fingerprints {json.dumps(prints, sort_keys=True)} -->"


def read_fingerprints(body: str) -> dict[str, dict[str, str]]:
    """The marker's content; {} when the comment has none (or a mangled one)."""
    match = re.search(r"<!-- freetier:fingerprints (\{.*?\}) -->", body)
    try:
        found = json.loads(match.group(1)) if match else {}
    except json.JSONDecodeError:
        return {}
    return {k: v for k, v in found.items() if isinstance(v, dict)}


def layer_verdict(plan: LayerPlan, guard: dict[str, Any] | None) -> str:
    if plan.failed:
        return "❌ plan failed"
    if guard is not None and (verdict := _layer_guard_verdict(plan.layer, guard)):
        return verdict
    if plan.no_changes:
        return "no changes"
    return "✅ ok"


def _render(
    layers: Sequence[LayerPlan],
    guard: dict[str, Any] | None,
    tier: Tier,
    budget: int,
    where_full: str,
    bodies: list[list[str]],
    steps: Sequence[StepSection] = (),
) -> str:
    head = [*_header(layers, guard, steps), *_banner(layers)]
    if guard is not None:
        head += ["", guard_markdown(guard, resources=tier.guard_resources).rstrip()]
    notice = _notice(tier, where_full)
    texts: list[list[str]] = [[] for _ in layers]
    if tier.text != "none":
        fixed = len("\n".join(head + [s for b in bodies for s in b] + notice)) + 200
        with_text = [p for p in layers if p.text]
        share = (budget - fixed) // max(len(with_text), 1) if tier.text == "cut" else None
        texts = [_text_section(p, share) if p.text else [] for p in layers]
    placed = [
        (p.layer, [*body, *text]) for p, body, text in zip(layers, bodies, texts, strict=True)
    ]
    placed += [(s.layer, _step_section(s, tier)) for s in steps]
    placed.sort(key=lambda item: _place(item[0]))  # stable: tofu layers keep their order
    lines = list(head)
    for _, section in placed:
        lines += section
    lines += notice
    return "\n".join(lines).rstrip() + "\n"


def _place(layer: str) -> int:
    return LAYER_ORDER.index(layer) if layer in LAYER_ORDER else len(LAYER_ORDER)


def _step_section(step: StepSection, tier: Tier) -> list[str]:
    """The layer's heading, its one-line summary, and (unless the tier leaves texts out) the
    report as the command printed it."""
    lines = ["", f"### {step.layer}", "", step.summary]
    if not step.text or tier.text == "none":
        return lines
    text = step.text.rstrip("\n")
    if tier.text == "cut":
        text = cut_middle(text, STEP_TEXT_CUT)
    fence = _fence(text)
    return [
        *lines,
        "",
        f"<details><summary>{step.layer}: dry run</summary>",
        "",
        f"{fence}text",
        text,
        fence,
        "",
        "</details>",
    ]


def _header(
    layers: Sequence[LayerPlan], guard: dict[str, Any] | None, steps: Sequence[StepSection] = ()
) -> list[str]:
    failed = sorted(
        [p.layer for p in layers if p.failed] + [s.layer for s in steps if s.failed], key=_place
    )
    if failed:
        verdict = f"❌ plan failed: {', '.join(failed)}"
    elif guard is not None and guard["blocking"]:
        verdict = OVER
    elif guard is not None and not guard["free"]:
        verdict = MAY_BE_BILLED
    else:
        verdict = "✅ $0.00 a month" if guard is not None else "✅ planned"
    lines = [
        MARKER,
        fingerprint_marker(layers),
        f"## freetier plan: {verdict}",
        "",
        "| layer | + | ~ | ± | - | imports | moves | $/month | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in layers:
        c = p.counts
        lines.append(
            f"| {p.layer} | {c['create']} | {c['update']} | {c['replace']} | {c['delete']} | "
            f"{c['import']} | {c['move']} | {_layer_cost(p.layer, guard)} | "
            f"{layer_verdict(p, guard)} |"
        )
    drift = [f"{p.layer}: {len(p.drift)}" for p in layers if p.drift]
    if drift:
        lines += ["", f"Changed outside tofu since the last apply (drift): {', '.join(drift)}."]
    return lines + _unkeyed_notice(layers)


def _unkeyed_notice(layers: Sequence[LayerPlan]) -> list[str]:
    """Said plainly when a fingerprint was made without the key: it leaves sensitive values
    out (so it reveals none), and so does not pin them either."""
    unkeyed = [p.layer for p in layers if p.fingerprint and not is_keyed(p.fingerprint.changes)]
    if not unkeyed:
        return []
    return [
        "",
        "> [!WARNING]",
        f"> **Changes to sensitive values are not covered by this review** ({', '.join(unkeyed)}):"
        f" the plan was fingerprinted without `{FINGERPRINT_KEY_ENV}`, so a deploy checks"
        " everything but them. Set that repository secret to cover them.",
    ]


def _banner(layers: Sequence[LayerPlan]) -> list[str]:
    destroys = [(p.layer, c) for p in layers for c in p.destroys]
    if not destroys:
        return []
    lines = ["", "> [!CAUTION]", f"> **{len(destroys)} resource(s) will be destroyed or replaced**"]
    lines += [f"> - {layer}: {_change_line(c)}" for layer, c in destroys[:BANNER_ITEMS]]
    if len(destroys) > BANNER_ITEMS:
        lines.append(f"> - and {len(destroys) - BANNER_ITEMS} more (see each layer below)")
    return lines


def _layer_section(plan: LayerPlan, tier: Tier) -> list[str]:
    lines = ["", f"### {plan.layer}"]
    if plan.failed:
        fence = _fence("\n".join(plan.errors))
        return [*lines, "", "The plan failed:", "", fence, *plan.errors, fence]
    if plan.no_changes:
        return [*lines, "", "No changes."]
    c = plan.counts
    summary = ", ".join(f"{n} {k}" for k, n in c.items() if n) or "outputs only"
    lines += ["", f"<details><summary>{summary}</summary>", ""]
    if tier.details == "counts":
        lines += _counts_by_type(plan.changes)
    else:
        for change in plan.changes:
            lines.append(f"- {_change_line(change)}")
            if tier.details == "attributes" and change.action in ("update", "replace"):
                lines += [
                    f"  - `{k}`: {_value(b)} → {_value(a)}"
                    for k, b, a in _changed_attributes(change)
                ]
    outputs = [o for o in plan.outputs if o.action != "no-op"]
    if outputs:
        lines += [
            "",
            "Outputs:",
            *(
                f"- {SYMBOLS.get(o.action, '?')} `{o.name}`"
                + (" (sensitive)" if o.sensitive else "")
                for o in outputs
            ),
        ]
    return [*lines, "", "</details>"]


def _text_section(plan: LayerPlan, share: int | None) -> list[str]:
    text = plan.text.rstrip("\n")
    if share is not None:
        if share < MIN_TEXT_SHARE:
            return []
        text = cut_middle(text, share)
    fence = _fence(text)
    return [
        "",
        f"<details><summary>{plan.layer}: plan text</summary>",
        "",
        f"{fence}text",
        text,
        fence,
        "",
        "</details>",
    ]


def cut_middle(text: str, limit: int) -> str:
    """Keep the head and, above all, the tail (the summary line is there), whole lines only."""
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    notice = (
        "... {} line(s) cut here to fit; the full plan is in the job summary and the "
        "plan artifact ..."
    )
    head_room = limit // 3
    tail_room = limit - head_room - len(notice) - 10
    head: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > head_room:
            break
        head.append(line)
        used += len(line) + 1
    tail: list[str] = []
    used = 0
    for line in reversed(lines[len(head) :]):
        if used + len(line) + 1 > tail_room:
            break
        tail.append(line)
        used += len(line) + 1
    cut = len(lines) - len(head) - len(tail)
    return "\n".join(
        [
            *head,
            f"... {cut} line(s) cut here to fit; the full plan is in the "
            "job summary and the plan artifact ...",
            *reversed(tail),
        ]
    )


def _notice(tier: Tier, where_full: str) -> list[str]:
    if not tier.note:
        return []
    return [
        "",
        f"<sub>Shortened to fit GitHub's comment limit: {tier.note}. "
        f"Everything is in {where_full}.</sub>",
    ]


def _minimal(
    layers: Sequence[LayerPlan],
    guard: dict[str, Any] | None,
    where_full: str,
    steps: Sequence[StepSection] = (),
) -> str:
    lines = [*_header(layers, guard, steps)]
    lines += [f"\n{s.layer}: {s.summary}" for s in steps]
    destroys = sum(len(p.destroys) for p in layers)
    if destroys:
        lines += ["", f"> [!CAUTION]\n> **{destroys} resource(s) will be destroyed or replaced**"]
    if guard is not None:
        lines += ["", f"Free-tier guard: {guard['verdict']}"]
    lines += [
        "",
        f"<sub>Too large for a comment: only the summary is shown. Everything is in "
        f"{where_full}.</sub>",
    ]
    return "\n".join(lines) + "\n"


def _change_line(change: ResourceChange) -> str:
    words = [f"{SYMBOLS.get(change.action, '?')} `{change.address}` {change.action}"]
    if change.moved:
        words.append(f"(moved from `{change.previous_address}`)")
    if change.importing:
        words.append("(imported" + (f" from id `{change.import_id}`)" if change.import_id else ")"))
    if change.action == "replace":
        why = change.action_reason or "replace"
        paths = ", ".join(_path(p) for p in change.replace_paths)
        words.append(f"because {why}" + (f" ({paths})" if paths else ""))
    return " ".join(words)


def _changed_attributes(change: ResourceChange) -> list[tuple[str, Any, Any]]:
    before = change.before if isinstance(change.before, dict) else {}
    after = change.after if isinstance(change.after, dict) else {}
    unknown = change.after_unknown if isinstance(change.after_unknown, dict) else {}
    out = []
    for key in sorted(set(before) | set(after) | set(unknown)):
        new = "(known after apply)" if unknown.get(key) is True else after.get(key)
        if before.get(key) != new:
            out.append((key, before.get(key), new))
    return out


def _counts_by_type(changes: Sequence[ResourceChange]) -> list[str]:
    counts: dict[tuple[str, str], int] = {}
    for c in changes:
        counts[(c.type, c.action)] = counts.get((c.type, c.action), 0) + 1
    return [f"- {n} x `{rtype}` {action}" for (rtype, action), n in sorted(counts.items())]


def _layer_cost(layer: str, guard: dict[str, Any] | None) -> str:
    if guard is None:
        return "-"
    costs = [r["monthly_cost"] for r in guard["resources"] if r["origin"] == f"plan:{layer}"]
    if any(c is None for c in costs):
        return "?"
    return f"{sum(costs):.2f}"


def _layer_guard_verdict(layer: str, guard: dict[str, Any]) -> str | None:
    """What the guard says of one layer: its own paid or unknown resources put it over the free
    tier, its may-be-billed ones make it may-be-billed; tenancy-wide findings count only
    when it is the one layer planned."""
    mine = {r["category"] for r in guard["resources"] if r["origin"] == f"plan:{layer}"}
    alone = _only_layer(layer, guard)
    if mine & {"paid", "unknown"} or (guard["blocking"] and alone):
        return OVER
    if "may-be-billed" in mine or (not guard["free"] and alone):
        return MAY_BE_BILLED
    return None


def _only_layer(layer: str, guard: dict[str, Any]) -> bool:
    """Tenancy-wide findings can't be pinned on one layer unless it is the only one with
    planned resources (a layer with none beside it takes none of them)."""
    planned = {r["origin"] for r in guard["resources"] if r["origin"].startswith("plan:")}
    return planned == {f"plan:{layer}"}


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    text = text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
    return "`" + text.replace("`", "'") + "`"


def _path(path: Sequence[str | int]) -> str:
    return (
        "`" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") + "`"
    )


def _fence(text: str) -> str:
    """A code fence longer than any backtick run inside, so the content cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)
