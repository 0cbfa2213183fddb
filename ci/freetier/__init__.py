"""freetier: a $0 GitOps Kubernetes platform on Oracle Cloud Always Free, from one stack.yaml."""

__version__ = "0.1.0"
__all__ = ["__version__"]
