"""The Flux tree: render clusters/, infrastructure/ and apps/ from stack.yaml, and validate any
Flux repository offline (`freetier.flux.validate`)."""
