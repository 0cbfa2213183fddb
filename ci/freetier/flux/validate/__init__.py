"""`freetier flux validate`: check any Flux repository offline before merge.

Builds every Flux Kustomization's path with `kubectl kustomize` (in parallel), checks core kinds
against the Kubernetes schemas of `kubernetes-validate` and Flux kinds against models of the GA
APIs, then the graph of each cluster: dependsOn, sourceRef, paths, namespaces, substituteFrom,
SOPS decryption, plaintext Secrets and SOPS recipients. Nothing is decrypted.

The modules are imported by name (`from freetier.flux.validate.<module> import ...`): this file
imports nothing, so a command that needs one module does not load them all.
"""
