"""ValidationResult -> text (one line per finding), JSON, or SARIF 2.1.0 for code scanning. Pure."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any
from urllib.parse import quote

from freetier import __version__
from freetier.flux.validate.model import RULES, SEVERITIES, Finding, ValidationResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "freetier flux validate"


SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def summary(result: ValidationResult) -> str:
    c = result.counts
    counted = ", ".join(
        f"{result.count(s)} {s}(s)" for s in ("error", "warning", "info") if result.count(s)
    )
    verdict = ("failed" if result.exit_code else "ok") + (f" ({counted})" if counted else "")
    if result.strict and result.count("warning"):
        verdict += " (--strict: warnings fail)"
    unapplied = f"{c.unapplied} Kustomization(s) no cluster applies, not checked; "
    return (
        f"flux validate: {verdict}: {c.clusters} cluster(s), {c.kustomizations} "
        f"Kustomization(s), {c.builds} build(s), {c.objects} object(s) applied; "
        f"{unapplied if c.unapplied else ''}"
        f"{c.flux_checked} Flux and {c.k8s_checked} core object(s) checked against Flux GA APIs "
        f"and Kubernetes {result.kubernetes_version} ({c.skipped} custom resource(s) skipped)"
    )


def render_text(result: ValidationResult) -> str:
    """`file:line: kind/ns/name: rule: message`, one per finding, then a summary line."""
    lines = [
        f"{f.file or '.'}:{f.line or 1}: {f.severity}: {f.object_ref}: {f.rule}: "
        f"{' '.join(f.message.split())}"
        for f in result.findings
    ]
    lines.append(summary(result))
    return "\n".join(lines) + "\n"


def render_json(result: ValidationResult) -> str:
    body = {
        "root": str(result.root),
        "kubernetes_version": result.kubernetes_version,
        "exit_code": result.exit_code,
        "strict": result.strict,
        "severities": {s: result.count(s) for s in SEVERITIES},
        "counts": asdict(result.counts),
        "findings": [asdict(f) for f in result.findings],
    }
    return json.dumps(body, indent=2) + "\n"


def render_sarif(result: ValidationResult) -> str:
    """SARIF 2.1.0: every rule in the driver, each finding a result with a physical location
    relative to the validated folder (the repository root GitHub expects)."""
    rules: list[dict[str, Any]] = [
        {
            "id": rule.id,
            "name": rule.id.replace("/", "-"),
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.help},
            "help": {"text": rule.help},
            "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity]},
        }
        for rule in RULES
    ]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    for finding in result.findings:
        if finding.rule not in index:  # an extra check's rule
            index[finding.rule] = len(rules)
            rules.append(
                {
                    "id": finding.rule,
                    "name": finding.rule.replace("/", "-"),
                    "shortDescription": {"text": finding.rule},
                    "defaultConfiguration": {"level": "error"},
                }
            )
    run = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": __version__,
                "informationUri": "https://fluxcd.io/flux/components/",
                "rules": rules,
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule]) for f in result.findings],
    }
    body = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(body, indent=2) + "\n"


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": quote(finding.file or ".")},
            "region": {"startLine": finding.line or 1},
        }
    }
    if finding.kind:
        location["logicalLocations"] = [
            {"fullyQualifiedName": finding.object_ref, "kind": "object"}
        ]
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": SARIF_LEVELS[finding.severity],
        "message": {"text": f"{finding.object_ref}: {finding.message}"},
        "locations": [location],
    }


RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif}
FORMATS = tuple(RENDERERS)
