"""Traffic in, derived from the stack: the Gateway and the load balancer it costs. Pure.

One Cilium Gateway; Cilium gives it a `type: LoadBalancer` Service, and the OCI cloud controller
manager turns that Service into an OCI load balancer, shaped by the Service's annotations. The
Flux tree renders the annotations from `load_balancer_annotations`, and the free-tier guard
counts the load balancer from `load_balancer_values`: both read the constants below, so what
is rendered is what is counted.

Annotation names: oracle/oci-cloud-controller-manager docs/load-balancer-annotations.md at the
pinned tag (v1.33.2), and pkg/cloudprovider/providers/oci/load_balancer_spec.go there
(`ServiceAnnotationLoadBalancerShape`, `...ShapeFlexMin`, `...ShapeFlexMax`,
`ServiceAnnotationLoadBalancerType`). The CCM names the load balancer after the Service's UID
(load_balancer_util.go, `GetLoadBalancerName`), which nothing offline knows, so it also gets a
freeform tag (`oci.oraclecloud.com/initial-freeform-tags-override`, a JSON object) that names
it the way the guard names what the stack creates (`<stack>-ingress`).
"""

from __future__ import annotations

import json
from typing import Any

from freetier.stack.model import Stack

GATEWAY_NAME = "public"
GATEWAY_NAMESPACE = "gateway"
GATEWAY_CLASS = "cilium"
GATEWAY_TLS_SECRET = "gateway-tls"  # noqa: S105 - the Secret's name, not a secret
LOAD_BALANCER_NAME = "ingress"

# The Always Free allowance: one flexible load balancer at 10 Mbps minimum and maximum.
FLEX_MBPS = 10
LB_SHAPE = "flexible"
LB_TYPE = "lb"

ANNOTATION_TYPE = "oci.oraclecloud.com/load-balancer-type"
ANNOTATION_SHAPE = "service.beta.kubernetes.io/oci-load-balancer-shape"
ANNOTATION_FLEX_MIN = "service.beta.kubernetes.io/oci-load-balancer-shape-flex-min"
ANNOTATION_FLEX_MAX = "service.beta.kubernetes.io/oci-load-balancer-shape-flex-max"
ANNOTATION_FREEFORM_TAGS = "oci.oraclecloud.com/initial-freeform-tags-override"
# The freeform tag that carries the display name the guard matches a live load balancer by.
NAME_TAG = "freetier-name"
# The CCM's default shape when a Service names none (the annotations document's default).
CCM_DEFAULT_SHAPE = "100Mbps"


def ingress_enabled(stack: Stack) -> bool:
    """A Gateway is rendered: the stack wants traffic in."""
    return stack.ingress.enabled


def load_balancer_display_name(stack: Stack) -> str:
    """The name the guard gives it: `<stack>-ingress`, like everything tofu/oci creates."""
    return f"{stack.name}-{LOAD_BALANCER_NAME}"


def load_balancer_annotations(stack: Stack) -> dict[str, str]:
    """The Service annotations that make the CCM create the free load balancer (strings, as
    Kubernetes annotations are)."""
    return {
        ANNOTATION_TYPE: LB_TYPE,
        ANNOTATION_SHAPE: LB_SHAPE,
        ANNOTATION_FLEX_MIN: str(FLEX_MBPS),
        ANNOTATION_FLEX_MAX: str(FLEX_MBPS),
        ANNOTATION_FREEFORM_TAGS: json.dumps({NAME_TAG: load_balancer_display_name(stack)}),
    }


def load_balancer_values(annotations: dict[str, str], display_name: str) -> dict[str, Any]:
    """An `oci_load_balancer_load_balancer`'s values (as the OCI provider types them) for the
    load balancer the CCM makes of a Service with these annotations; `{}` when the Service asks
    for a network load balancer instead (see `is_network_load_balancer`)."""
    shape = annotations.get(ANNOTATION_SHAPE, CCM_DEFAULT_SHAPE)
    values: dict[str, Any] = {"shape": shape, "display_name": display_name}
    if shape == LB_SHAPE:
        details: dict[str, Any] = {}
        for key, annotation in (
            ("minimum_bandwidth_in_mbps", ANNOTATION_FLEX_MIN),
            ("maximum_bandwidth_in_mbps", ANNOTATION_FLEX_MAX),
        ):
            text = annotations.get(annotation)
            # Unparseable: left out, so the guard reports the bandwidth as unknown.
            if text is not None and text.strip().isdigit():
                details[key] = int(text)
        values["shape_details"] = [details]
    return values


def is_network_load_balancer(annotations: dict[str, str]) -> bool:
    return annotations.get(ANNOTATION_TYPE, LB_TYPE) == "nlb"


def tagged_name(freeform_tags: dict[str, Any] | None) -> str | None:
    """The display name a load balancer's freeform tags give it (None: not ours)."""
    value = (freeform_tags or {}).get(NAME_TAG)
    return value if isinstance(value, str) and value else None
