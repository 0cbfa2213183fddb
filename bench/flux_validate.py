"""`flux validate` on a generated tree of 200 Flux Kustomizations, against plain `kubectl
kustomize` over the same 200 paths run one after another.

Prints both times and their ratio, measured in this process (these machines are noisy; best of
a few rounds). The validator builds in a small thread pool, so it should stay within 1.5x of the
bare builds while also parsing, checking schemas and the graph.
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


def best_of(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-flux-") as tmp:
        root = Path(tmp)
        paths = generate(root, APPS)
        result = validate_repo(root)  # warm-up, and the tree must be clean
        if result.findings or result.counts.kustomizations != APPS + 1:
            sys.stdout.write(render_text(result))
            return 1

        def plain() -> None:
            for path in paths:
                run(Command(argv=("kubectl", "kustomize", str(path))))

        kustomize = best_of(plain)
        validator = best_of(lambda: validate_repo(root))
    ratio = validator / kustomize
    print(
        f"flux validate, {APPS} Kustomizations ({result.counts.builds} builds, "
        f"{result.counts.objects} objects, {os.cpu_count()} cores): {validator:.2f}s"
    )
    print(f"kubectl kustomize, same {APPS} paths one by one: {kustomize:.2f}s")
    print(f"ratio: {ratio:.2f} (target <= {TARGET})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
