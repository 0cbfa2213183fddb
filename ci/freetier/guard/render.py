"""GuardResult -> text table, JSON and the PR report's markdown section. Pure."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from freetier.guard.evaluate import GuardResult


def verdict_line(result: GuardResult) -> str:
    if result.free:
        return "free: $0.00 a month"
    cost = f"an estimated ${result.monthly_cost:,.2f} a month"
    if not result.cost_known:
        cost += " plus items at unknown prices"
    maybe = len(result.may_be_billed)
    if not result.blocking:
        return f"MAY BE BILLED: {maybe} item(s), up to {cost}"
    line = f"BLOCKING: {len(result.blocking)} finding(s), {cost}"
    return line + (f"; {maybe} more item(s) may be billed" if maybe else "")


def verdict_with_figures(result: GuardResult) -> str:
    """One line: the profile, the verdict and every limit over it with its figure."""
    over = [f"{u.name} {u.used:g} of {u.limit:g} {u.unit}" for u in result.limits if u.over]
    figures = f" ({'; '.join(over)})" if over else ""
    return f"free tier on {result.profile.name}: {verdict_line(result)}{figures}"


def render_guard_text(result: GuardResult) -> str:
    out = [
        f"free-tier guard: profile {result.profile.name}, "
        f"sources: {', '.join(result.sources) or 'none'}",
        "",
    ]
    rows: list[tuple[str, ...]] = [("LIMIT", "USED", "LIMIT", "UNIT", "")]
    rows += [
        (u.name, f"{u.used:g}", f"{u.limit:g}", u.unit, "OVER" if u.over else "ok")
        for u in result.limits
    ]
    out += _table(rows)
    out.append("")
    rows = [("RESOURCE", "CLASS", "$/MONTH", "WHY")]  # a new table: four columns
    rows += [
        (a.resource.address, a.category, _cost(a.monthly_cost), a.reason)
        for a in result.assessments
    ]
    out += _table(rows)
    for title, items in (
        ("blocking", result.blocking),
        ("may be billed", result.may_be_billed),
        ("warnings", result.warnings),
    ):
        if items:
            out += ["", f"{title}:", *(f"  - {item}" for item in items)]
    out += ["", verdict_line(result)]
    return "\n".join(out) + "\n"


def guard_json(result: GuardResult) -> dict[str, Any]:
    return {
        "profile": {
            "name": result.profile.name,
            "source": result.profile.source,
            "read": result.profile.read,
        },
        "free": result.free,
        "exit_code": result.exit_code,
        "verdict": verdict_line(result),
        "monthly_cost_estimate": round(result.monthly_cost, 2),
        "cost_known": result.cost_known,
        "sources": list(result.sources),
        "limits": [
            {
                "name": u.name,
                "used": u.used,
                "limit": u.limit,
                "unit": u.unit,
                "over": u.over,
                "note": u.note,
            }
            for u in result.limits
        ],
        "resources": [
            {
                "address": a.resource.address,
                "type": a.resource.type,
                "origin": a.resource.origin,
                "category": a.category,
                "reason": a.reason,
                "monthly_cost": a.monthly_cost,
                "usage": dict(a.usage),
            }
            for a in result.assessments
        ],
        "blocking": list(result.blocking),
        "may_be_billed": list(result.may_be_billed),
        "warnings": list(result.warnings),
    }


def render_guard_json(result: GuardResult) -> str:
    return json.dumps(guard_json(result), indent=2) + "\n"


def render_guard_markdown(result: GuardResult) -> str:
    return guard_markdown(guard_json(result))


def guard_markdown(body: dict[str, Any], *, resources: bool = True) -> str:
    """The section from the guard's JSON (so `freetier comment render --guard FILE` renders
    exactly what `freetier guard --format json` decided). `resources=False` leaves out the
    per-resource table, for a comment short of room."""
    icon = "✅" if body["free"] else "❌"
    profile = body["profile"]
    lines = [
        f"### {icon} Free-tier guard: {body['verdict']}",
        "",
        f"Profile `{profile['name']}` ([source]({profile['source']}), read "
        f"{profile['read']}); prices are estimates.",
        "",
        "| limit | used | limit | |",
        "|---|---:|---:|---|",
    ]
    lines += [
        f"| {u['name']} | {u['used']:g} | {u['limit']:g} {u['unit']} | "
        f"{'❌ over' if u['over'] else 'ok'} |"
        for u in body["limits"]
        if u["used"] or u["over"]
    ]
    sections = (
        ("Blocking", body["blocking"]),
        # Absent from reports written before it existed.
        ("May be billed", body.get("may_be_billed", [])),
        ("Warnings", body["warnings"]),
    )
    for title, items in sections:
        if items:
            lines += ["", f"**{title}**", "", *(f"- {_md(i)}" for i in items)]
    if resources:
        lines += [
            "",
            "<details><summary>Every resource and why</summary>",
            "",
            "| resource | class | $/month | why |",
            "|---|---|---:|---|",
        ]
        lines += [
            f"| `{r['address']}` | {r['category']} | {_cost(r['monthly_cost'])} | "
            f"{_md(r['reason'])} |"
            for r in body["resources"]
        ]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _cost(cost: float | None) -> str:
    return "?" if cost is None else f"{cost:.2f}"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + f"  {r[-1]}"
        for r in rows
    ]
