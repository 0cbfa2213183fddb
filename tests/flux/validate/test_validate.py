"""The clean example repository passes; each rule catches its fault, injected alone into a copy."""

from __future__ import annotations

import shutil
from pathlib import Path

from freetier.flux.validate.model import Finding, ValidationResult
from freetier.flux.validate.render import render_text
from freetier.flux.validate.run import validate_repo
from tests.flux.validate.conftest import SECRET, SOPS_CONFIG, edit, new_recipient

INFRA_PROD = "clusters/production/infrastructure.yaml"
APPS_PROD = "clusters/production/apps.yaml"
CERT_MANAGER = "infrastructure/controllers/cert-manager.yaml"


def only(result: ValidationResult, rule: str, file: str, obj: str) -> Finding:
    """The result holds exactly one finding, of `rule`, in `file`, about `obj`."""
    assert [(f.rule, f.file, f.object_ref) for f in result.findings] == [(rule, file, obj)], (
        render_text(result)
    )
    finding = result.findings[0]
    assert finding.line and finding.line >= 1
    return finding


def test_clean_repository_has_no_findings(repo: Path) -> None:
    result = validate_repo(repo)
    assert result.findings == (), render_text(result)
    assert result.exit_code == 0
    counts = result.counts
    assert (counts.clusters, counts.kustomizations, counts.builds) == (2, 8, 6)
    assert counts.flux_checked == 22  # 11 Flux objects per cluster
    assert counts.k8s_checked == 20  # namespaces, ConfigMap, Secret, Deployment, Service, Ingress
    assert counts.skipped == 2  # the ClusterIssuer, once per cluster


def test_postbuild_substitution_is_applied_per_cluster(repo: Path) -> None:
    from freetier.flux.validate.discover import discover
    from freetier.flux.validate.documents import scan_repo

    found = discover(scan_repo(repo), kubectl="kubectl", workers=2)
    replicas = {
        c.name: [o.get("spec", "replicas") for o in c.objects if o.kind == "Deployment"]
        for c in found.clusters
    }
    assert replicas == {"clusters/production": [2], "clusters/staging": [1]}


def test_repository_bootstrapped_from_outside(repo: Path) -> None:
    """No flux-system sync in Git (Terraform or a script made it): each folder of
    Kustomizations no other applies is built as a cluster's root, said once as info, and the
    flux-system source counts as made."""
    for cluster in ("production", "staging"):
        shutil.rmtree(repo / f"clusters/{cluster}/flux-system")
    result = validate_repo(repo)
    assert [(f.rule, f.severity) for f in result.findings] == [("flux/no-root", "info")]
    assert "clusters/production, clusters/staging" in result.findings[0].message
    assert result.exit_code == 0
    # two synthetic roots (the folders) and the 6 Kustomizations they apply
    assert (result.counts.clusters, result.counts.kustomizations) == (2, 8)


def test_unapplied_kustomizations_are_counted_not_built(repo: Path) -> None:
    stray = repo / "examples/clusters/demo"
    stray.mkdir(parents=True)
    (stray / "apps.yaml").write_text(
        (repo / APPS_PROD).read_text().replace("./apps/production", "./apps/demo")
    )
    result = validate_repo(repo)
    assert result.findings == (), render_text(result)
    assert result.counts.unapplied == 1


def test_removed_flux_api(repo: Path) -> None:
    edit(repo, CERT_MANAGER, "helm.toolkit.fluxcd.io/v2\n", "helm.toolkit.fluxcd.io/v2beta1\n")
    found = only(
        validate_repo(repo),
        "flux/removed-api",
        CERT_MANAGER,
        "HelmRelease/cert-manager/cert-manager",
    )
    assert "use apiVersion: helm.toolkit.fluxcd.io/v2" in found.message
    assert found.line == 15


def test_flux_schema_required_field(repo: Path) -> None:
    sync = "clusters/production/flux-system/gotk-sync.yaml"
    edit(repo, sync, "  interval: 1m0s\n", "")
    found = only(validate_repo(repo), "flux/schema", sync, "GitRepository/flux-system/flux-system")
    assert found.message == "spec.interval: required field is missing"


def test_flux_schema_unknown_field_and_type(repo: Path) -> None:
    edit(repo, INFRA_PROD, "  prune: true\n  wait: true\n", '  prune: "true"\n  wiat: true\n')
    result = validate_repo(repo)
    messages = sorted(f.message for f in result.findings)
    assert {f.rule for f in result.findings} == {"flux/schema"}, render_text(result)
    assert messages[0].startswith("spec.prune: Input should be a valid boolean")
    assert messages[1].startswith("spec.wiat: unknown field")


def test_kubernetes_schema(repo: Path) -> None:
    deployment = "apps/base/echo/deployment.yaml"
    edit(repo, deployment, "          ports:\n", "          port:\n")
    found = only(validate_repo(repo), "k8s/schema", deployment, "Deployment/echo/echo")
    assert "'port' was unexpected" in found.message
    assert found.message.startswith("spec.template.spec.containers[0]:")


def test_kubernetes_api_not_served(repo: Path) -> None:
    ingress = "apps/base/echo/ingress.yaml"
    edit(repo, ingress, "networking.k8s.io/v1\n", "networking.k8s.io/v1beta1\n")
    found = only(validate_repo(repo), "k8s/api-unknown", ingress, "Ingress/echo/echo")
    assert "served: networking.k8s.io/v1" in found.message


def test_kustomize_build_failure(repo: Path) -> None:
    edit(
        repo,
        "apps/staging/kustomization.yaml",
        "  - ../base/echo\n",
        "  - ../base/echo\n  - ../base/nope\n",
    )
    found = only(
        validate_repo(repo),
        "kustomize/build-failed",
        "clusters/staging/apps.yaml",
        "Kustomization/flux-system/apps",
    )
    assert "apps/base/nope" in found.message


def test_path_missing(repo: Path) -> None:
    edit(repo, APPS_PROD, "path: ./apps/production", "path: ./apps/prod")
    found = only(
        validate_repo(repo), "flux/path-missing", APPS_PROD, "Kustomization/flux-system/apps"
    )
    assert found.message == "spec.path ./apps/prod: no such folder in the repository"


def test_depends_on_unknown(repo: Path) -> None:
    edit(repo, APPS_PROD, "- name: infra-configs", "- name: infra-config")
    found = only(
        validate_repo(repo), "flux/dependsOn-unknown", APPS_PROD, "Kustomization/flux-system/apps"
    )
    assert "flux-system/infra-config " in found.message


def test_depends_on_namespace_aware(repo: Path) -> None:
    ingress = "infrastructure/controllers/ingress-nginx.yaml"
    edit(repo, ingress, "      namespace: cert-manager\n", "")  # now looks in ingress-nginx
    found = only(
        validate_repo(repo),
        "flux/dependsOn-unknown",
        ingress,
        "HelmRelease/ingress-nginx/ingress-nginx",
    )
    assert "HelmRelease ingress-nginx/cert-manager" in found.message


def test_depends_on_cycle(repo: Path) -> None:
    infra = "clusters/staging/infrastructure.yaml"
    edit(
        repo,
        infra,
        "  name: infra-controllers\n  namespace: flux-system\nspec:\n",
        "  name: infra-controllers\n  namespace: flux-system\nspec:\n"
        "  dependsOn:\n    - name: apps\n",
    )
    found = only(
        validate_repo(repo),
        "flux/dependsOn-cycle",
        "clusters/staging/apps.yaml",
        "Kustomization/flux-system/apps",
    )
    assert (
        "flux-system/apps -> flux-system/infra-configs -> flux-system/infra-controllers -> "
        "flux-system/apps" in found.message
    )


def test_source_ref_unknown(repo: Path) -> None:
    edit(repo, CERT_MANAGER, "        name: cert-manager\n", "        name: cert-manger\n")
    found = only(
        validate_repo(repo),
        "flux/sourceRef-unknown",
        CERT_MANAGER,
        "HelmRelease/cert-manager/cert-manager",
    )
    assert "HelmRepository cert-manager/cert-manger" in found.message


def test_namespace_nothing_creates(repo: Path) -> None:
    edit(repo, "apps/base/echo/kustomization.yaml", "  - namespace.yaml\n", "")
    found = only(
        validate_repo(repo),
        "flux/namespace-missing",
        "apps/base/echo/deployment.yaml",
        "Deployment/echo/echo",
    )
    assert found.message.startswith("namespace echo is not created")


def test_substitute_from_unknown(repo: Path) -> None:
    edit(repo, APPS_PROD, "name: cluster-vars", "name: cluster-settings")
    found = only(
        validate_repo(repo),
        "flux/substituteFrom-unknown",
        APPS_PROD,
        "Kustomization/flux-system/apps",
    )
    assert "ConfigMap flux-system/cluster-settings" in found.message


def test_sops_content_without_decryption(repo: Path) -> None:
    edit(
        repo,
        INFRA_PROD,
        "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n",
        "",
    )
    found = only(
        validate_repo(repo),
        "flux/decryption-missing",
        INFRA_PROD,
        "Kustomization/flux-system/infra-configs",
    )
    assert SECRET in found.message


def test_plaintext_secret(repo: Path) -> None:
    (repo / "apps/base/echo/secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: echo-auth\n"
        "stringData:\n  password: hunter2\n"
    )
    edit(
        repo,
        "apps/base/echo/kustomization.yaml",
        "  - service.yaml\n",
        "  - service.yaml\n  - secret.yaml\n",
    )
    found = only(
        validate_repo(repo),
        "secret/plaintext",
        "apps/base/echo/secret.yaml",
        "Secret/echo/echo-auth",
    )
    assert "stringData.password" in found.message
    assert found.line == 6


def test_sops_recipient_not_in_creation_rule(repo: Path) -> None:
    other = new_recipient()
    (repo / ".sops.yaml").write_text(SOPS_CONFIG.format(recipient=other))
    found = only(validate_repo(repo), "sops/recipients", SECRET, "Secret/cert-manager/dns-token")
    assert "not listed in .sops.yaml creation_rules[0]" in found.message
    assert other in found.message  # ... and the rule's recipient the file lacks


def test_sops_file_no_creation_rule_matches(repo: Path) -> None:
    edit(repo, ".sops.yaml", ".*\\.sops\\.yaml$", "^secrets/.*\\.yaml$")
    found = only(validate_repo(repo), "sops/recipients", SECRET, "Secret/cert-manager/dns-token")
    assert "no .sops.yaml creation rule matches" in found.message


def test_extra_checks_see_the_index(repo: Path) -> None:
    def no_nodeport(index):  # type: ignore[no-untyped-def]
        for release in index.find(kind="HelmRelease", name="ingress-nginx"):
            if release.get("spec", "values", "controller", "service", "type") == "NodePort":
                yield index.finding(
                    release,
                    "example/nodeport",
                    "NodePort",
                    "spec",
                    "values",
                    "controller",
                    "service",
                    "type",
                )

    result = validate_repo(repo, extra_checks=[no_nodeport])
    found = only(
        result,
        "example/nodeport",
        "infrastructure/controllers/ingress-nginx.yaml",
        "HelmRelease/ingress-nginx/ingress-nginx",
    )
    assert found.line == 37  # the `type: NodePort` line


def test_kubernetes_version_from_stack_yaml(repo: Path) -> None:
    (repo / "stack.yaml").write_text("name: demo\nversions:\n  kubernetes: v1.30.2\n")
    assert validate_repo(repo).kubernetes_version == "1.30"
    assert validate_repo(repo, kubernetes_version="1.99").kubernetes_version == "1.37"
