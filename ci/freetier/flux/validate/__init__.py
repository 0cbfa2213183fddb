"""`freetier flux validate`: check any Flux repository offline before merge.

Builds every Flux Kustomization's path with `kubectl kustomize` (in parallel), checks core kinds
against the Kubernetes schemas of `kubernetes-validate` and Flux kinds against models of the GA
APIs, then the graph of each cluster: dependsOn, sourceRef, paths, namespaces, substituteFrom,
SOPS decryption, plaintext Secrets and SOPS recipients. Nothing is decrypted.
"""

from freetier.flux.validate.discover import Build, Cluster
from freetier.flux.validate.documents import Document, K8sObject, ObjectKey
from freetier.flux.validate.index import RepoIndex
from freetier.flux.validate.model import RULES, Counts, Finding, Rule, ValidationResult
from freetier.flux.validate.render import render_json, render_sarif, render_text, summary
from freetier.flux.validate.run import ExtraCheck, validate_repo

__all__ = [
    "RULES",
    "Build",
    "Cluster",
    "Counts",
    "Document",
    "ExtraCheck",
    "Finding",
    "K8sObject",
    "ObjectKey",
    "RepoIndex",
    "Rule",
    "ValidationResult",
    "render_json",
    "render_sarif",
    "render_text",
    "summary",
    "validate_repo",
]
