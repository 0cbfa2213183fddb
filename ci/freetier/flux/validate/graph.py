"""Checks across one cluster's objects: dependsOn, sourceRef, namespaces, substituteFrom, and
what each Kustomization's build came to (path, kustomize errors, SOPS without decryption)."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from freetier.flux.validate.discover import Build, Cluster
from freetier.flux.validate.documents import K8sObject
from freetier.flux.validate.fluxapi import HELM, KUSTOMIZE, SOURCE
from freetier.flux.validate.model import Finding, finding

PRESET_NAMESPACES = frozenset(
    {"flux-system", "default", "kube-system", "kube-public", "kube-node-lease"}
)
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IPAddress",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "StorageVersionMigration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)
CHECKED_SOURCE_KINDS = frozenset(
    {"GitRepository", "OCIRepository", "Bucket", "HelmRepository", "HelmChart"}
)
Ident = tuple[str, str]  # (namespace, name)
ANY_NAMESPACE = "*"


@dataclass(frozen=True)
class External:
    """Objects made outside the repository, as `.freetier-flux.yaml` acknowledges them:
    (kind, namespace or "*", name)."""

    objects: frozenset[tuple[str, str, str]] = frozenset()

    def has(self, kind: str, namespace: str, name: str) -> bool:
        return (kind, namespace, name) in self.objects or (
            kind,
            ANY_NAMESPACE,
            name,
        ) in self.objects


def ns(obj: K8sObject) -> str:
    return obj.namespace or "default"


def check_cluster(
    cluster: Cluster, cluster_kinds: frozenset[str], external: External = External()
) -> Iterator[Finding]:
    objects = cluster.objects
    kustomizations = [o for o in objects if o.is_kind(KUSTOMIZE, "Kustomization")]
    releases = [o for o in objects if o.is_kind(HELM, "HelmRelease")]
    yield from check_depends_on(kustomizations, "Kustomization")
    yield from check_depends_on(releases, "HelmRelease")
    yield from check_source_refs(objects, kustomizations, releases, cluster.bootstrapped)
    yield from check_namespaces(objects, releases, cluster_kinds, external)
    yield from check_substitute_from(objects, kustomizations, external)
    yield from check_builds(cluster.builds)


def check_depends_on(items: Sequence[K8sObject], kind: str) -> Iterator[Finding]:
    nodes: dict[Ident, K8sObject] = {}
    for obj in items:
        nodes.setdefault((ns(obj), obj.name), obj)
    edges: dict[Ident, list[tuple[Ident, int]]] = defaultdict(list)
    for ident, obj in nodes.items():
        for i, dep in enumerate(_entries(obj.get("spec", "dependsOn"))):
            target = (str(dep.get("namespace") or ident[0]), str(dep.get("name")))
            if target in nodes:
                edges[ident].append((target, i))
            else:
                yield finding(
                    obj,
                    "flux/dependsOn-unknown",
                    f"dependsOn[{i}]: no {kind} {target[0]}/{target[1]} is applied to the cluster",
                    ("spec", "dependsOn", i),
                )
    for cycle in _cycles(edges):
        first = nodes[cycle[0]]
        index = next(i for target, i in edges[cycle[0]] if target == cycle[1 % len(cycle)])
        chain = " -> ".join(f"{a}/{b}" for a, b in [*cycle, cycle[0]])
        yield finding(
            first,
            "flux/dependsOn-cycle",
            f"dependsOn cycle: {kind} {chain}; none of them can become ready",
            ("spec", "dependsOn", index),
        )


def _entries(value: object) -> Iterator[Mapping[str, object]]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, Mapping) and isinstance(v.get("name"), str))


def _cycles(edges: Mapping[Ident, list[tuple[Ident, int]]]) -> Iterator[list[Ident]]:
    """One shortest cycle per strongly connected component, starting at its smallest member."""
    for component in _components(edges):
        start = min(component)
        if len(component) == 1 and start not in {t for t, _ in edges.get(start, [])}:
            continue
        parents: dict[Ident, Ident] = {}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for target, _ in edges.get(node, []):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    yield path[::-1]
                    queue.clear()
                    break
                if target in component and target not in parents:
                    parents[target] = node
                    queue.append(target)


def _components(edges: Mapping[Ident, list[tuple[Ident, int]]]) -> list[set[Ident]]:
    """Strongly connected components by mutual reachability (dependsOn graphs are small)."""
    reach = {node: _reachable(node, edges) for node in sorted(edges)}
    out: list[set[Ident]] = []
    placed: set[Ident] = set()
    for node in sorted(edges):
        if node not in placed:
            component = {node} | {m for m in reach[node] if node in reach.get(m, set())}
            placed |= component
            out.append(component)
    return out


def _reachable(start: Ident, edges: Mapping[Ident, list[tuple[Ident, int]]]) -> set[Ident]:
    seen: set[Ident] = set()
    stack = [t for t, _ in edges.get(start, [])]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack += [t for t, _ in edges.get(node, [])]
    return seen


def check_source_refs(
    objects: Iterable[K8sObject],
    kustomizations: Iterable[K8sObject],
    releases: Iterable[K8sObject],
    bootstrapped: bool = True,
) -> Iterator[Finding]:
    """Without a bootstrap sync in the repository, the flux-system source is made elsewhere
    (flux bootstrap, the Flux Operator, Terraform/OpenTofu) and counts as defined."""
    sources = {(o.kind, ns(o), o.name) for o in objects if o.group == SOURCE}
    if not bootstrapped:
        sources |= {(kind, "flux-system", "flux-system") for kind in CHECKED_SOURCE_KINDS}
    refs: list[tuple[K8sObject, tuple[str, ...]]] = [
        (k, ("spec", "sourceRef")) for k in kustomizations
    ]
    for release in releases:
        chart_ref = ("spec", "chart", "spec", "sourceRef")
        refs.append((release, chart_ref if release.get(*chart_ref) else ("spec", "chartRef")))
    for obj, path in refs:
        ref = obj.get(*path)
        if not isinstance(ref, Mapping) or ref.get("kind") not in CHECKED_SOURCE_KINDS:
            continue
        target = (str(ref["kind"]), str(ref.get("namespace") or ns(obj)), str(ref.get("name")))
        if target not in sources:
            yield finding(
                obj,
                "flux/sourceRef-unknown",
                f"{path[-1]}: no {target[0]} {target[1]}/{target[2]} is applied to the cluster",
                path,
            )


def check_namespaces(
    objects: Iterable[K8sObject],
    releases: Iterable[K8sObject],
    cluster_kinds: frozenset[str],
    external: External = External(),
) -> Iterator[Finding]:
    """One finding per namespace that objects use but nothing creates, at its first user."""
    created = {o.name for o in objects if o.group == "" and o.kind == "Namespace"}
    created |= {name for kind, _, name in external.objects if kind == "Namespace"}
    users: dict[str, list[tuple[K8sObject, tuple[str, ...]]]] = defaultdict(list)
    for release in releases:
        target = release.get("spec", "targetNamespace")
        if release.get("spec", "install", "createNamespace") is True:
            created.add(str(target or ns(release)))
        elif isinstance(target, str) and target:
            users[target].append((release, ("spec", "targetNamespace")))
    for obj in objects:
        if obj.namespace and not _cluster_scoped(obj.kind, cluster_kinds):
            users[obj.namespace].append((obj, ("metadata", "namespace")))
    for name, used in sorted(users.items()):
        if name in created or name in PRESET_NAMESPACES:
            continue
        used.sort(key=lambda u: (u[0].file, u[0].line or 0, u[0].kind, u[0].name))
        first, path = used[0]
        others = f" (and {len(used) - 1} more object(s))" if len(used) > 1 else ""
        yield finding(
            first,
            "flux/namespace-missing",
            f"namespace {name} is not created by anything applied to the cluster (no Namespace "
            f"object, no HelmRelease install.createNamespace){others}",
            path,
        )


def _cluster_scoped(kind: str, cluster_kinds: frozenset[str]) -> bool:
    """Built-in cluster-scoped kinds, the repository's cluster-scoped CRDs, and by convention
    any Cluster* kind (ClusterIssuer, ClusterPolicy...) whose CRD is not in the repository."""
    return kind in CLUSTER_SCOPED or kind in cluster_kinds or kind.startswith("Cluster")


def made_secrets(objects: Iterable[K8sObject]) -> set[Ident]:
    """(namespace, name) of the Secrets objects of the cluster make: External Secrets'
    ExternalSecret/PushSecret targets, SealedSecrets, 1Password and Bitwarden items..."""
    made: set[Ident] = set()
    for obj in objects:
        if obj.group == "" or obj.kind == "Secret":
            continue
        if obj.kind == "ExternalSecret":
            made.add((ns(obj), str(obj.get("spec", "target", "name") or obj.name)))
        elif obj.kind == "Certificate" and isinstance(obj.get("spec", "secretName"), str):
            made.add((ns(obj), str(obj.get("spec", "secretName"))))
        elif obj.kind in SECRET_MAKERS:
            made.add((ns(obj), obj.name))
    return made


SECRET_MAKERS = frozenset(
    {"SealedSecret", "OnePasswordItem", "BitwardenSecret", "SopsSecret", "VaultStaticSecret",
     "VaultDynamicSecret", "InfisicalSecret"}
)  # fmt: skip


def check_substitute_from(
    objects: Sequence[K8sObject],
    kustomizations: Iterable[K8sObject],
    external: External = External(),
) -> Iterator[Finding]:
    """A missing ConfigMap is an error; a missing Secret a warning: Secrets are often made
    outside Git (bootstrap, an operator), and one the repository acknowledges is fine."""
    defined = {(o.kind, ns(o), o.name) for o in objects if o.group == ""}
    defined |= {("Secret", *ident) for ident in made_secrets(objects)}
    for k in kustomizations:
        refs = k.get("spec", "postBuild", "substituteFrom")
        for i, ref in enumerate(refs if isinstance(refs, list) else []):
            if not isinstance(ref, Mapping) or ref.get("optional") is True:
                continue
            target = (str(ref.get("kind")), ns(k), str(ref.get("name")))
            if target in defined or external.has(*target):
                continue
            secret = target[0] == "Secret"
            yield finding(
                k,
                "flux/substituteFrom-unknown",
                f"postBuild.substituteFrom[{i}]: no {target[0]} {target[1]}/{target[2]} is "
                "applied to the cluster; define it, mark the reference optional: true"
                + (
                    ", or acknowledge it in .freetier-flux.yaml if made outside Git"
                    if secret
                    else ""
                ),
                ("spec", "postBuild", "substituteFrom", i),
                "warning" if secret else None,
            )


def check_builds(builds: Iterable[Build]) -> Iterator[Finding]:
    for build in builds:
        k, shown = build.kustomization, build.path or "."
        if build.status == "path-missing" and not build.error:
            yield finding(
                k,
                "flux/path-missing",
                f"spec.path ./{build.path}: no such folder in the repository",
                ("spec", "path"),
            )
        elif build.status == "path-missing" and build.error:  # in an assembled artifact
            yield finding(
                k,
                "flux/path-missing",
                f"spec.path ./{build.path}: no such folder in the artifact its "
                "ArtifactGenerator assembles from this repository",
                ("spec", "path"),
            )
        elif build.status == "failed":
            yield finding(
                k,
                "kustomize/build-failed",
                f"kustomize build ./{shown}: {build.error}",
                ("spec", "path"),
            )
        elif build.status == "built" and k.get("spec", "decryption", "provider") != "sops":
            files = sorted({o.file for o in build.objects if "sops" in o.body})
            if files:
                listed = ", ".join(files[:3]) + (
                    f" and {len(files) - 3} more" if len(files) > 3 else ""
                )
                yield finding(
                    k,
                    "flux/decryption-missing",
                    f"applies SOPS-encrypted {listed} but has no spec.decryption "
                    "{provider: sops, secretRef: {name: sops-age}}",
                    ("spec",),
                )
