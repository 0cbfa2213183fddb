"""Which external tools each stage needs, and whether this machine has them.

The modules are imported by name (`from freetier.doctor.<module> import ...`): this file
imports nothing, so a command that needs one module does not load them all.
"""
