"""GitHub, through PyGithub: the pull request's sticky plan comment, check runs and labels.

The modules are imported by name (`from freetier.github.<module> import ...`): this file
imports nothing, so a command that needs one module does not load them all.
"""
