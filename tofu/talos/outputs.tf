# The kubeconfig and talosconfig hold client keys: sensitive, read only by
# `freetier talos kubeconfig` (and tofu output by hand), never printed by freetier.

output "kubeconfig" {
  description = "Admin kubeconfig of the cluster (client certificate and key)."
  value       = talos_cluster_kubeconfig.this.kubeconfig_raw
  sensitive   = true
}

output "talosconfig" {
  description = "talosctl client configuration (client certificate and key)."
  value       = data.talos_client_configuration.this.talos_config
  sensitive   = true
}

output "control_planes" {
  description = "The Kubernetes API of each control plane, by node name: what freetier waits on after apply."
  value = {
    for name, node in var.nodes : name => "https://${node.private_ip}:6443" if node.role == "controlplane"
  }
}

output "cluster_endpoint" {
  description = "The Kubernetes API endpoint the nodes use."
  value       = var.cluster_endpoint
}
