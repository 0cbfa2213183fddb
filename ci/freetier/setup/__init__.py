"""`freetier init`: a fork set up once, idempotently (the first phase of the design).

The modules are imported by name (`from freetier.setup.<module> import ...`).
"""
