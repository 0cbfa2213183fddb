"""The images stage: hardened Debian images built from packages (recipes in images/), their
hardening audit, size gates and boot test. Upload and import live beside these modules.

The modules are imported by name (`from freetier.images.<module> import ...`): this file
imports nothing, so a command that needs one module does not load them all.
"""
