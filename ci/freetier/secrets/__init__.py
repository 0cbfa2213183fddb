"""SOPS + age secrets: the identity, `.sops.yaml`, and encrypted Kubernetes Secret files.

The modules are imported by name (`from freetier.secrets.<module> import ...`): this file
imports nothing, so a command that needs one module does not load them all.
"""
