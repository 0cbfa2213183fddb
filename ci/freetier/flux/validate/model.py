"""What the validator reports: findings with a rule id each, the counts, and the rule catalogue."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from freetier.flux.validate.documents import K8sObject

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, what is wrong, and where (file relative to the repository root,
    1-based line when known, and the Kubernetes object it is about).

    Severity: `error` will fail in the cluster; `warning` is probably wrong but may be made
    outside the repository (a Secret no object here creates); `info` says what was not
    checked and why."""

    rule: str
    message: str
    file: str
    line: int | None = None
    kind: str = ""
    namespace: str = ""
    name: str = ""
    severity: Severity = "error"

    def at(self, severity: Severity) -> Finding:
        return replace(self, severity=severity)

    @property
    def object_ref(self) -> str:
        """`Kind/namespace/name`, `Kind/name` for cluster-scoped objects, `-` for none."""
        if not self.kind:
            return "-"
        return "/".join(part for part in (self.kind, self.namespace, self.name) if part)

    def sort_key(self) -> tuple[str, int, str, str, str]:
        return (self.file, self.line or 0, self.rule, self.object_ref, self.message)


@dataclass(frozen=True)
class Counts:
    files: int = 0  # YAML files read
    broken: int = 0  # of them, files that do not parse (a finding only where kustomize reads them)
    documents: int = 0  # YAML documents in them
    clusters: int = 0  # trees of Kustomizations rooted at a sync (or an unreferenced one)
    kustomizations: int = 0  # Flux Kustomizations applied to some cluster
    unapplied: int = 0  # Kustomizations no cluster applies (not built: Flux never applies them)
    builds: int = 0  # distinct build contexts (several may share a `kubectl kustomize` run)
    objects: int = 0  # objects the clusters' Kustomizations apply (after build)
    flux_checked: int = 0  # Flux objects checked against the GA API models
    k8s_checked: int = 0  # core objects checked against the Kubernetes schemas
    skipped: int = 0  # objects of custom kinds no schema here knows (not checked)


@dataclass(frozen=True)
class ValidationResult:
    root: Path
    kubernetes_version: str  # the schema version used, "1.36"
    findings: tuple[Finding, ...] = ()
    counts: Counts = field(default_factory=Counts)
    strict: bool = False  # warnings count as failures
    acknowledged: int = 0  # objects .freetier-flux.yaml says are made outside the repository

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def failing(self) -> tuple[Finding, ...]:
        counted = ("error", "warning") if self.strict else ("error",)
        return tuple(f for f in self.findings if f.severity in counted)

    @property
    def exit_code(self) -> int:
        """1 when an error (with `strict`, also a warning) was found; info never fails."""
        return 1 if self.failing else 0


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    help: str
    severity: Severity = "error"  # the usual one; a finding may carry another


RULES: tuple[Rule, ...] = (
    Rule(
        "yaml/invalid",
        "YAML that does not parse",
        "A file some Kustomization takes in does not parse as YAML (as go-yaml reads it: "
        "custom tags and anchors defined twice are fine). Files no Kustomization reads are "
        "not reported.",
    ),
    Rule(
        "flux/no-root",
        "No sync root found",
        "No flux-system Kustomization whose spec.path holds its own file, and no FluxInstance "
        "spec.sync: the folders whose Kustomizations nothing else applies were checked as "
        "roots. Name the entry point with --path (repeatable) to check the real tree.",
        "info",
    ),
    Rule(
        "flux/source-external",
        "Kustomization built from a source outside this repository",
        "Its sourceRef names an OCIRepository, another GitRepository or an ExternalArtifact "
        "whose content this repository does not hold: not built, not checked.",
        "info",
    ),
    Rule(
        "flux/removed-api",
        "Flux API version removed or deprecated",
        "Use the GA API versions: source.toolkit.fluxcd.io/v1, kustomize.toolkit.fluxcd.io/v1, "
        "helm.toolkit.fluxcd.io/v2 (notification: v1 for Receiver, v1beta3 for Alert/Provider; "
        "image: v1).",
    ),
    Rule(
        "flux/schema",
        "Flux object does not match its API",
        "Required fields (interval, sourceRef, prune, url, chart or chartRef...), field types, "
        "enumerations and unknown fields, checked against models of the GA Flux APIs.",
    ),
    Rule(
        "k8s/schema",
        "Kubernetes object does not match its schema",
        "The built object is checked against the Kubernetes OpenAPI schema (strict: unknown "
        "fields are errors, as server-side apply rejects them).",
    ),
    Rule(
        "k8s/api-unknown",
        "Kubernetes API version not served",
        "A built-in API group is used with a version or kind this Kubernetes release does not "
        "serve (for example a removed beta API).",
    ),
    Rule(
        "kustomize/build-failed",
        "kustomize build fails",
        "`kubectl kustomize` fails on the Kustomization's path, as kustomize-controller would.",
    ),
    Rule(
        "flux/path-missing",
        "Kustomization path does not exist",
        "spec.path must name a folder in the repository.",
    ),
    Rule(
        "flux/dependsOn-unknown",
        "dependsOn names an object nothing defines",
        "Every dependsOn entry must name a Kustomization (or HelmRelease) applied to the same "
        "cluster; the namespace defaults to the referring object's.",
    ),
    Rule(
        "flux/dependsOn-cycle",
        "dependsOn cycle",
        "Objects in a dependsOn cycle wait for each other forever.",
    ),
    Rule(
        "flux/sourceRef-unknown",
        "sourceRef names a source nothing defines",
        "sourceRef / chart.spec.sourceRef / chartRef must name a source applied to the same "
        "cluster; the namespace defaults to the referring object's.",
    ),
    Rule(
        "flux/namespace-missing",
        "namespace nothing creates",
        "A namespaced object's namespace must be created by a Namespace object (or a "
        "HelmRelease with install.createNamespace) in the same cluster, unless it is "
        "flux-system, default, kube-system, kube-public or kube-node-lease.",
    ),
    Rule(
        "flux/substituteFrom-unknown",
        "postBuild.substituteFrom names a ConfigMap/Secret nothing defines",
        "Mark the reference `optional: true` or define the object in the Kustomization's "
        "namespace in the same cluster. A Secret is a warning (it is often made outside "
        "Git: by bootstrap, External Secrets...); acknowledge it in .freetier-flux.yaml.",
    ),
    Rule(
        "flux/decryption-missing",
        "SOPS-encrypted content without decryption",
        "A Kustomization that applies SOPS-encrypted files needs spec.decryption "
        "{provider: sops, secretRef: {name: sops-age}}.",
    ),
    Rule(
        "secret/plaintext",
        "Secret with plaintext data",
        "Secrets committed to Git must be SOPS-encrypted (encrypted_regex ^(data|stringData)$).",
    ),
    Rule(
        "sops/recipients",
        "SOPS recipients differ from .sops.yaml",
        "A SOPS file's age recipients must be exactly those of the first .sops.yaml creation "
        "rule matching its path; re-encrypt or run `sops updatekeys`.",
    ),
)

RULE_IDS = frozenset(rule.id for rule in RULES)


RULE_SEVERITY = {rule.id: rule.severity for rule in RULES}


def finding(
    obj: K8sObject,
    rule: str,
    message: str,
    path: tuple[str | int, ...] = (),
    severity: Severity | None = None,
) -> Finding:
    """A finding about `obj`, at the line of `path` in its source document; the rule's
    usual severity unless `severity` says otherwise."""
    return Finding(
        rule=rule,
        message=message,
        file=obj.file,
        line=obj.line_of(*path),
        kind=obj.kind,
        namespace=obj.namespace,
        name=obj.name,
        severity=severity or RULE_SEVERITY.get(rule, "error"),
    )


def dotted(path: tuple[str | int, ...]) -> str:
    """('spec', 'dependsOn', 0, 'name') -> 'spec.dependsOn[0].name'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
