"""Every chart and upstream manifest version the Flux tree pins: this table and nowhere else.

Renovate bumps them through the `# renovate:` comment above each version (a regex manager
matching `# renovate: datasource=... depName=... [registryUrl=...]` followed by
`version="..."` or `tag="..."`). The HelmReleases read these constants; a bump here and
`freetier flux render` move the tree.

Cilium is the one exception: its version is `versions.cilium` in stack.yaml, because Talos
bootstraps the same release before Flux exists (see `freetier.talos.cilium`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartSource:
    """A Helm repository (a `HelmRepository` in flux-system) and one chart in it."""

    chart: str
    repository: str
    url: str


@dataclass(frozen=True)
class PinnedChart:
    source: ChartSource
    version: str


@dataclass(frozen=True)
class GitManifests:
    """Plain manifests in a tagged Git repository (a `GitRepository` in flux-system)."""

    repository: str
    url: str
    tag: str
    path: str
    image: str | None = None  # the one image the manifests run, pinned to `tag` by Flux

    def release_asset(self, name: str) -> str:
        return f"{self.url}/releases/download/{self.tag}/{name}"


CILIUM = ChartSource(chart="cilium", repository="cilium", url="https://helm.cilium.io/")

CERT_MANAGER = PinnedChart(
    ChartSource(chart="cert-manager", repository="jetstack", url="https://charts.jetstack.io"),
    # renovate: datasource=helm depName=cert-manager registryUrl=https://charts.jetstack.io
    version="v1.21.2",
)

TAILSCALE_OPERATOR = PinnedChart(
    ChartSource(
        chart="tailscale-operator",
        repository="tailscale",
        url="https://pkgs.tailscale.com/helmcharts",
    ),
    # renovate: datasource=helm depName=tailscale-operator registryUrl=https://pkgs.tailscale.com/helmcharts
    version="1.98.9",
)

GRAFANA_ALLOY = PinnedChart(
    ChartSource(chart="alloy", repository="grafana", url="https://grafana.github.io/helm-charts"),
    # renovate: datasource=helm depName=alloy registryUrl=https://grafana.github.io/helm-charts
    version="1.11.1",
)

# Oracle publishes no Helm chart for its cloud controller manager, only manifests in the
# repository and on each release; Flux applies the tagged folder, Talos the release assets.
OCI_CCM = GitManifests(
    repository="oci-cloud-controller-manager",
    url="https://github.com/oracle/oci-cloud-controller-manager",
    # renovate: datasource=github-tags depName=oracle/oci-cloud-controller-manager
    tag="v1.33.2",
    path="./manifests/cloud-controller-manager",
    image="ghcr.io/oracle/cloud-provider-oci",
)

# The Gateway API CRDs Cilium's Gateway controller needs before its operator starts. Cilium
# 1.20 implements Gateway API v1.6.1 (the Cilium 1.20.0 release notes: "Cilium moves from
# Gateway API v1.4 to v1.6.1"). Talos applies the release's standard-install.yaml at bootstrap
# (cluster.extraManifests); Flux keeps the same CRDs from the tagged folder afterwards.
GATEWAY_API = GitManifests(
    repository="gateway-api",
    url="https://github.com/kubernetes-sigs/gateway-api",
    # renovate: datasource=github-tags depName=kubernetes-sigs/gateway-api
    tag="v1.6.1",
    path="./config/crd/standard",
)

PINNED_CHARTS: tuple[PinnedChart, ...] = (CERT_MANAGER, TAILSCALE_OPERATOR, GRAFANA_ALLOY)
