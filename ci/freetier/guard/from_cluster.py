"""The load balancers a Kubernetes tree asks OCI for, read from its manifests. Pure.

In a cluster where the OCI cloud controller manager runs, every `type: LoadBalancer` Service
becomes an OCI load balancer (or a network load balancer, by its annotations), and so does
every Gateway (Cilium gives each one such a Service, carrying the Gateway's
`spec.infrastructure.annotations`). Services that Helm charts create are not in the tree's
YAML and are not seen here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from freetier.guard.resources import Resource
from freetier.ingress import (
    ANNOTATION_FREEFORM_TAGS,
    is_network_load_balancer,
    load_balancer_values,
    tagged_name,
)

ORIGIN = "cluster"
LB_TYPE = "oci_load_balancer_load_balancer"
NLB_TYPE = "oci_network_load_balancer_network_load_balancer"


def cluster_load_balancers(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Resource]:
    """One resource per LoadBalancer Service and per Gateway of the documents, with the values
    the guard counts (shape and bandwidth from the CCM's annotations)."""
    found: list[Resource] = []
    for _path, doc in documents:
        kind = doc.get("kind")
        metadata = _mapping(doc.get("metadata"))
        spec = _mapping(doc.get("spec"))
        if kind == "Service" and str(doc.get("apiVersion")) == "v1":
            if spec.get("type") != "LoadBalancer":
                continue
            annotations = _strings(metadata.get("annotations"))
        elif kind == "Gateway" and str(doc.get("apiVersion", "")).startswith(
            "gateway.networking.k8s.io/"
        ):
            annotations = _strings(_mapping(spec.get("infrastructure")).get("annotations"))
        else:
            continue
        address = f"{ORIGIN}:{kind}/{metadata.get('namespace', 'default')}/{metadata.get('name')}"
        name = _tag_name(annotations) or address
        if is_network_load_balancer(annotations):
            found.append(Resource(address, NLB_TYPE, {"display_name": name}, ORIGIN))
        else:
            found.append(
                Resource(address, LB_TYPE, load_balancer_values(annotations, name), ORIGIN)
            )
    return found


def _tag_name(annotations: Mapping[str, str]) -> str | None:
    try:
        tags = json.loads(annotations.get(ANNOTATION_FREEFORM_TAGS, "{}"))
    except (json.JSONDecodeError, RecursionError):
        return None
    return tagged_name(tags) if isinstance(tags, dict) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in _mapping(value).items()}
