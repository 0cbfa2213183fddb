"""The free-tier guard: every planned and existing resource against the Always Free limits.

The modules are imported by name (`from freetier.guard.<module> import ...`): this file
imports nothing, so a command that needs one module does not load them all.
"""
