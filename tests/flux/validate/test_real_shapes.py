"""Small hand-written trees in the layouts real Flux repositories have (flux-operator with a
FluxInstance, Flux 2.7 ArtifactGenerator, multi-tenancy overlays, namespace components,
generator inputs): one test per class of false alarm or crash the validator had on them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freetier.cli import main
from freetier.flux.validate.model import ValidationResult
from freetier.flux.validate.render import render_text
from freetier.flux.validate.run import validate_repo
from tests.flux.validate.conftest import SECRET, sops_encrypt

KS = "kustomize.toolkit.fluxcd.io/v1"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def rules(result: ValidationResult) -> list[tuple[str, str, str]]:
    return [(f.severity, f.rule, f.file) for f in result.findings]


def kustomization(name: str, path: str, extra: str = "", namespace: str = "flux-system") -> str:
    return (
        f"apiVersion: {KS}\nkind: Kustomization\nmetadata:\n  name: {name}\n"
        f"  namespace: {namespace}\nspec:\n  interval: 1h\n  path: {path}\n  prune: true\n"
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
        "    namespace: flux-system\n" + extra
    )


# -- the flux-operator layout (onedr0p-style) ------------------------------------------------

OPERATOR_TREE = {
    # the Flux Operator's instance: the cluster's root is its spec.sync.path
    "kubernetes/apps/flux-system/flux-instance/app/instance.yaml": """\
apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata:
  name: flux
  namespace: flux-system
spec:
  distribution:
    version: 2.x
    registry: ghcr.io/fluxcd
  sync:
    kind: GitRepository
    url: https://github.com/example/home
    ref: refs/heads/main
    path: kubernetes/flux/cluster
""",
    "kubernetes/apps/flux-system/flux-instance/app/kustomization.yaml": (
        "resources:\n  - instance.yaml\n"
    ),
    "kubernetes/apps/flux-system/flux-instance/ks.yaml": kustomization(
        "flux-instance", "./kubernetes/apps/flux-system/flux-instance/app"
    ),
    "kubernetes/apps/flux-system/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - ./flux-instance/ks.yaml\n"
    ),
    # the root: children get their interval and HelmRelease defaults from its patches
    "kubernetes/flux/cluster/ks.yaml": """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster-apps
  namespace: flux-system
spec:
  interval: 1h
  path: ./kubernetes/apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  patches:
    - patch: |-
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: _
        spec:
          interval: 30m
      target:
        group: kustomize.toolkit.fluxcd.io
        kind: Kustomization
""",
    # a namespace folder: the namespace comes from a component renamed by `namespace:`
    "kubernetes/components/namespace/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        "resources:\n  - ./namespace.yaml\n"
    ),
    "kubernetes/components/namespace/namespace.yaml": (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: _\n"
    ),
    "kubernetes/apps/media/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "namespace: media\ncomponents:\n  - ../../components/namespace\n"
        "resources:\n  - ./player/ks.yaml\n"
    ),
    "kubernetes/apps/media/player/ks.yaml": """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: player
spec:
  dependsOn:
    - name: flux-instance
      namespace: flux-system
  path: ./kubernetes/apps/media/player/app
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
    namespace: flux-system
  targetNamespace: media
""",
    "kubernetes/apps/media/player/app/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - ./configmap.yaml\n"
    ),
    "kubernetes/apps/media/player/app/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: player\ndata:\n  a: b\n"
    ),
    "kubernetes/apps/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - ./flux-system\n  - ./media\n"
    ),
}


def test_flux_operator_tree_is_checked_from_its_fluxinstance(tmp_path: Path) -> None:
    """B: the root lives outside its own spec.path; children are checked in the context the
    root gives them (its patches set their interval; the namespace folder creates media;
    dependsOn names a Kustomization one level up)."""
    repo = write(tmp_path, OPERATOR_TREE)
    result = validate_repo(repo)
    assert result.findings == (), render_text(result)
    assert (result.counts.clusters, result.counts.kustomizations) == (1, 4)


def test_flux_instance_as_helm_values_is_a_root(tmp_path: Path) -> None:
    """The flux-instance chart's values carry the sync as `instance.sync`."""
    tree = dict(OPERATOR_TREE)
    tree["kubernetes/apps/flux-system/flux-instance/app/instance.yaml"] = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: flux-instance
spec:
  interval: 1h
  chartRef:
    kind: OCIRepository
    name: flux-instance
  values:
    instance:
      sync:
        kind: GitRepository
        url: https://github.com/example/home
        path: kubernetes/flux/cluster
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: flux-instance
spec:
  interval: 1h
  url: oci://ghcr.io/controlplaneio-fluxcd/charts/flux-instance
"""
    result = validate_repo(write(tmp_path, tree))
    assert result.findings == (), render_text(result)
    assert result.counts.clusters == 1


def test_path_names_the_entry_point(tmp_path: Path) -> None:
    """B: a root applied by a bootstrap script is found with --path; without it the
    repository says once that it found no root."""
    tree = {k: v for k, v in OPERATOR_TREE.items() if "flux-instance/app/instance" not in k}
    tree["kubernetes/apps/flux-system/flux-instance/app/instance.yaml"] = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: placeholder\n"
    )
    repo = write(tmp_path, tree)
    guessed = validate_repo(repo)
    assert [(f.severity, f.rule) for f in guessed.findings] == [("info", "flux/no-root")]
    named = validate_repo(repo, entry_points=["kubernetes/flux/cluster"])
    assert named.findings == (), render_text(named)
    assert (named.counts.clusters, named.counts.kustomizations) == (1, 4)


# -- generator inputs, go-yaml's reading ------------------------------------------------------

GENERATOR_TREE = {
    "clusters/home/flux-system/gotk-sync.yaml": "# written by flux bootstrap\n",
    "clusters/home/apps.yaml": kustomization("apps", "./apps"),
    "apps/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - namespace.yaml\n  - alerts.yaml\n  - release.yaml\n"
        "configMapGenerator:\n  - name: recyclarr\n    namespace: media\n"
        "    files:\n      - config/recyclarr.yml\n"
    ),
    "apps/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n",
    # a generator input with a custom tag: data, not a Kubernetes object
    "apps/config/recyclarr.yml": "sonarr:\n  main:\n    api_key: !env_var SONARR_KEY\n",
    # `matchType: =` (PyYAML's YAML 1.1 `value` type; a string to go-yaml and kustomize)
    "apps/alerts.yaml": """\
apiVersion: monitoring.coreos.com/v1alpha1
kind: AlertmanagerConfig
metadata:
  name: alerts
  namespace: media
spec:
  route:
    matchers:
      - name: severity
        matchType: =
        value: critical
""",
    # an anchor defined twice: legal, the later one wins
    "apps/release.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: &name first
  namespace: media
data:
  a: *name
  b: &name second
  c: *name
""",
    # not taken in by any Kustomization: never read as an object
    "ansible/templates/node.yml": "{% for x in y %}\nkey: [\n",
    "mkdocs.yml": "nav: !!python/name:material.extensions.emoji.twemoji\n",
}


def test_generator_inputs_custom_tags_anchors_and_equals(tmp_path: Path) -> None:
    """A: what stopped the run with exit 2 now reads as go-yaml reads it."""
    result = validate_repo(write(tmp_path, GENERATOR_TREE))
    assert result.findings == (), render_text(result)
    assert result.counts.broken == 1  # the Ansible template: never read


def test_twice_defined_anchor_resolves_to_the_later_one(tmp_path: Path) -> None:
    from freetier.flux.validate.discover import discover
    from freetier.flux.validate.documents import scan_repo

    repo = write(tmp_path, GENERATOR_TREE)
    found = discover(scan_repo(repo), kubectl="kubectl", workers=2)
    config = next(
        o for o in found.clusters[0].objects if o.kind == "ConfigMap" and o.name == "first"
    )
    assert config.body["data"] == {"a": "first", "b": "second", "c": "second"}
    alerts = next(o for o in found.clusters[0].objects if o.kind == "AlertmanagerConfig")
    assert alerts.get("spec", "route", "matchers", 0, "matchType") == "="


# -- Flux 2.7 ArtifactGenerator ----------------------------------------------------------------

ARTIFACT_TREE = {
    "clusters/prod/flux-system/gotk-sync.yaml": "# written by flux bootstrap\n",
    "clusters/prod/artifacts.yaml": """\
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata:
  name: flux-system
  namespace: flux-system
spec:
  sources:
    - alias: repo
      kind: GitRepository
      name: flux-system
  artifacts:
    - name: apps
      copy:
        - from: "@repo/apps/base/**"
          to: "@artifact/base/"
        - from: "@repo/apps/prod/**"
          to: "@artifact/prod/"
""",
    "clusters/prod/apps.yaml": """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 1h
  sourceRef:
    kind: ExternalArtifact
    name: apps
  path: ./prod
  prune: true
""",
    "apps/base/web/kustomization.yaml": "resources:\n  - namespace.yaml\n  - deploy.yaml\n",
    "apps/base/web/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n",
    "apps/base/web/deploy.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: web\n"
        "data:\n  replicas: '1'\n"
    ),
    "apps/prod/kustomization.yaml": "resources:\n  - ../base/web\n",
}


def test_artifact_generator_copy_folder_is_built(tmp_path: Path) -> None:
    """C: the Kustomization's path is in the artifact its generator assembles from this
    repository; objects point back at the repository's files."""
    from freetier.flux.validate.discover import discover
    from freetier.flux.validate.documents import scan_repo

    repo = write(tmp_path, ARTIFACT_TREE)
    result = validate_repo(repo)
    assert result.findings == (), render_text(result)
    found = discover(scan_repo(repo), kubectl="kubectl", workers=2)
    config = next(o for o in found.clusters[0].objects if o.kind == "ConfigMap")
    assert (config.file, config.line) == ("apps/base/web/deploy.yaml", 1)


def test_artifact_path_missing_is_an_error_of_the_artifact(tmp_path: Path) -> None:
    tree = dict(ARTIFACT_TREE)
    tree["clusters/prod/apps.yaml"] = tree["clusters/prod/apps.yaml"].replace(
        "./prod", "./production"
    )
    result = validate_repo(write(tmp_path, tree))
    assert rules(result) == [("error", "flux/path-missing", "clusters/prod/apps.yaml")]
    assert "no such folder in the artifact" in result.findings[0].message


def test_sources_outside_the_repository_are_one_info_line(tmp_path: Path) -> None:
    """C: an OCIRepository of someone else's manifests is not a folder of this repository."""
    tree = dict(GENERATOR_TREE)
    tree["clusters/home/vendor.yaml"] = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: vendor
  namespace: flux-system
spec:
  interval: 1h
  url: oci://ghcr.io/vendor/manifests
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: vendor
  namespace: flux-system
spec:
  interval: 1h
  path: ./deploy
  prune: true
  sourceRef:
    kind: OCIRepository
    name: vendor
"""
    result = validate_repo(write(tmp_path, tree))
    assert rules(result) == [("info", "flux/source-external", "clusters/home/vendor.yaml")]
    assert result.exit_code == 0


# -- multi-tenancy overlays ---------------------------------------------------------------------


def test_path_left_out_and_set_by_an_overlay_patch(tmp_path: Path) -> None:
    """D: spec.path is optional; the overlay's patch sets it."""
    tree = {
        "clusters/prod/flux-system/gotk-sync.yaml": "# written by flux bootstrap\n",
        "clusters/prod/tenants.yaml": kustomization("tenants", "./tenants/prod"),
        "tenants/base/team/kustomization.yaml": (
            "namespace: team\nresources:\n  - namespace.yaml\n  - sync.yaml\n"
        ),
        "tenants/base/team/namespace.yaml": (
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n"
        ),
        "tenants/base/team/sync.yaml": (
            f"apiVersion: {KS}\nkind: Kustomization\nmetadata:\n  name: team\n"
            "spec:\n  interval: 5m\n  prune: true\n"
            "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
            "    namespace: flux-system\n"
        ),
        "tenants/prod/kustomization.yaml": (
            "resources:\n  - ../base/team\npatches:\n  - path: patch.yaml\n"
        ),
        "tenants/prod/patch.yaml": (
            f"apiVersion: {KS}\nkind: Kustomization\nmetadata:\n  name: team\n"
            "  namespace: team\nspec:\n  path: ./team/prod\n"
        ),
        "team/prod/cm.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: team\n"
        ),
    }
    result = validate_repo(write(tmp_path, tree))
    assert result.findings == (), render_text(result)
    assert result.counts.kustomizations == 3


# -- severities and acknowledgement -------------------------------------------------------------

SECRET_REF_TREE = {
    **GENERATOR_TREE,
    "clusters/home/apps.yaml": kustomization(
        "apps",
        "./apps",
        "  postBuild:\n    substituteFrom:\n      - kind: Secret\n        name: cluster-secrets\n",
    ),
}


def test_secret_made_outside_is_a_warning(tmp_path: Path) -> None:
    """E: a Secret nothing here makes is a warning (exit 0), an error with --strict."""
    repo = write(tmp_path, SECRET_REF_TREE)
    result = validate_repo(repo)
    assert rules(result) == [("warning", "flux/substituteFrom-unknown", "clusters/home/apps.yaml")]
    assert result.exit_code == 0
    assert validate_repo(repo, strict=True).exit_code == 1


def test_acknowledged_external_secret_is_fine(tmp_path: Path) -> None:
    repo = write(tmp_path, SECRET_REF_TREE)
    (repo / ".freetier-flux.yaml").write_text(
        "external:\n  - kind: Secret\n    name: cluster-secrets\n    namespace: flux-system\n"
        "    reason: created by the bootstrap script\n"
    )
    result = validate_repo(repo)
    assert result.findings == (), render_text(result)
    assert result.acknowledged == 1


def test_bad_acknowledgement_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = write(tmp_path, SECRET_REF_TREE)
    (repo / ".freetier-flux.yaml").write_text("external:\n  - kind: Secret\n")
    assert main(["flux", "validate", str(repo)]) == 2
    assert ".freetier-flux.yaml:2: external[0]: kind and name are required" in (
        capsys.readouterr().err
    )


def test_sarif_levels_follow_severity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = write(tmp_path, SECRET_REF_TREE)
    assert main(["flux", "validate", str(repo), "--format", "sarif"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert [r["level"] for r in run["results"]] == ["warning"]
    assert main(["flux", "validate", str(repo), "--strict", "--format", "json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert (body["exit_code"], body["severities"]["warning"]) == (1, 1)


# -- secrets ------------------------------------------------------------------------------------


def test_references_placeholders_and_empty_values_are_not_plaintext(tmp_path: Path) -> None:
    """F: op:// and vault references, ${VAR} placeholders, "" in a SOPS file."""
    tree = dict(GENERATOR_TREE)
    tree["apps/kustomization.yaml"] = tree["apps/kustomization.yaml"].replace(
        "  - release.yaml\n", "  - release.yaml\n  - secret.yaml\n  - sops-empty.yaml\n"
    )
    tree["apps/secret.yaml"] = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: refs\n  namespace: media\n"
        "stringData:\n  token: op://vault/item/token\n  url: postgres://${DB_USER}@db\n"
        "  other: vault:secret/data/x#key\n"
    )
    tree["apps/sops-empty.yaml"] = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: empty\n  namespace: media\n"
        "stringData:\n  unset: ''\n"
        "sops:\n  mac: ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]\n  version: 3.9.0\n"
    )
    result = validate_repo(write(tmp_path, tree))
    assert [f.rule for f in result.findings if f.rule == "secret/plaintext"] == []
    assert {f.rule for f in result.findings} <= {"sops/recipients", "flux/decryption-missing"}


def test_secret_generator_over_a_sops_yaml_file_is_encrypted(repo: Path) -> None:
    """F: kustomize base64-encodes the whole SOPS file; Flux decrypts it."""
    configs = repo / "infrastructure/configs"
    # the fixture's creation rule encrypts keys under data/stringData
    (configs / "creds.sops.yaml").write_text("data:\n  user: admin\n  password: hunter2\n")
    sops_encrypt(repo, "infrastructure/configs/creds.sops.yaml")
    text = (configs / "kustomization.yaml").read_text()
    (configs / "kustomization.yaml").write_text(
        text + "secretGenerator:\n  - name: creds\n    namespace: cert-manager\n"
        "    files:\n      - creds.yaml=creds.sops.yaml\n"
    )
    result = validate_repo(repo)
    assert result.findings == (), render_text(result)


def test_sops_config_one_level_up(repo: Path) -> None:
    """H: sops finds .sops.yaml in a parent folder; so does the recipients check."""
    (repo / ".sops.yaml").rename(repo.parent / ".sops.yaml")
    result = validate_repo(repo)
    assert result.findings == (), render_text(result)
    assert (repo / SECRET).is_file()


# -- substitution ---------------------------------------------------------------------------


def test_nested_defaults_and_unknowable_values(tmp_path: Path) -> None:
    """G: `${A:=${B}}` as Flux reads it; a value from a Secret made outside the repository
    stays a placeholder that schema checks do not fail on."""
    tree = {
        "clusters/home/flux-system/gotk-sync.yaml": "# written by flux bootstrap\n",
        "clusters/home/apps.yaml": kustomization(
            "apps",
            "./apps",
            "  postBuild:\n    substitute:\n      APP: web\n"
            "    substituteFrom:\n      - kind: Secret\n        name: cluster-secrets\n"
            "        optional: true\n",
        ),
        "apps/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n",
        "apps/deploy.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${NAME:=${APP}}
  namespace: web
spec:
  replicas: ${REPLICAS}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx
""",
    }
    from freetier.flux.validate.discover import discover
    from freetier.flux.validate.documents import scan_repo

    repo = write(tmp_path, tree)
    result = validate_repo(repo)
    assert result.findings == (), render_text(result)
    found = discover(scan_repo(repo), kubectl="kubectl", workers=2)
    deploy = next(o for o in found.clusters[0].objects if o.kind == "Deployment")
    assert deploy.name == "web"
    assert deploy.get("spec", "replicas") == "${REPLICAS}"


def test_strict_substitution_fails_a_variable_without_value(tmp_path: Path) -> None:
    tree = {
        "clusters/home/flux-system/gotk-sync.yaml": "# written by flux bootstrap\n",
        "clusters/home/apps.yaml": kustomization(
            "apps", "./apps", "  postBuild:\n    substitute:\n      APP: web\n"
        ),
        "apps/cm.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${APP}\ndata:\n  host: ${HOST}\n"
        ),
    }
    repo = write(tmp_path, tree)
    assert validate_repo(repo).findings == ()
    strict = validate_repo(repo, strict_substitution=True)
    assert rules(strict) == [("error", "kustomize/build-failed", "clusters/home/apps.yaml")]
    assert 'variable not set (strict mode): "HOST"' in strict.findings[0].message
