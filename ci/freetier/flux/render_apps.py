"""apps/: `base/<app>/` once; `<cluster>/` overlays with the cluster's secrets and values. Pure.

Helm values merge in this order (later wins): the generated defaults (base), then the
user-owned `apps/<cluster>/values/<app>.yaml`, which freetier creates once and never touches.
"""

from __future__ import annotations

from typing import Any

from freetier.charts import GRAFANA_ALLOY
from freetier.flux.render_common import (
    Document,
    helm_release,
    helm_repository,
    kustomization_file,
    namespace,
)
from freetier.flux.render_yaml import dump_document, yaml_file
from freetier.secrets.model import SecretKey, SecretSpec
from freetier.stack.model import Stack

APPS = "apps"
MONITORING_NAMESPACE = "monitoring"
ALLOY = "grafana-alloy"
CLUSTER_INFO = "cluster-info"
GRAFANA_CLOUD_SECRET = "grafana-cloud"  # noqa: S105 - a Secret's name

# kustomize does not know HelmRelease: teach it to rename generated ConfigMaps (hash suffix)
# in `valuesFrom`, so a values change rolls the release.
KUSTOMIZE_CONFIG: Document = {
    "nameReference": [
        {
            "kind": "ConfigMap",
            "version": "v1",
            "fieldSpecs": [{"kind": "HelmRelease", "path": "spec/valuesFrom/name"}],
        }
    ]
}

GRAFANA_CLOUD_KEYS = (
    SecretKey(
        "prometheus_url",
        "https://prometheus.invalid/api/prom/push",
        "Prometheus remote-write URL (Grafana Cloud stack details)",
    ),
    SecretKey("prometheus_username", "000000", "Prometheus instance ID (a number)"),
    SecretKey(
        "loki_url",
        "https://logs.invalid/loki/api/v1/push",
        "Loki push URL (Grafana Cloud stack details)",
    ),
    SecretKey("loki_username", "000000", "Loki instance ID (a number)"),
    SecretKey("token", "REPLACE_ME", "access policy token with metrics:write and logs:write"),
)

# Metrics kept (Grafana Cloud's free tier counts active series).
METRIC_ALLOWLIST = (
    "up|kubelet_running_pods|kubelet_running_containers"
    "|kubelet_volume_stats_(available|capacity|used)_bytes"
    "|container_cpu_usage_seconds_total|container_memory_working_set_bytes"
    "|container_network_(receive|transmit)_bytes_total"
)

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def apps_secret_specs(stack: Stack) -> tuple[SecretSpec, ...]:
    if not stack.apps.grafana_alloy:
        return ()
    return (
        SecretSpec(
            name=GRAFANA_CLOUD_SECRET,
            namespace=MONITORING_NAMESPACE,
            path=f"{APPS}/{stack.name}/{GRAFANA_CLOUD_SECRET}.sops.yaml",
            keys=GRAFANA_CLOUD_KEYS,
            purpose="Grafana Cloud endpoints and access policy token for Alloy",
        ),
    )


def render_apps(stack: Stack) -> dict[str, str]:
    overlay = f"{APPS}/{stack.name}"
    files: dict[str, str] = {}
    resources: list[str] = []
    fields: dict[str, Any] = {}
    if stack.apps.grafana_alloy:
        files.update(_alloy_base())
        resources += [f"../base/{ALLOY}", f"{GRAFANA_CLOUD_SECRET}.sops.yaml"]
        fields["configMapGenerator"] = [
            {
                "literals": [f"name={stack.name}"],
                "name": CLUSTER_INFO,
                "namespace": MONITORING_NAMESPACE,
                # Read through env valueFrom inside Helm values: kustomize cannot rename it.
                "options": {"disableNameSuffixHash": True},
            },
            {
                "files": [f"values.yaml=values/{ALLOY}.yaml"],
                "name": f"{ALLOY}-values",
                "namespace": MONITORING_NAMESPACE,
            },
        ]
        fields["configurations"] = ["kustomizeconfig.yaml"]
        files[f"{overlay}/kustomizeconfig.yaml"] = yaml_file([KUSTOMIZE_CONFIG])
    files[f"{overlay}/kustomization.yaml"] = yaml_file([kustomization_file(resources, **fields)])
    return files


def apps_seed_files(stack: Stack) -> dict[str, str]:
    """User-owned files created once when missing and never rewritten: the values overlays."""
    if not stack.apps.grafana_alloy:
        return {}
    return {
        f"{APPS}/{stack.name}/values/{ALLOY}.yaml": (
            "# Your Helm values for Grafana Alloy on this cluster. They are merged over the\n"
            f"# generated defaults (apps/base/{ALLOY}/values.yaml); freetier never rewrites\n"
            "# this folder. Example:\n"
            "#   alloy:\n"
            "#     resources:\n"
            "#       requests: {cpu: 50m, memory: 128Mi}\n"
            "{}\n"
        )
    }


def _alloy_base() -> dict[str, str]:
    base = f"{APPS}/base/{ALLOY}"
    release = helm_release(
        ALLOY,
        MONITORING_NAMESPACE,
        GRAFANA_ALLOY.source,
        GRAFANA_ALLOY.version,
        values_from=[
            {"kind": "ConfigMap", "name": f"{ALLOY}-defaults", "valuesKey": "values.yaml"},
            {
                "kind": "ConfigMap",
                "name": f"{ALLOY}-values",
                "optional": True,
                "valuesKey": "values.yaml",
            },
        ],
    )
    kustomization = kustomization_file(
        ["namespace.yaml", "repository.yaml", "release.yaml"],
        configMapGenerator=[
            {
                "files": ["values.yaml"],
                "name": f"{ALLOY}-defaults",
                "namespace": MONITORING_NAMESPACE,
            }
        ],
        configurations=["kustomizeconfig.yaml"],
    )
    # The pods read /var/log from the host: Talos' default `baseline` policy forbids hostPath.
    labels = {"pod-security.kubernetes.io/enforce": "privileged"}
    return {
        f"{base}/kustomization.yaml": yaml_file([kustomization]),
        f"{base}/kustomizeconfig.yaml": yaml_file([KUSTOMIZE_CONFIG]),
        f"{base}/namespace.yaml": yaml_file([namespace(MONITORING_NAMESPACE, labels)]),
        f"{base}/repository.yaml": yaml_file([helm_repository(GRAFANA_ALLOY.source)]),
        f"{base}/release.yaml": yaml_file([release]),
        f"{base}/values.yaml": _header_only() + dump_document(_alloy_values()),
    }


def _header_only() -> str:
    return (
        "# Generated by `freetier flux render`: the default Helm values of Grafana Alloy.\n"
        "# Override them in apps/<cluster>/values/grafana-alloy.yaml, not here.\n"
    )


def _secret_env(name: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"key": key, "name": GRAFANA_CLOUD_SECRET}}}


def _alloy_values() -> dict[str, Any]:
    env = [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {
            "name": "CLUSTER_NAME",
            "valueFrom": {"configMapKeyRef": {"key": "name", "name": CLUSTER_INFO}},
        },
        _secret_env("GRAFANA_CLOUD_PROMETHEUS_URL", "prometheus_url"),
        _secret_env("GRAFANA_CLOUD_PROMETHEUS_USERNAME", "prometheus_username"),
        _secret_env("GRAFANA_CLOUD_LOKI_URL", "loki_url"),
        _secret_env("GRAFANA_CLOUD_LOKI_USERNAME", "loki_username"),
        _secret_env("GRAFANA_CLOUD_TOKEN", "token"),
    ]
    return {
        "alloy": {
            "configMap": {"content": alloy_config()},
            "enableReporting": False,
            "extraEnv": env,
            "mounts": {"varlog": True},
        },
        "controller": {"type": "daemonset"},
        "crds": {"create": False},
    }


def alloy_config() -> str:
    """Each Alloy pod (a DaemonSet) ships its own node's kubelet metrics and pod logs."""
    return f"""// Generated by freetier: this node's kubelet and cAdvisor metrics and pod logs,
// to Grafana Cloud. Endpoints and token come from the {GRAFANA_CLOUD_SECRET} Secret, the
// cluster name from the {CLUSTER_INFO} ConfigMap (both in apps/<cluster>/).

discovery.kubernetes "node" {{
  role = "node"
  selectors {{
    role  = "node"
    field = "metadata.name=" + sys.env("NODE_NAME")
  }}
}}

discovery.relabel "kubelet" {{
  targets = discovery.kubernetes.node.targets
  rule {{
    target_label = "__address__"
    replacement  = "kubernetes.default.svc:443"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_node_name"]
    target_label  = "__metrics_path__"
    replacement   = "/api/v1/nodes/$1/proxy/metrics"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_node_name"]
    target_label  = "instance"
  }}
}}

discovery.relabel "cadvisor" {{
  targets = discovery.relabel.kubelet.output
  rule {{
    source_labels = ["__metrics_path__"]
    target_label  = "__metrics_path__"
    replacement   = "$1/cadvisor"
  }}
}}

prometheus.scrape "kubelet" {{
  targets           = discovery.relabel.kubelet.output
  job_name          = "integrations/kubernetes/kubelet"
  scheme            = "https"
  scrape_interval   = "60s"
  bearer_token_file = "{SERVICE_ACCOUNT}/token"
  tls_config {{
    ca_file = "{SERVICE_ACCOUNT}/ca.crt"
  }}
  forward_to = [prometheus.relabel.allowlist.receiver]
}}

prometheus.scrape "cadvisor" {{
  targets           = discovery.relabel.cadvisor.output
  job_name          = "integrations/kubernetes/cadvisor"
  scheme            = "https"
  scrape_interval   = "60s"
  bearer_token_file = "{SERVICE_ACCOUNT}/token"
  tls_config {{
    ca_file = "{SERVICE_ACCOUNT}/ca.crt"
  }}
  forward_to = [prometheus.relabel.allowlist.receiver]
}}

prometheus.relabel "allowlist" {{
  forward_to = [prometheus.remote_write.grafana_cloud.receiver]
  rule {{
    source_labels = ["__name__"]
    regex         = "{METRIC_ALLOWLIST}"
    action        = "keep"
  }}
}}

prometheus.remote_write "grafana_cloud" {{
  endpoint {{
    url = sys.env("GRAFANA_CLOUD_PROMETHEUS_URL")
    basic_auth {{
      username = sys.env("GRAFANA_CLOUD_PROMETHEUS_USERNAME")
      password = sys.env("GRAFANA_CLOUD_TOKEN")
    }}
  }}
  external_labels = {{
    cluster = sys.env("CLUSTER_NAME"),
  }}
}}

discovery.kubernetes "pods" {{
  role = "pod"
  selectors {{
    role  = "pod"
    field = "spec.nodeName=" + sys.env("NODE_NAME")
  }}
}}

discovery.relabel "pod_logs" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "__path__"
    replacement   = "/var/log/pods/*$1/*.log"
  }}
}}

local.file_match "pod_logs" {{
  path_targets = discovery.relabel.pod_logs.output
}}

loki.source.file "pod_logs" {{
  targets    = local.file_match.pod_logs.targets
  forward_to = [loki.write.grafana_cloud.receiver]
}}

loki.write "grafana_cloud" {{
  endpoint {{
    url = sys.env("GRAFANA_CLOUD_LOKI_URL")
    basic_auth {{
      username = sys.env("GRAFANA_CLOUD_LOKI_USERNAME")
      password = sys.env("GRAFANA_CLOUD_TOKEN")
    }}
  }}
  external_labels = {{
    cluster = sys.env("CLUSTER_NAME"),
  }}
}}
"""
