"""The OpenTofu layers: inputs derived from stack.yaml, and the tofu (or terraform) runs."""
