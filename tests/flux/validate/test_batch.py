"""Build contexts sharing `kubectl kustomize` runs give exactly what each built alone gives.

Each tree is validated twice, batched and with every context in a run of its own; every build
(status, error, objects with their file, line and body, in order) and every finding must be the
same. A kubectl wrapper records each run, so each test also sees that a batch really ran."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from freetier.flux.validate.batch import entangled, plan, repository_allows, split
from freetier.flux.validate.discover import Discovered, discover
from freetier.flux.validate.documents import scan_repo
from freetier.flux.validate.kustomize import BuildRequest, Resolver
from freetier.flux.validate.render import render_json
from freetier.flux.validate.run import validate_repo
from tests.flux.validate.test_real_shapes import (
    ARTIFACT_TREE,
    GENERATOR_TREE,
    OPERATOR_TREE,
    SECRET_REF_TREE,
    write,
)

# -- a home-ops tree: a FluxInstance root whose child Kustomization patches every app's
# Kustomization with `spec.patches` for its HelmReleases (the shape that made builds slow) ----

ROOT = {
    "kubernetes/flux-instance.yaml": """\
apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata:
  name: flux
  namespace: flux-system
spec:
  distribution:
    version: 2.x
  sync:
    kind: GitRepository
    url: https://github.com/example/home
    path: kubernetes/flux/cluster
""",
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
          patches:
            - patch: |-
                apiVersion: helm.toolkit.fluxcd.io/v2
                kind: HelmRelease
                metadata:
                  name: _
                spec:
                  install:
                    crds: CreateReplace
              target:
                group: helm.toolkit.fluxcd.io
                kind: HelmRelease
      target:
        group: kustomize.toolkit.fluxcd.io
        kind: Kustomization
""",
    "kubernetes/flux/cluster/source.yaml": """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: app-chart
  namespace: flux-system
spec:
  interval: 1h
  url: oci://ghcr.io/example/charts/app
  ref:
    tag: 1.0.0
""",
}

HELMRELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {app}
spec:
  interval: 1h
  chartRef:
    kind: OCIRepository
    name: app-chart
    namespace: flux-system
"""

APP_KS = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {app}
  namespace: flux-system
spec:
  path: ./kubernetes/apps/{app}/app
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  targetNamespace: {app}
{extra}"""


def home_tree(
    apps: dict[str, dict[str, str]], extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The root, and per app (its name is its namespace) a Kustomization and the files of its
    folder; a folder without a kustomization.yaml gets a HelmRelease and one listing it."""
    files = dict(ROOT)
    listed = []
    for app, app_files in apps.items():
        listed.append(f"  - ./{app}/ks.yaml\n  - ./{app}/namespace.yaml\n")
        files[f"kubernetes/apps/{app}/ks.yaml"] = APP_KS.format(
            app=app, extra=(extra or {}).get(app, "")
        )
        files[f"kubernetes/apps/{app}/namespace.yaml"] = (
            f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {app}\n"
        )
        folder = {
            "helmrelease.yaml": HELMRELEASE.format(app=app),
            "kustomization.yaml": "resources:\n  - helmrelease.yaml\n",
            **app_files,
        }
        for name, text in folder.items():
            files[f"kubernetes/apps/{app}/app/{name}"] = text
    files["kubernetes/apps/kustomization.yaml"] = "resources:\n" + "".join(listed)
    return files


def component(name: str, configmap: str) -> dict[str, str]:
    """A component holding one ConfigMap, as files of an app's folder (kubernetes/components)."""
    return {
        f"../../../components/{name}/kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
            "resources:\n  - settings.yaml\n"
        ),
        f"../../../components/{name}/settings.yaml": (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {configmap}\n"
        ),
    }


# -- running both ways -------------------------------------------------------------------


@pytest.fixture
def kubectl(tmp_path: Path) -> tuple[str, Path]:
    """The real kubectl behind a wrapper that logs the folder each run builds."""
    real = shutil.which("kubectl")
    assert real is not None
    log = tmp_path / "kubectl.log"
    shim = tmp_path / "bin" / "kubectl"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$2" >> {log}\nexec {real} "$@"\n')
    shim.chmod(0o755)
    return str(shim), log


def builds(found: Discovered) -> list[tuple[Any, ...]]:
    """Every build: where, what became of it, and its objects in order (file, line, body)."""
    return sorted(
        (
            cluster.name,
            b.kustomization.file,
            b.kustomization.name,
            b.path,
            b.status,
            b.error,
            json.dumps([(o.file, o.doc.line if o.doc else 0, o.body) for o in b.objects]),
        )
        for cluster in found.clusters
        for b in cluster.builds
    )


def both_ways(repo: Path, kubectl: tuple[str, Path]) -> tuple[Discovered, list[str]]:
    """Batched and alone must agree on every build and finding; the batched discovery, and the
    folders its kubectl runs built."""
    shim, log = kubectl
    scan = scan_repo(repo)
    batched = discover(scan, kubectl=shim, workers=1)  # one worker: contexts in one batch
    runs = log.read_text().split() if log.exists() else []
    alone = discover(scan, kubectl=shim, workers=1, batch=False)
    assert builds(batched) == builds(alone)
    with_batches = json.loads(render_json(validate_repo(repo, kubectl=shim)))
    without = json.loads(render_json(validate_repo(repo, kubectl=shim, batch=False)))
    assert with_batches == without
    return batched, runs


def batch_runs(runs: list[str]) -> int:
    return sum(1 for folder in runs if Path(folder).name.startswith("batch-"))


def objects_of(found: Discovered, name: str) -> list[dict[str, Any]]:
    return [o.body for c in found.clusters for b in c.builds if b.kustomization.name == name
            for o in b.objects]  # fmt: skip


# -- the same findings, batched or not ---------------------------------------------------


def test_parent_patches_on_children_are_batched(tmp_path: Path, kubectl: tuple[str, Path]) -> None:
    """The real shape: four apps in four namespaces, each with the HelmRelease patch its
    parent gives it, one of them merged with a component; built in one run."""
    apps: dict[str, dict[str, str]] = {"alpha": {}, "beta": {}, "gamma": {}, "delta": {}}
    apps["delta"] = {
        "kustomization.yaml": "resources:\n  - helmrelease.yaml\n",
        **component("extra", "delta-settings"),
    }
    extra = {"delta": "  components:\n    - ../../../components/extra\n"}
    repo = write(tmp_path / "repo", home_tree(apps, extra))
    found, runs = both_ways(repo, kubectl)
    assert batch_runs(runs) == 1
    assert len(runs) == 3  # the root, the apps folder, one batch of the four apps
    (release,) = objects_of(found, "gamma")
    assert release["metadata"]["namespace"] == "gamma"
    assert release["spec"]["install"] == {"crds": "CreateReplace"}
    assert [o["kind"] for o in objects_of(found, "delta")] == ["ConfigMap", "HelmRelease"]


def test_name_reference_across_contexts_is_built_alone(
    tmp_path: Path, kubectl: tuple[str, Path]
) -> None:
    """A ClusterRole naming `settings` next to another context's generated ConfigMap
    `settings` (renamed with a hash): in one build kustomize would rewrite the ClusterRole's
    reference to the other context's ConfigMap."""
    apps = {
        "alpha": {
            "kustomization.yaml": (
                "resources:\n  - helmrelease.yaml\n"
                "configMapGenerator:\n  - name: settings\n    literals:\n      - a=b\n"
            )
        },
        "beta": {
            "kustomization.yaml": "resources:\n  - helmrelease.yaml\n  - role.yaml\n",
            "role.yaml": (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
                "  name: beta-reader\nrules:\n  - apiGroups: ['']\n    resources: [configmaps]\n"
                "    resourceNames: [settings]\n    verbs: [get]\n"
            ),
        },
    }
    repo = write(tmp_path / "repo", home_tree(apps))
    found, runs = both_ways(repo, kubectl)
    assert batch_runs(runs) == 1 and len(runs) == 4  # root, apps, the batch, beta again alone
    (role,) = [o for o in objects_of(found, "beta") if o["kind"] == "ClusterRole"]
    assert role["rules"][0]["resourceNames"] == ["settings"]
    (generated,) = [o for o in objects_of(found, "alpha") if o["kind"] == "ConfigMap"]
    assert generated["metadata"]["name"].startswith("settings-")


def test_top_only_fields_keep_their_build_alone(tmp_path: Path, kubectl: tuple[str, Path]) -> None:
    """A folder merged with Flux's fields (a component) whose own sortOptions keep the order
    of its resources: below a batch root kustomize would sort them its legacy way."""
    apps = {
        "alpha": {},
        "gamma": {},
        "beta": {
            "kustomization.yaml": (
                "sortOptions:\n  order: fifo\n"
                "resources:\n  - service.yaml\n  - helmrelease.yaml\n  - serviceaccount.yaml\n"
            ),
            "service.yaml": (
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n"
                "  ports:\n    - port: 80\n"
            ),
            "serviceaccount.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n",
            **component("settings", "settings"),
        },
    }
    extra = {"beta": "  components:\n    - ../../../components/settings\n"}
    repo = write(tmp_path / "repo", home_tree(apps, extra))
    found, runs = both_ways(repo, kubectl)
    assert batch_runs(runs) == 1 and len(runs) == 4  # root, apps, alpha and gamma, beta alone
    kinds = [o["kind"] for o in objects_of(found, "beta")]
    assert kinds == ["Service", "HelmRelease", "ServiceAccount", "ConfigMap"]


def test_objects_with_the_same_id_fall_back_to_builds_alone(
    tmp_path: Path, kubectl: tuple[str, Path]
) -> None:
    """Two contexts that both make the ClusterRole `shared`: kustomize refuses the batch, and
    each is built alone, with its own objects."""
    role = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
        "  name: shared\nrules: []\n"
    )
    both = {"kustomization.yaml": "resources:\n  - helmrelease.yaml\n  - role.yaml\n",
            "role.yaml": role}  # fmt: skip
    repo = write(tmp_path / "repo", home_tree({"alpha": both, "beta": dict(both)}))
    found, runs = both_ways(repo, kubectl)
    assert batch_runs(runs) == 1 and len(runs) == 5  # root, apps, the batch, two alone
    for app in ("alpha", "beta"):
        assert sorted(o["kind"] for o in objects_of(found, app)) == ["ClusterRole", "HelmRelease"]


def test_a_failing_context_reports_its_own_error(tmp_path: Path, kubectl: tuple[str, Path]) -> None:
    """A context that names a missing file, batched with a sound one: its error is kustomize's
    own, as built alone, and the sound one is built."""
    apps = {
        "alpha": {},
        "beta": {"kustomization.yaml": "resources:\n  - helmrelease.yaml\n  - missing.yaml\n"},
    }
    repo = write(tmp_path / "repo", home_tree(apps))
    found, runs = both_ways(repo, kubectl)
    assert batch_runs(runs) == 1 and len(runs) == 5  # root, apps, the batch, two alone
    failed = [b for c in found.clusters for b in c.builds if b.status == "failed"]
    assert [b.kustomization.name for b in failed] == ["beta"]
    assert "missing.yaml" in failed[0].error and "batch-" not in failed[0].error
    assert [o["kind"] for o in objects_of(found, "alpha")] == ["HelmRelease"]


@pytest.mark.parametrize(
    "tree",
    [OPERATOR_TREE, GENERATOR_TREE, ARTIFACT_TREE, SECRET_REF_TREE],
    ids=["operator", "generator-inputs", "artifact-generator", "secret-refs"],
)
def test_real_shape_trees_agree(
    tree: dict[str, str], tmp_path: Path, kubectl: tuple[str, Path]
) -> None:
    both_ways(write(tmp_path / "repo", tree), kubectl)


def test_flux2_example_agrees(repo: Path, kubectl: tuple[str, Path]) -> None:
    both_ways(repo, kubectl)


# -- the parts -----------------------------------------------------------------------------


def request(path: str, namespace: str = "", patches: str = "[]", base: str = "") -> BuildRequest:
    return BuildRequest(path=path, target_namespace=namespace, patches=patches, base=base)


def test_plan_separates_namespaces_and_paths() -> None:
    requests = [
        request("a1", "a"), request("a2", "a"), request("b1", "b"), request("c1", "c"),
        request("a1", "c2"), request("x"),
        request("k", "k", patches='[{"options": {"allowKindChange": true}}]'),
        request("d1", "d", base="/tmp/artifact"), request("e1", "e", base="/tmp/other"),
    ]  # fmt: skip
    batches = plan(requests, workers=1, sources={"", "/tmp/artifact"})
    assert batches == [[0, 2, 3, 7], [1, 4], [5], [6], [8]]
    assert plan(requests, workers=1, sources=()) == [[i] for i in range(9)]


def test_plan_gives_every_worker_a_batch() -> None:
    requests = [request(f"p{i}", f"n{i}") for i in range(8)]
    assert plan(requests, workers=4) == [[0, 1], [2, 3], [4, 5], [6, 7]]


DOC = """\
apiVersion: v1
kind: ConfigMap
metadata:
  annotations:
    build.freetier.invalid/context: c{i}
    config.kubernetes.io/origin: |
      path: x.yaml
  name: x{i}
  namespace: n{i}
"""


def test_split_gives_each_context_its_documents_without_the_mark() -> None:
    out = split(DOC.format(i=3) + "---\n" + DOC.format(i=5) + "---\n" + DOC.format(i=3), [3, 5])
    unmarked = DOC.replace("    build.freetier.invalid/context: c{i}\n", "")
    assert out == {3: [unmarked.format(i=3)] * 2, 5: [unmarked.format(i=5)]}


@pytest.mark.parametrize(
    "text",
    [
        DOC.format(i=3).replace("    build.freetier.invalid/context: c3\n", ""),  # no mark
        DOC.format(i=3).replace("c3\n", "c3\n    build.freetier.invalid/context: c3\n"),
        DOC.format(i=9),  # not a context of this batch
        "kind: A\nmetadata:\n  annotations:\n    build.freetier.invalid/context: c3\n  name: a\n",
    ],
    ids=["unmarked", "marked-twice", "other-batch", "only-the-mark"],
)
def test_split_refuses_what_it_cannot_give_back_exactly(text: str) -> None:
    assert split(text, [3, 5]) is None


def marked(kind: str, namespace: str = "") -> str:
    ns = f"  namespace: {namespace}\n" if namespace else ""
    return f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: x\n{ns}spec:\n  namespace: y\n"


@pytest.mark.parametrize(
    ("mine", "theirs", "alone"),
    [
        ((marked("ClusterRole"),), (marked("ConfigMap", "a"),), {1}),
        ((marked("Deployment", "b"),), (marked("ConfigMap", "a"),), set()),
        ((marked("Deployment", "b"),), (marked("PriorityClass"),), {1}),
        ((marked("PersistentVolumeClaim", "b"),), (marked("StorageClass"),), {1}),
        ((marked("RoleBinding", "b"),), (marked("ServiceAccount", "a"),), {1}),
        ((marked("HelmRelease", "b"),), (marked("ConfigMap", "a"),), set()),
        ((marked("Deployment", "b"),), (marked("ConfigMap", "b"),), {1}),
        (("metadata:\n  name: x\n",), (marked("ConfigMap", "a"),), {1, 2}),
        ((marked("Deployment"),), (marked("ConfigMap", "a"),), {1}),
    ],
    ids=["cluster-referrer", "other-namespace", "cluster-target", "storage-class",
         "role-binding", "not-a-referrer", "same-namespace", "kind-unknown",
         "without-namespace"],
)  # fmt: skip
def test_entangled_contexts(
    mine: tuple[str, ...], theirs: tuple[str, ...], alone: set[int]
) -> None:
    assert entangled({1: mine, 2: theirs}) == alone


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("resources:\n  - a.yaml\n  - missing.yaml\n  - ../nowhere/\n", True),
        ("resources:\n  - https://github.com/example/base?ref=v1\n", False),
        ("resources:\n  - github.com/example/base//deploy?ref=v1\n", False),
        ("components:\n  - git@github.com:example/base.git\n", False),
        ("resources:\n  - a.yaml\nvars:\n  - name: A\n", False),
        ("configurations:\n  - conf.yaml\n", False),
        ("openapi:\n  path: schema.json\n", False),
        ("patches:\n  - path: a.yaml\n    options:\n      allowKindChange: true\n", False),
        ("resources: [a.yaml\n", False),
    ],
    ids=[
        "local",
        "remote",
        "remote-short",
        "remote-ssh",
        "vars",
        "configurations",
        "openapi",
        "kind-change",
        "unparsable",
    ],
)
def test_repository_allows(tmp_path: Path, text: str, allowed: bool) -> None:
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "a.yaml").write_text("kind: ConfigMap\n")
    (tmp_path / "deep" / "kustomization.yaml").write_text(text)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "kustomization.yaml").write_text("vars: [x]\n")  # not the source
    assert repository_allows(tmp_path) is allowed


def test_resolver_resolves_as_realpath_and_remembers(tmp_path: Path) -> None:
    """A build folder joined with kustomize's cleaned origin path (`..` in front), through a
    link, as a mirror has them."""
    (tmp_path / "repo" / "app").mkdir(parents=True)
    (tmp_path / "repo" / "app" / "hr.yaml").write_text("kind: HelmRelease\n")
    (tmp_path / "work" / "build").mkdir(parents=True)
    (tmp_path / "work" / "build" / "app").symlink_to(tmp_path / "repo" / "app")
    resolve = Resolver()
    path = tmp_path / "work" / "batch" / ".." / "build" / "app" / "hr.yaml"
    assert resolve(path) == str(tmp_path / "repo" / "app" / "hr.yaml")
    (tmp_path / "work" / "build" / "app").unlink()  # remembered: no second look
    assert resolve(path) == str(tmp_path / "repo" / "app" / "hr.yaml")
