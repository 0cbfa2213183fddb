"""The cluster the talos layer made: its kubeconfig from the layer's outputs, and the wait until
the Kubernetes API answers on every control plane."""
