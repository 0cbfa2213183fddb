"""Models of the GA Flux APIs a Flux tree is made of, and the removed versions to move off.

GA: source.toolkit.fluxcd.io/v1 (GitRepository, HelmRepository, OCIRepository: v1 since Flux
2.6), kustomize.toolkit.fluxcd.io/v1 (Kustomization), helm.toolkit.fluxcd.io/v2 (HelmRelease).
Spec fields follow the controllers' Go types; unknown fields are errors (the API server prunes
or rejects them), values are strict (`prune: "true"` or `version: 1.2` are wrong types).
Nested blocks Flux evolves often (install, upgrade, verify, patches...) are typed loosely.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from freetier.flux.validate.documents import K8sObject
from freetier.flux.validate.model import Finding, dotted, finding
from freetier.flux.validate.substitute import placeholder

SOURCE = "source.toolkit.fluxcd.io"
KUSTOMIZE = "kustomize.toolkit.fluxcd.io"
HELM = "helm.toolkit.fluxcd.io"
NOTIFICATION = "notification.toolkit.fluxcd.io"
IMAGE = "image.toolkit.fluxcd.io"

DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
Duration = Annotated[str, Field(pattern=DURATION)]
ShortDuration = Annotated[str, Field(pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$")]
Name = Annotated[str, Field(min_length=1, max_length=253)]
Loose = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LocalRef(_Strict):
    name: Name


class Dependency(_Strict):
    name: Name
    namespace: str | None = None
    readyExpr: str | None = None


class KustomizationSourceRef(_Strict):
    apiVersion: str | None = None
    kind: Literal["OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"]
    name: Name
    namespace: str | None = None


class Decryption(_Strict):
    provider: Literal["sops"]
    serviceAccountName: str | None = None
    secretRef: LocalRef | None = None


class SubstituteReference(_Strict):
    kind: Literal["Secret", "ConfigMap"]
    name: Name
    optional: bool = False


class PostBuild(_Strict):
    substitute: dict[str, str] | None = None
    substituteFrom: list[SubstituteReference] | None = None


class CommonMetadata(_Strict):
    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None


class KustomizationSpec(_Strict):
    interval: Duration
    sourceRef: KustomizationSourceRef
    prune: bool
    path: str | None = None
    retryInterval: Duration | None = None
    timeout: Duration | None = None
    dependsOn: list[Dependency] | None = None
    decryption: Decryption | None = None
    postBuild: PostBuild | None = None
    commonMetadata: CommonMetadata | None = None
    kubeConfig: Loose | None = None
    deletionPolicy: Literal["MirrorPrune", "Delete", "WaitForTermination", "Orphan"] | None = None
    healthChecks: list[Loose] | None = None
    healthCheckExprs: list[Loose] | None = None
    driftIgnoreRules: list[Loose] | None = None
    namePrefix: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    nameSuffix: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    patches: list[Loose] | None = None
    images: list[Loose] | None = None
    components: list[str] | None = None
    ignoreMissingComponents: bool | None = None
    serviceAccountName: str | None = None
    targetNamespace: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    suspend: bool | None = None
    force: bool | None = None
    wait: bool | None = None


class GitRepositoryRef(_Strict):
    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    name: str | None = None
    commit: str | None = None


class GitRepositorySpec(_Strict):
    url: Annotated[str, Field(pattern=r"^(http|https|ssh)://.*$")]
    interval: Duration
    ref: GitRepositoryRef | None = None
    secretRef: LocalRef | None = None
    provider: Literal["generic", "aws", "azure", "github"] | None = None
    serviceAccountName: str | None = None
    timeout: ShortDuration | None = None
    verify: Loose | None = None
    proxySecretRef: LocalRef | None = None
    ignore: str | None = None
    suspend: bool | None = None
    recurseSubmodules: bool | None = None
    include: list[Loose] | None = None
    sparseCheckout: list[str] | None = None


class HelmRepositorySpec(_Strict):
    url: Annotated[str, Field(pattern=r"^(http|https|oci)://.*$")]
    interval: Duration | None = None
    type: Literal["default", "oci"] | None = None
    provider: Literal["generic", "aws", "azure", "gcp"] | None = None
    secretRef: LocalRef | None = None
    certSecretRef: LocalRef | None = None
    passCredentials: bool | None = None
    insecure: bool | None = None
    timeout: ShortDuration | None = None
    suspend: bool | None = None
    accessFrom: Loose | None = None

    @model_validator(mode="after")
    def _oci_url(self) -> HelmRepositorySpec:
        if self.type == "oci" and not self.url.startswith("oci://"):
            raise ValueError("type: oci needs a url that starts with oci://")
        return self


class OCIRepositoryRef(_Strict):
    digest: str | None = None
    semver: str | None = None
    semverFilter: str | None = None
    tag: str | None = None


class LayerSelector(_Strict):
    mediaType: str | None = None
    operation: Literal["extract", "copy"] | None = None


class OCIRepositorySpec(_Strict):
    url: Annotated[str, Field(pattern=r"^oci://.*$")]
    interval: Duration
    ref: OCIRepositoryRef | None = None
    layerSelector: LayerSelector | None = None
    provider: Literal["generic", "aws", "azure", "gcp"] | None = None
    secretRef: LocalRef | None = None
    verify: Loose | None = None
    serviceAccountName: str | None = None
    certSecretRef: LocalRef | None = None
    proxySecretRef: LocalRef | None = None
    timeout: ShortDuration | None = None
    ignore: str | None = None
    insecure: bool | None = None
    suspend: bool | None = None


class ChartSourceRef(_Strict):
    apiVersion: str | None = None
    kind: Literal["HelmRepository", "GitRepository", "Bucket"]
    name: Name
    namespace: str | None = None


class ChartTemplateSpec(_Strict):
    chart: Annotated[str, Field(min_length=1, max_length=2048)]
    sourceRef: ChartSourceRef
    version: str | None = None
    interval: Duration | None = None
    reconcileStrategy: Literal["ChartVersion", "Revision"] | None = None
    valuesFiles: list[str] | None = None
    ignoreMissingValuesFiles: bool | None = None
    verify: Loose | None = None


class ChartTemplate(_Strict):
    spec: ChartTemplateSpec
    metadata: CommonMetadata | None = None


class ChartRef(_Strict):
    apiVersion: str | None = None
    kind: Literal["OCIRepository", "HelmChart", "ExternalArtifact"]
    name: Name
    namespace: str | None = None


class ValuesReference(_Strict):
    kind: Literal["Secret", "ConfigMap"]
    name: Name
    valuesKey: str | None = None
    targetPath: str | None = None
    optional: bool | None = None


class HelmReleaseSpec(_Strict):
    interval: Duration
    chart: ChartTemplate | None = None
    chartRef: ChartRef | None = None
    releaseName: Annotated[str, Field(min_length=1, max_length=53)] | None = None
    targetNamespace: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    storageNamespace: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    dependsOn: list[Dependency] | None = None
    timeout: Duration | None = None
    maxHistory: int | None = None
    serviceAccountName: str | None = None
    persistentClient: bool | None = None
    kubeConfig: Loose | None = None
    suspend: bool | None = None
    driftDetection: Loose | None = None
    install: Loose | None = None
    upgrade: Loose | None = None
    test: Loose | None = None
    rollback: Loose | None = None
    uninstall: Loose | None = None
    valuesFrom: list[ValuesReference] | None = None
    values: Loose | None = None
    postRenderers: list[Loose] | None = None
    commonMetadata: CommonMetadata | None = None
    healthCheckExprs: list[Loose] | None = None
    waitStrategy: Loose | None = None

    @model_validator(mode="after")
    def _one_chart(self) -> HelmReleaseSpec:
        if (self.chart is None) == (self.chartRef is None):
            raise ValueError("set exactly one of chart (chart.spec with a sourceRef) or chartRef")
        return self


MODELS: dict[tuple[str, str, str], type[_Strict]] = {
    (SOURCE, "v1", "GitRepository"): GitRepositorySpec,
    (SOURCE, "v1", "HelmRepository"): HelmRepositorySpec,
    (SOURCE, "v1", "OCIRepository"): OCIRepositorySpec,
    (KUSTOMIZE, "v1", "Kustomization"): KustomizationSpec,
    (HELM, "v2", "HelmRelease"): HelmReleaseSpec,
}

_REMOVED: dict[tuple[str, str], str] = {
    (SOURCE, "v1alpha1"): "v1",
    (SOURCE, "v1beta1"): "v1",
    (SOURCE, "v1beta2"): "v1",
    (KUSTOMIZE, "v1alpha1"): "v1",
    (KUSTOMIZE, "v1beta1"): "v1",
    (KUSTOMIZE, "v1beta2"): "v1",
    (HELM, "v2alpha1"): "v2",
    (HELM, "v2beta1"): "v2",
    (HELM, "v2beta2"): "v2",
    (IMAGE, "v1alpha1"): "v1",
    (IMAGE, "v1alpha2"): "v1",
    (IMAGE, "v1beta1"): "v1",
    (IMAGE, "v1beta2"): "v1",
    (NOTIFICATION, "v1beta1"): "v1beta3",
    (NOTIFICATION, "v1beta2"): "v1beta3",
}


def replacement_version(group: str, version: str, kind: str) -> str | None:
    """The apiVersion to use instead of a removed or deprecated Flux one, else None."""
    if group == NOTIFICATION and kind == "Receiver" and version != "v1":
        return f"{NOTIFICATION}/v1"
    new = _REMOVED.get((group, version))
    return f"{group}/{new}" if new else None


def check_removed(obj: K8sObject) -> Iterator[Finding]:
    new = replacement_version(obj.group, obj.version, obj.kind)
    if new is not None:
        yield finding(
            obj,
            "flux/removed-api",
            f"{obj.api_version} is deprecated or removed from Flux; use apiVersion: {new}",
            ("apiVersion",),
        )


def check_model(obj: K8sObject) -> list[Finding] | None:
    """Findings of the GA model for `obj`, or None when no model covers its kind/version."""
    model = MODELS.get((obj.group, obj.version, obj.kind))
    if model is None:
        return None
    spec = obj.get("spec")
    if spec is None:
        return [finding(obj, "flux/schema", "spec: required field is missing", ())]
    try:
        model.model_validate(spec)
    except ValidationError as exc:
        return list(_problems(obj, exc.errors()))
    return []


def _problems(obj: K8sObject, errors: list[ErrorDetails]) -> Iterator[Finding]:
    seen: set[tuple[str | int, ...]] = set()
    for err in errors:
        loc = tuple(err["loc"])
        if loc in seen or placeholder(err.get("input")):
            continue
        seen.add(loc)
        path = ("spec", *loc)
        yield finding(obj, "flux/schema", f"{dotted(path)}: {_message(err)}", path)


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (a typo, or a field of another API version?)"
    if kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == DURATION:
        return f"must be a duration such as 10m or 1h30m (got {err['input']!r})"
    if kind == "value_error":
        return str(err.get("ctx", {}).get("error", err["msg"]))
    return f"{err['msg']} (got {err['input']!r})"
