"""`flux validate` on three generated trees, against plain `kubectl kustomize` over the same
folders run one after another:

- flat: one bootstrap sync and 200 Flux Kustomizations, each a small overlay;
- home-ops: the shape of a real home-ops repository (a FluxInstance root, a parent that
  patches its children and substitutes a cluster variable, namespace folders that take a
  namespace component, 120 apps with a shared component, postBuild variables and a
  configMapGenerator);
- home-ops-patches: the same, where the parent also gives every child Kustomization
  `spec.patches` for its HelmRelease (what real home-ops repositories do, and what makes a
  kustomize build load its OpenAPI schema: ~2.4x the time of the plain build of the folder).

Prints the times of each round and the ratio of the best rounds, measured in this process
(these machines are noisy). The validator builds each distinct context once, several contexts
per `kubectl kustomize` run where their outputs cannot mix, in a small thread pool, so it
should stay within 1.5x of the bare builds while also parsing, substituting and checking.
Target: validator <= 1.5 x kubectl kustomize. Run: .venv/bin/python bench/flux_validate.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from freetier.command import Command, run
from freetier.flux.validate.render import render_text
from freetier.flux.validate.run import validate_repo

APPS = 200
ROUNDS = 3
TARGET = 1.5

SYNC = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/example/bench
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m
  path: ./clusters/bench
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
---
apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
"""

APP_KUSTOMIZATION = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: app-{n:03d}
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps/app-{n:03d}
  prune: true
  wait: true
  targetNamespace: app-{n:03d}
  sourceRef:
    kind: GitRepository
    name: flux-system
"""

FILES = {
    "kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - namespace.yaml
  - deployment.yaml
  - service.yaml
labels:
  - pairs:
      app.kubernetes.io/name: app-{n:03d}
""",
    "namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app-{n:03d}\n",
    "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
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
          image: ghcr.io/example/web:1.{n}
          ports:
            - containerPort: 8080
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
""",
    "service.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
""",
}


def generate(root: Path, apps: int) -> list[Path]:
    """The tree: one bootstrap sync, `apps` Kustomizations, each with a small overlay."""
    (root / "clusters/bench/flux-system").mkdir(parents=True)
    (root / "clusters/bench/flux-system/gotk-sync.yaml").write_text(SYNC)
    (root / "clusters/bench/apps.yaml").write_text(
        "---\n".join(APP_KUSTOMIZATION.format(n=n) for n in range(apps))
    )
    paths = []
    for n in range(apps):
        folder = root / f"apps/app-{n:03d}"
        folder.mkdir(parents=True)
        for name, text in FILES.items():
            (folder / name).write_text(text.format(n=n))
        paths.append(folder)
    return paths


NAMESPACES = 20
APPS_PER_NAMESPACE = 6

HOME_FILES = {
    "kubernetes/apps/flux-system/instance.yaml": """\
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
    url: https://github.com/example/home-ops
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
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-settings
  patches:
    - patch: |-
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: _
        spec:
          interval: 30m
          prune: true
          postBuild:
            substitute:
              CLUSTER: ${CLUSTER}
      target:
        group: kustomize.toolkit.fluxcd.io
        kind: Kustomization
""",
    "kubernetes/flux/cluster/settings.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-settings\n"
        "  namespace: flux-system\ndata:\n  CLUSTER: home\n"
    ),
    "kubernetes/flux/cluster/kustomization.yaml": "resources:\n  - ks.yaml\n  - settings.yaml\n",
    "kubernetes/components/namespace/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        "resources:\n  - namespace.yaml\n"
    ),
    "kubernetes/components/namespace/namespace.yaml": (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: _\n"
    ),
    "kubernetes/components/common/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        "resources:\n  - settings.yaml\n"
    ),
    "kubernetes/components/common/settings.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${APP}-settings\n"
        "data:\n  cluster: ${CLUSTER}\n  app: ${APP}\n  tier: ${TIER:=${APP}-web}\n"
    ),
}

HOME_APP_KS = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {app}
spec:
  path: ./kubernetes/apps/{ns}/{app}/app
  components:
    - ../../../../components/common
  sourceRef:
    kind: GitRepository
    name: flux-system
    namespace: flux-system
  targetNamespace: {ns}
  postBuild:
    substitute:
      APP: {app}
"""

# What the parent adds to every child in home-ops-patches: HelmRelease defaults.
CHILD_PATCHES = """\
          patches:
            - patch: |-
                apiVersion: helm.toolkit.fluxcd.io/v2
                kind: HelmRelease
                metadata:
                  name: _
                spec:
                  install:
                    crds: CreateReplace
                  upgrade:
                    cleanupOnFail: true
                    remediation:
                      retries: 2
              target:
                group: helm.toolkit.fluxcd.io
                kind: HelmRelease
"""

CHART_SOURCE = """\
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
"""

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
  values:
    cluster: ${CLUSTER}
"""

HOME_APP_FILES = {
    "kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
configMapGenerator:
  - name: {app}-config
    files:
      - config.yml
generatorOptions:
  disableNameSuffixHash: true
""",
    "config.yml": "server:\n  port: 8080\n  key: !env_var KEY\n",
    "deployment.yaml": FILES["deployment.yaml"],
    "service.yaml": FILES["service.yaml"],
}


def generate_home(root: Path, child_patches: bool = False) -> list[Path]:
    """The home-ops tree; the folders Flux builds (root, apps, namespaces, each app). With
    `child_patches`, the parent gives every app's Kustomization `spec.patches` for the
    HelmRelease each app then holds."""
    files = dict(HOME_FILES)
    if child_patches:
        ks = "kubernetes/flux/cluster/ks.yaml"
        marker = "          postBuild:\n"
        files[ks] = files[ks].replace(marker, CHILD_PATCHES + marker)
        files["kubernetes/flux/cluster/chart.yaml"] = CHART_SOURCE
        files["kubernetes/flux/cluster/kustomization.yaml"] = (
            "resources:\n  - ks.yaml\n  - settings.yaml\n  - chart.yaml\n"
        )
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    apps = root / "kubernetes/apps"
    namespaces = [f"ns-{i:02d}" for i in range(NAMESPACES)]
    (apps / "kustomization.yaml").write_text(
        "resources:\n" + "".join(f"  - ./{ns}\n" for ns in namespaces)
    )
    paths = [root / "kubernetes/flux/cluster", apps]
    for ns in namespaces:
        names = [f"{ns}-app-{j}" for j in range(APPS_PER_NAMESPACE)]
        (apps / ns).mkdir()
        (apps / ns / "kustomization.yaml").write_text(
            f"namespace: {ns}\ncomponents:\n  - ../../components/namespace\nresources:\n"
            + "".join(f"  - ./{app}/ks.yaml\n" for app in names)
        )
        for app in names:
            folder = apps / ns / app / "app"
            folder.mkdir(parents=True)
            (apps / ns / app / "ks.yaml").write_text(HOME_APP_KS.format(app=app, ns=ns))
            for name, text in HOME_APP_FILES.items():
                (folder / name).write_text(text.replace("{app}", app).replace("{n}", "1"))
            if child_patches:
                (folder / "helmrelease.yaml").write_text(HELMRELEASE.replace("{app}", app))
                kfile = folder / "kustomization.yaml"
                kfile.write_text(
                    kfile.read_text().replace(
                        "  - service.yaml\n", "  - service.yaml\n  - helmrelease.yaml\n"
                    )
                )
            paths.append(folder)
    return paths


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def shown(times: list[float]) -> str:
    return "/".join(f"{t:.2f}" for t in times) + "s"


def measure(name: str, make: Callable[[Path], list[Path]], kustomizations: int) -> float:
    """The ratio validator / plain builds for one generated tree."""
    with tempfile.TemporaryDirectory(prefix="bench-flux-") as tmp:
        root = Path(tmp)
        paths = make(root)
        result = validate_repo(root)  # warm-up, and the tree must be clean
        if result.findings or result.counts.kustomizations != kustomizations:
            sys.stdout.write(render_text(result))
            raise SystemExit(f"{name}: the generated tree is not clean")

        def plain() -> None:
            for path in paths:
                run(Command(argv=("kubectl", "kustomize", str(path), "--load-restrictor",
                                  "LoadRestrictionsNone")))  # fmt: skip

        kustomize, validator = [], []
        for _ in range(ROUNDS):  # interleaved, so a burst of load hits both
            kustomize.append(timed(plain))
            validator.append(timed(lambda: validate_repo(root)))
    ratio = min(validator) / min(kustomize)
    each = "/".join(f"{v / k:.2f}" for v, k in zip(validator, kustomize, strict=True))
    print(
        f"{name}: flux validate, {result.counts.kustomizations} Kustomizations "
        f"({result.counts.builds} build contexts, {result.counts.objects} objects, "
        f"{os.cpu_count()} cores): {shown(validator)}; kubectl kustomize, the same "
        f"{len(paths)} folders one by one: {shown(kustomize)}; ratio of the best rounds "
        f"{ratio:.2f}, per round {each} "
        f"(target <= {TARGET})"
    )
    return ratio


def main() -> int:
    flat = measure("flat", lambda root: generate(root, APPS), APPS + 1)
    # the synthetic root, cluster-apps, 20 namespace folders' apps... : every Kustomization
    home = measure("home-ops", generate_home, 2 + NAMESPACES * APPS_PER_NAMESPACE)
    patched = measure(
        "home-ops-patches",
        lambda root: generate_home(root, child_patches=True),
        2 + NAMESPACES * APPS_PER_NAMESPACE,
    )
    return 0 if max(flat, home, patched) <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
