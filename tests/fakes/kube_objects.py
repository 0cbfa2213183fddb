"""The object half of the fake Kubernetes API server: discovery and stored objects, with the
API server's rules for what a client sends.

- Discovery as the server answers it: `/api` (APIVersions), `/api/v1` and
  `/apis/GROUP/VERSION` (APIResourceList, a `NAME/status` entry for kinds with a status
  subresource), `/apis` (APIGroupList). A CustomResourceDefinition, once created, adds its
  group, version and kind, as the real server does after the CRD is established: custom
  resources cannot be written before their CRD.
- Writes: POST creates (409 AlreadyExists), PUT replaces (404 when missing, 409 Conflict on a
  stale metadata.resourceVersion), PATCH with `application/apply-patch+yaml` is server-side
  apply (creates or merges; `fieldManager` required, else 422; `dryRun=All` stores nothing),
  DELETE removes. A namespaced object needs its namespace (404 otherwise); a body whose kind,
  apiVersion, name or namespace do not match the URL is 400/422; a Secret's `data` must be
  base64 (422), its `stringData` is folded into `data`.
- Bookkeeping: one resourceVersion counter for the whole store, bumped by every change and
  left alone by a write that changes nothing; `metadata.generation` on kinds that keep one,
  bumped when anything but metadata and status changes; `uid`, `creationTimestamp`, and a
  `managedFields` entry per apply manager. Writes to the main resource never change `status`
  of a kind with a status subresource (controllers set it: `set_status`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import uuid
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Answer = tuple[int, str, bytes]


@dataclass(frozen=True)
class Kind:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    status: bool = False  # has a status subresource (and keeps metadata.generation)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def resource(self) -> str:
        """How error messages name it: `secrets`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


BUILTIN = (
    Kind("", "v1", "Namespace", "namespaces", False, status=True),
    Kind("", "v1", "Node", "nodes", False, status=True),
    Kind("", "v1", "Secret", "secrets", True),
    Kind("", "v1", "ConfigMap", "configmaps", True),
    Kind("", "v1", "ServiceAccount", "serviceaccounts", True),
    Kind("", "v1", "Service", "services", True, status=True),
    Kind("", "v1", "ResourceQuota", "resourcequotas", True, status=True),
    Kind("apps", "v1", "Deployment", "deployments", True, status=True),
    Kind("apps", "v1", "DaemonSet", "daemonsets", True, status=True),
    Kind("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Kind("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Kind("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    Kind("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    Kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True),
    Kind(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        status=True,
    ),
)
NO_GENERATION = {"Namespace", "Node", "Secret", "ConfigMap", "ServiceAccount", "Service"}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def status_body(code: int, reason: str, message: str) -> Answer:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return code, "application/json", json.dumps(body).encode()


def json_body(code: int, body: Any) -> Answer:
    return code, "application/json", json.dumps(body).encode()


def _merge(base: Any, patch: Any) -> Any:
    """Server-side apply's effect for one manager, as far as freetier relies on it: maps merge
    key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return copy.deepcopy(patch)


def _content(obj: Obj) -> Obj:
    """What bumps metadata.generation when it changes: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class ObjectStore:
    def __init__(self) -> None:
        self.kinds: dict[tuple[str, str, str], Kind] = {}  # (group, version, plural)
        for kind in BUILTIN:
            self.register(kind)
        self.objects: dict[tuple[str, str, str, str], Obj] = {}  # (group, plural, ns, name)
        self.revision = 100
        self.clock = 0  # seconds past the fake epoch, for timestamps

    # --- discovery -----------------------------------------------------------------------

    def register(self, kind: Kind) -> None:
        self.kinds[(kind.group, kind.version, kind.plural)] = kind

    def kind_of(self, group: str, version: str, plural: str) -> Kind:
        found = self.kinds.get((group, version, plural))
        if found is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return found

    def find_kind(self, api_version: str, kind: str) -> Kind | None:
        group, _, version = api_version.rpartition("/")
        return next(
            (
                k
                for k in self.kinds.values()
                if k.group == group and k.version == version and k.kind == kind
            ),
            None,
        )

    def api_versions(self) -> Obj:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
            ],
        }

    def groups(self) -> Obj:
        versions: dict[str, list[str]] = {}
        for group, version, _ in self.kinds:
            if group and version not in versions.setdefault(group, []):
                versions[group].append(version)
        groups = []
        for name, found in sorted(versions.items()):
            entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in found]
            groups.append({"name": name, "versions": entries, "preferredVersion": entries[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resources(self, group: str, version: str) -> Obj:
        kinds = [k for k in self.kinds.values() if k.group == group and k.version == version]
        if not kinds:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        listed: list[Obj] = []
        for k in sorted(kinds, key=lambda k: k.plural):
            listed.append(
                {
                    "name": k.plural,
                    "singularName": k.kind.lower(),
                    "namespaced": k.namespaced,
                    "kind": k.kind,
                    "verbs": VERBS,
                }
            )
            if k.status:
                listed.append(
                    {
                        "name": f"{k.plural}/status",
                        "singularName": "",
                        "namespaced": k.namespaced,
                        "kind": k.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        group_version = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "groupVersion": group_version, "resources": listed}

    # --- reads ---------------------------------------------------------------------------

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        found = self.objects.get((kind.group, kind.plural, namespace, name))
        if found is None:
            raise ApiError(404, "NotFound", f'{kind.resource()} "{name}" not found')
        return found

    def find(self, api_version: str, kind: str, namespace: str, name: str) -> Obj | None:
        known = self.find_kind(api_version, kind)
        if known is None:
            return None
        return self.objects.get((known.group, known.plural, namespace, name))

    def items(self, kind: Kind, namespace: str | None = None) -> list[Obj]:
        return [
            obj
            for (group, plural, ns, _), obj in sorted(self.objects.items())
            if (group, plural) == (kind.group, kind.plural) and namespace in (None, ns)
        ]

    def list_body(self, kind: Kind, namespace: str | None) -> Obj:
        return {
            "kind": f"{kind.kind}List",
            "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": str(self.revision)},
            "items": self.items(kind, namespace),
        }

    # --- writes --------------------------------------------------------------------------

    def _check(self, kind: Kind, namespace: str, name: str | None, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was not a JSON object")
        if body.get("kind") != kind.kind or body.get("apiVersion") != kind.api_version:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({body.get('apiVersion')}) and kind "
                f"({body.get('kind')}) do not match the URL ({kind.api_version}, {kind.kind})",
            )
        metadata = body.get("metadata")
        if not isinstance(metadata, dict) or not metadata.get("name"):
            raise ApiError(
                422,
                "Invalid",
                f"{kind.kind} is invalid: metadata.name: Required value: name is required",
            )
        if name is not None and metadata["name"] != name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({metadata['name']}) does not match the name on the "
                f"URL ({name})",
            )
        if kind.namespaced:
            given = metadata.get("namespace", namespace)
            if given != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            if (("", "namespaces", "", namespace)) not in self.objects:
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found')
        body = copy.deepcopy(body)
        if kind.kind == "Secret":
            self._fold_secret(body)
        return body

    def _fold_secret(self, body: Obj) -> None:
        name = body["metadata"]["name"]
        data = body.get("data") or {}
        for key, value in data.items():
            try:
                base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(
                    422,
                    "Invalid",
                    f'Secret "{name}" is invalid: data[{key}]: Invalid value: '
                    '"<secret contents redacted>": illegal base64 data',
                ) from None
        for key, value in (body.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        if data:
            body["data"] = data

    def _stamp(self, kind: Kind, obj: Obj, old: Obj | None) -> Obj:
        """Bookkeeping of a write that changed something."""
        self.revision += 1
        self.clock += 1
        metadata = obj["metadata"]
        if kind.namespaced:
            metadata["namespace"] = metadata.get("namespace") or ""
        else:
            metadata.pop("namespace", None)
        metadata["resourceVersion"] = str(self.revision)
        if old is None:
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = self.timestamp()
            if kind.kind not in NO_GENERATION:
                metadata["generation"] = 1
        else:
            for key in ("uid", "creationTimestamp"):
                metadata[key] = old["metadata"][key]
            if kind.kind not in NO_GENERATION:
                bumped = _content(obj) != _content(old)
                metadata["generation"] = old["metadata"]["generation"] + (1 if bumped else 0)
        return obj

    def timestamp(self) -> str:
        minutes, seconds = divmod(self.clock, 60)
        return f"2026-12-01T10:{minutes % 60:02d}:{seconds:02d}Z"

    def _key(self, kind: Kind, namespace: str, name: str) -> tuple[str, str, str, str]:
        return (kind.group, kind.plural, namespace if kind.namespaced else "", name)

    def _store(self, kind: Kind, obj: Obj) -> None:
        metadata = obj["metadata"]
        self.objects[self._key(kind, metadata.get("namespace", ""), metadata["name"])] = obj
        if kind.kind == "CustomResourceDefinition":
            self._establish(obj)

    def _establish(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        for version in spec.get("versions") or []:
            if version.get("served", True):
                self.register(
                    Kind(
                        spec["group"],
                        version["name"],
                        names["kind"],
                        names["plural"],
                        spec.get("scope") == "Namespaced",
                        status="status" in (version.get("subresources") or {}),
                    )
                )

    def create(self, kind: Kind, namespace: str, body: Any, *, dry_run: bool = False) -> Obj:
        obj = self._check(kind, namespace, None, body)
        key = self._key(kind, namespace, obj["metadata"]["name"])
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", f'{kind.resource()} "{key[3]}" already exists')
        obj["metadata"].pop("resourceVersion", None)
        if kind.status:
            obj.pop("status", None)
        if kind.namespaced:
            obj["metadata"]["namespace"] = namespace
        if dry_run:
            return obj
        self._stamp(kind, obj, None)
        self._store(kind, obj)
        return obj

    def replace(self, kind: Kind, namespace: str, name: str, body: Any) -> Obj:
        obj = self._check(kind, namespace, name, body)
        old = self.get(kind, namespace if kind.namespaced else "", name)
        given = obj["metadata"].get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.resource()} "{name}": the object has '
                "been modified; please apply your changes to the latest version and try again",
            )
        if kind.status and "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        obj["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
        if kind.namespaced:
            obj["metadata"]["namespace"] = namespace
        if self._same(obj, old):
            return old
        self._stamp(kind, obj, old)
        self._store(kind, obj)
        return obj

    def apply(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        body: Any,
        *,
        manager: str | None,
        dry_run: bool = False,
    ) -> tuple[int, Obj]:
        """Server-side apply: (201, created) or (200, the object, changed or not)."""
        if not manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch",
            )
        applied = self._check(kind, namespace, name, body)
        applied["metadata"].pop("resourceVersion", None)
        if kind.status:
            applied.pop("status", None)
        key = self._key(kind, namespace, name)
        old = self.objects.get(key)
        entry = {
            "manager": manager,
            "operation": "Apply",
            "apiVersion": kind.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": {},
        }
        if old is None:
            applied["metadata"]["managedFields"] = [entry]
            if kind.namespaced:
                applied["metadata"]["namespace"] = namespace
            if dry_run:
                return 201, applied
            self._stamp(kind, applied, None)
            self._store(kind, applied)
            return 201, applied
        merged = _merge(old, applied)
        managers = merged["metadata"].get("managedFields") or []
        if not any(m.get("manager") == manager for m in managers):
            merged["metadata"]["managedFields"] = [*managers, entry]
        if self._same(merged, old) or dry_run:
            return 200, merged if dry_run else old
        self._stamp(kind, merged, old)
        self._store(kind, merged)
        return 200, merged

    def delete(self, kind: Kind, namespace: str, name: str) -> Obj:
        found = self.get(kind, namespace if kind.namespaced else "", name)
        del self.objects[self._key(kind, namespace, name)]
        self.revision += 1
        return found

    def set_status(self, obj: Obj, status: Obj) -> None:
        """What a controller does through the status subresource."""
        if obj.get("status") != status:
            obj["status"] = copy.deepcopy(status)
            self.revision += 1
            self.clock += 1
            obj["metadata"]["resourceVersion"] = str(self.revision)

    def put(self, api_version: str, kind: str, obj: Obj) -> Obj:
        """Create an object directly, as a controller or Talos would (not over the wire)."""
        known = self.find_kind(api_version, kind)
        if known is None:
            raise KeyError(f"{api_version} {kind} not served")
        namespace = obj.get("metadata", {}).get("namespace", "")
        body = {"apiVersion": api_version, "kind": kind, **obj}
        status = body.pop("status", None)
        created = self.create(known, namespace, body)
        if status is not None:
            self.set_status(created, status)
        return created

    @staticmethod
    def _same(new: Obj, old: Obj) -> bool:
        def strip(obj: Obj) -> Obj:
            out = copy.deepcopy(obj)
            for key in ("resourceVersion", "generation", "uid", "creationTimestamp"):
                out["metadata"].pop(key, None)
            return out

        return strip(new) == strip(old)
