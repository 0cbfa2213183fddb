"""Each check of `freetier validate`: one function from the run's Context to a CheckResult.
The I/O lives here; the judging in the cores it calls (`guard`, `validate.cost`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import oci

from freetier.errors import ConfigError, ToolError
from freetier.image_ocids import TFVARS, read_tfvars
from freetier.layers import layer_folder
from freetier.object_storage import call_unless_missing
from freetier.oci_clients import load_oci_config, make_client, oci_config_path
from freetier.stack import Stack
from freetier.validate.model import CheckResult
from freetier.validate.model import verdict as verdict_of

AVAILABLE = "AVAILABLE"
RUNNING = "RUNNING"


class Skip(Exception):
    """A check cannot run here (no credentials, no cluster): reported as skipped."""


@dataclass
class Context:
    stack_file: Path
    stack: Stack
    env: Mapping[str, str]
    home: Path
    now: datetime
    kubeconfig: Path | None = None
    head: str | None = None  # the branch head commit Flux must have applied
    backend_config: Path | None = None  # the talos layer's state holds the kubeconfig
    _oci: dict[str, Any] | None = field(default=None, repr=False)

    def oci_config(self) -> dict[str, Any]:
        """The OCI CLI config; Skip when there is none, ConfigError when it is unusable."""
        if self._oci is None:
            path = oci_config_path(self.env, self.home)
            if not path.is_file():
                raise Skip(f"no OCI credentials ({path} not found; set OCI_CLI_CONFIG_FILE)")
            self._oci = load_oci_config(self.env, self.home)
        return self._oci


# Image.billable_size_in_gbs is in GiB ("1 GB = 1,073,741,824 bytes", the oci SDK's
# oci.core.models.Image); the size gates count 10^9-byte GB (images/gate.py).
GIB = 1024**3


def check_images(ctx: Context) -> CheckResult:
    """Every image OCID tofu/oci/images.auto.tfvars.json names exists, is AVAILABLE and fits
    the size gates the image stage holds builds to (`images gate`: each image under its own,
    all of them under the total)."""
    from freetier.images.gate import GB, gate_sizes

    path = layer_folder(ctx.stack_file, "oci") / TFVARS
    if not path.is_file():
        return verdict_of("images", [f"{path}: not found; run `freetier images publish`"], "")
    ocids = read_tfvars(path).get("image_ocids", {})
    if not ocids:
        return verdict_of("images", [f"{path}: image_ocids is empty"], "")
    compute = make_client(oci.core.ComputeClient, ctx.oci_config(), env=ctx.env)
    problems, lines, sizes = [], [], []
    for arch, ocid in sorted(ocids.items()):
        found = call_unless_missing(compute.get_image, ocid)
        if found is None:
            problems.append(f"{arch}: image {ocid} not found")
            continue
        image = found.data
        size_gb = (image.billable_size_in_gbs or 0) * GIB / GB
        sizes.append((str(image.display_name), size_gb))
        lines.append(f"{arch}: {ocid} {image.lifecycle_state}, {size_gb:.3f} GB")
        if image.lifecycle_state != AVAILABLE:
            problems.append(f"{arch}: image {ocid} is {image.lifecycle_state}, not {AVAILABLE}")
    gated = gate_sizes(sizes, ctx.stack.images.gates)
    problems += [
        f"image {row.name}: {row.size_gb:.3f} GB over its {row.limit_gb:g} GB gate"
        for row in gated.rows
        if not row.ok
    ]
    if not gated.total_ok:
        problems.append(
            f"images: {gated.total_gb:.3f} GB in all, over the {gated.total_limit_gb:g} GB gate"
        )
    return verdict_of(
        "images",
        problems,
        f"{len(ocids)} image(s) AVAILABLE, {gated.total_gb:.3f} GB of the "
        f"{gated.total_limit_gb:g} GB gate",
        lines,
    )


def check_oci(ctx: Context) -> CheckResult:
    """Every instance of the stack RUNNING in its shape, and the tenancy within the free-tier
    profile (what `freetier guard --live` says)."""
    from freetier.flux.render import tree_load_balancers
    from freetier.guard.run import run_guard
    from freetier.tenancy import read_tenancy

    ctx.oci_config()  # skip before reading anything when there are no credentials
    live = read_tenancy(ctx.stack, ctx.env, ctx.home)
    problems = instance_problems(
        ctx.stack, [r.values for r in live if r.type == "oci_core_instance"]
    )
    guard = run_guard(ctx.stack, [], live=live, cluster=tree_load_balancers(ctx.stack_file.parent))
    problems += [f"guard: {line}" for line in (*guard.blocking, *guard.may_be_billed)]
    count = len(expected_instances(ctx.stack))
    return verdict_of(
        "oci",
        problems,
        f"{count} instance(s) RUNNING in their shapes; free on {guard.profile.name}",
    )


def expected_instances(stack: Stack) -> dict[str, tuple[str, float | None, float | None]]:
    """Display name -> (shape, ocpus, memory GB) of every instance tofu/oci makes."""
    wanted: dict[str, tuple[str, float | None, float | None]] = {
        f"{stack.name}-{i.name}": (i.shape, i.ocpus, i.memory_gb) for i in stack.instances
    }
    if stack.bastion.enabled:
        wanted[f"{stack.name}-{stack.bastion.name}"] = (stack.bastion.shape, None, None)
    return wanted


def instance_problems(stack: Stack, live: Sequence[Mapping[str, Any]]) -> list[str]:
    """What differs between the stack's instances and the tenancy's (values as `tenancy`
    converts them). Pure."""
    by_name = {v.get("display_name"): v for v in live}
    problems = []
    for name, (shape, ocpus, memory) in expected_instances(stack).items():
        found = by_name.get(name)
        if found is None:
            problems.append(f"{name}: no such instance")
            continue
        if found.get("state") != RUNNING:
            problems.append(f"{name}: {found.get('state')}, not {RUNNING}")
        if found.get("shape") != shape:
            problems.append(f"{name}: shape {found.get('shape')}, not {shape}")
        config = (found.get("shape_config") or [{}])[0]
        for field_, want in (("ocpus", ocpus), ("memory_in_gbs", memory)):
            if want is not None and config.get(field_) != float(want):
                problems.append(f"{name}: {field_} {config.get(field_)}, not {want:g}")
    return problems


def check_cost(ctx: Context) -> CheckResult:
    """This month's closed days through the Usage API (COST, then USAGE by SKU), and the
    stack's budget: none of its alert rules fired."""
    from freetier.budgets import read_budget
    from freetier.guard.profile import load_profile
    from freetier.usage import summarized_usages
    from freetier.validate.cost import budget_name, closed_days, judge_cost, with_budget

    config = ctx.oci_config()
    profile = load_profile(ctx.stack.free_tier.profile)
    name = budget_name(ctx.stack.name)
    budget = read_budget(config, name, env=ctx.env)
    start, end = closed_days(ctx.now)
    if start == end:
        return with_budget(judge_cost([], [], ctx.now, profile), budget, name)
    cost = summarized_usages(config, "COST", start, end, env=ctx.env)
    usage = summarized_usages(config, "USAGE", start, end, env=ctx.env)
    return with_budget(judge_cost(cost, usage, ctx.now, profile), budget, name)


def cluster_access(ctx: Context) -> Any:
    """The ClusterAccess of `--kubeconfig` (or KUBECONFIG, or the talos layer's state with
    `--backend-config`); Skip without one."""
    from freetier.cluster.kubeconfig import read_access, read_kubeconfig_file

    path = ctx.kubeconfig or (Path(ctx.env["KUBECONFIG"]) if ctx.env.get("KUBECONFIG") else None)
    if path is not None:
        return read_kubeconfig_file(path)
    if ctx.backend_config is not None:
        try:
            return read_access(ctx.stack_file, backend=True, backend_config=ctx.backend_config)
        except ConfigError as exc:  # no talos layer applied yet: no cluster to check
            raise Skip(f"no cluster yet: {exc}") from None
    raise Skip("no cluster access (give --kubeconfig, set KUBECONFIG or --backend-config)")


def check_idle(ctx: Context) -> CheckResult:
    """Each instance of the stack against Oracle's idle rule, from the last 7 days of OCI
    Monitoring's compute agent metrics."""
    from freetier.monitoring import COMPUTE_AGENT, summarize
    from freetier.tenancy import read_tenancy
    from freetier.validate.idle import CPU_QUERY, MEMORY_QUERY, WINDOW, Instance, judge_idle

    config = ctx.oci_config()
    wanted = expected_instances(ctx.stack)
    live = {
        r.values.get("display_name"): r
        for r in read_tenancy(ctx.stack, ctx.env, ctx.home)
        if r.type == "oci_core_instance"
    }
    instances = [
        Instance(name, str(live[name].id), shape)
        for name, (shape, _, _) in wanted.items()
        if name in live
    ]
    if not instances:
        raise Skip("no instance of the stack in the tenancy yet")
    compartment = ctx.stack.oci.compartment_ocid
    start, end = ctx.now - WINDOW, ctx.now

    def measured(query: str) -> dict[str, list[tuple[datetime, float]]]:
        found = summarize(config, compartment, COMPUTE_AGENT, query, start, end, env=ctx.env)
        return {s.resource_id: list(s.points) for s in found}

    return judge_idle(instances, measured(CPU_QUERY), measured(MEMORY_QUERY))


@contextmanager
def cluster(ctx: Context, access: Any = None) -> Iterator[Any]:
    """The dynamic client of the cluster `access` (by default `cluster_access`) reaches."""
    from freetier import kube, kube_objects
    from freetier.cluster.kubeconfig import api_server

    access = access or cluster_access(ctx)
    server = api_server(access)
    with (
        kube.api_client(access.kubeconfig, server) as api,
        kube_objects.dynamic_client(api, server) as dyn,
    ):
        yield dyn


# Fail while the kubeconfig still works but has under two weeks left: time to renew it
# through tofu/talos before the cluster locks the pipelines out.
CERT_FAIL_DAYS = 14


def check_talos(ctx: Context) -> CheckResult:
    """Every Talos node of the stack listed and Ready, and the kubeconfig's client
    certificate CERT_FAIL_DAYS or more from expiry."""
    from freetier import kube_objects
    from freetier.bootstrap import readiness
    from freetier.cluster.kubeconfig import client_certificate_expiry, days_left, expected_nodes

    access = cluster_access(ctx)
    problems, lines = [], []
    try:
        expiry = client_certificate_expiry(access.kubeconfig)
    except ToolError as exc:
        problems.append(str(exc))
    else:
        left = days_left(expiry, ctx.now)
        said = f"kubeconfig client certificate: {left} day(s) left, until {expiry:%Y-%m-%d}"
        lines.append(said)
        if left < CERT_FAIL_DAYS:
            problems.append(f"{said}: under {CERT_FAIL_DAYS}; renew it (tofu/talos)")
    with cluster(ctx, access) as dyn:
        listed = {n["metadata"]["name"]: n for n in kube_objects.list_objects(dyn, "v1", "Node")}
    for name in expected_nodes(ctx.stack):
        if name not in listed:
            problems.append(f"node {name}: not listed")
            continue
        verdict = readiness.node(listed[name])
        if not verdict.ready:
            problems.append(f"node {name}: {verdict.message}")
    return verdict_of("talos", problems, f"{len(listed)} node(s) Ready", lines)


FLUX_NAMESPACE = "flux-system"


def check_flux(ctx: Context) -> CheckResult:
    """Flux's controllers (the Deployments in flux-system) rolled out, every Kustomization and
    HelmRelease Ready by kstatus, and every Kustomization's last applied revision the branch
    head (`--head`)."""
    from freetier import kube_objects
    from freetier.bootstrap import readiness
    from freetier.bootstrap.wait import HELM_API
    from freetier.flux.render_common import KUSTOMIZE_API

    with cluster(ctx) as dyn:
        controllers = [
            d
            for d in kube_objects.list_objects(dyn, "apps/v1", "Deployment")
            if (d.get("metadata") or {}).get("namespace") == FLUX_NAMESPACE
        ]
        found = [
            *kube_objects.list_objects(dyn, KUSTOMIZE_API, "Kustomization"),
            *kube_objects.list_objects(dyn, HELM_API, "HelmRelease"),
        ]
    problems, lines = [], []
    if not controllers:
        problems.append(f"no Flux controller (no Deployment in {FLUX_NAMESPACE})")
    for deployment in sorted(controllers, key=readiness.ref):
        rollout = readiness.deployment(deployment)
        if not rollout.ready:
            problems.append(f"{readiness.ref(deployment)}: {rollout.message}")
    for obj in found:
        verdict = readiness.kstatus(obj)
        if not verdict.ready:
            problems.append(f"{readiness.ref(obj)}: {verdict.state}: {verdict.message}")
        if obj.get("kind") == "Kustomization":
            revision = str((obj.get("status") or {}).get("lastAppliedRevision") or "")
            lines.append(f"{readiness.ref(obj)}: applied {revision or 'nothing yet'}")
            if ctx.head and not revision.endswith(f"sha1:{ctx.head}"):
                problems.append(
                    f"{readiness.ref(obj)}: applied {revision or 'nothing'}, not the head "
                    f"{ctx.head}"
                )
    if not found:
        problems.append("no Kustomization or HelmRelease in the cluster")
    if not ctx.head:
        lines.append("revisions not compared with the branch head (no --head)")
    kinds = sum(o.get("kind") == "Kustomization" for o in found)
    ok = (
        f"{len(controllers)} controller(s), {kinds} Kustomization(s), "
        f"{len(found) - kinds} HelmRelease(s) Ready"
    )
    return verdict_of("flux", problems, ok, lines)


# In the order they run and are reported.
CHECKS: dict[str, Callable[[Context], CheckResult]] = {
    "images": check_images,
    "oci": check_oci,
    "cost": check_cost,
    "idle": check_idle,
    "talos": check_talos,
    "flux": check_flux,
}
