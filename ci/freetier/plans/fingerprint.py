"""What a plan will do, reduced to what decides whether a re-plan is the reviewed plan.

`normalise_changes` keeps, per resource that changes (or is imported or moved): its address,
previous address, actions, import id and the known `after` attributes that differ from
`before`. Key order, no-op neighbours, timestamps and values known only after apply drop out,
so the same change planned twice hashes the same. A sensitive value (marked by terraform,
named like a secret, holding a registered secret or a string terraform marked elsewhere) is
replaced by a token (`freetier.plans.keyed`): with the fingerprint key, an HMAC of its
address, path and value, so a changed secret still changes the digest and `diff_changes` can
say it changed; without a key, the same `(sensitive)` for every value. The value itself is
never kept, and neither a token nor the digest lets anyone without the key test a guess.
"""

from __future__ import annotations

import json
from hashlib import sha256
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError
from freetier.plans.keyed import KEYED_MARK, Hashing
from freetier.plans.mask import NO_SECRETS, Masker, mask_text
from freetier.plans.model import SENSITIVE, Fingerprint, Secrets
from freetier.plans.parse import check_format_version, sensitive_strings

LOCK_FILE = ".terraform.lock.hcl"
VALUE_WIDTH = 60


def canonical(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalise_changes(shown: Any, secrets: Secrets = NO_SECRETS) -> list[dict[str, Any]]:
    """The plan's resource changes in a canonical, order-free, secret-free form."""
    check_format_version(shown)
    entries = shown.get("resource_changes") or []
    if type(entries) is not list:
        raise ConfigError(["plan: resource_changes: expected a list"])
    masker = _Tokens(secrets, sensitive_strings(shown))
    out: list[dict[str, Any]] = []
    for index, rc in enumerate(entries):
        change = rc.get("change") if type(rc) is dict else None
        if type(change) is not dict or not isinstance(rc.get("address"), str):
            raise ConfigError([f"plan: resource_changes[{index}]: missing address or change"])
        address: str = rc["address"]
        previous = rc.get("previous_address")
        moved = previous if isinstance(previous, str) and previous != address else None
        importing = _import_key(change.get("importing"))
        actions = change.get("actions")
        if actions == ["no-op"] and importing is None and moved is None:
            continue
        entry: dict[str, Any] = {
            "address": address,
            "previous_address": moved,
            "actions": actions,
            "importing": importing,
            "after": _changed_after(change, address, masker),
        }
        if "deposed" in rc:
            entry["deposed"] = rc["deposed"]
        out.append(entry)
    out.sort(key=lambda e: (e["address"], str(e.get("deposed", ""))))
    return out


def changes_digest(shown: Any, secrets: Secrets = NO_SECRETS) -> str:
    """The digest of the normalised changes, keyed with `secrets.fingerprint_key`: equal for
    the same change, planned at any time with the same key."""
    hashing = Hashing(secrets.fingerprint_key)
    return hashing.digest(canonical(normalise_changes(shown, secrets)))


def upstream_digest(inputs: Any, secrets: Secrets = NO_SECRETS) -> str:
    """The digest of the upstream outputs a layer read (keyed like the changes), or "" for a
    layer that reads none (`inputs` None)."""
    if inputs is None:
        return ""
    return Hashing(secrets.fingerprint_key).digest(canonical(inputs))


def make_fingerprint(
    shown: Any,
    layer_dir: Path,
    lineage: str,
    serial: int,
    base: str,
    head: str,
    secrets: Secrets = NO_SECRETS,
    upstream: str = "",
) -> Fingerprint:
    version = shown.get("terraform_version") if type(shown) is dict else None
    lock = layer_dir / LOCK_FILE
    try:
        lock_digest = sha256(lock.read_bytes()).hexdigest()
    except FileNotFoundError:
        lock_digest = ""
    except OSError as exc:
        raise ConfigError([f"{lock}: cannot read: {exc.strerror}"]) from None
    return Fingerprint(
        changes=changes_digest(shown, secrets),
        tofu_version=version if isinstance(version, str) else "",
        lock_file=lock_digest,
        lineage=lineage,
        serial=serial,
        base=base,
        head=head,
        upstream=upstream,
    )


def diff_changes(
    a: list[dict[str, Any]], b: list[dict[str, Any]], secrets: Secrets = NO_SECRETS
) -> list[str]:
    """Lines naming what differs between normalised changes `a` (reviewed) and `b` (now):
    addresses added or gone, and changed actions, moves, imports and attributes.
    Sensitive values show as (sensitive); registered secrets are masked in every line."""
    before, after = _by_key(a), _by_key(b)
    lines: list[str] = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        name = key[0] + (f" (deposed {key[1]})" if key[1] else "")
        if old is None and new is not None:
            lines.append(f"+ {name}: now planned ({_actions(new)}), not in the reviewed plan")
        elif new is None and old is not None:
            lines.append(f"- {name}: in the reviewed plan ({_actions(old)}), no longer planned")
        elif old is not None and new is not None and old != new:
            lines += [f"~ {name}: {detail}" for detail in _entry_diff(old, new)]
    return [mask_text(line, secrets) for line in lines]


# --- normalising ---------------------------------------------------------------------------


class _Tokens(Masker):
    """The masker's idea of what is sensitive, and the tokens that stand for it."""

    def __init__(self, secrets: Secrets, extra_values: set[str]) -> None:
        super().__init__(secrets, extra_values)
        self.hashing = Hashing(secrets.fingerprint_key)

    def token(self, address: str, path: str, value: Any) -> str | None:
        return None if value is None else self.hashing.token(address, path, canonical(value))


def _import_key(importing: Any) -> Any:
    if type(importing) is not dict:
        return None
    if "id" in importing:
        return importing["id"]
    return {"identity": importing.get("identity")}


def _changed_after(change: dict[str, Any], address: str, masker: _Tokens) -> Any:
    after, before = change.get("after"), change.get("before")
    unknown, marks = change.get("after_unknown"), change.get("after_sensitive")
    if type(after) is not dict:
        return _known(after, unknown, marks, address, "", masker)
    old = before if type(before) is dict else {}
    unknown_map = unknown if type(unknown) is dict else {}
    marks_map = marks if type(marks) is dict else {}
    out: dict[str, Any] = {}
    for key, value in after.items():
        if unknown_map.get(key) is True or (key in old and old[key] == value):
            continue
        if masker.secret_name(key):
            out[key] = masker.token(address, key, value)
        else:
            out[key] = _known(value, unknown_map.get(key), marks_map.get(key), address, key, masker)
    return out


def _known(value: Any, unknown: Any, marks: Any, address: str, path: str, masker: _Tokens) -> Any:
    """`value` with unknown parts dropped (None in lists, to keep indexes) and sensitive parts
    replaced by tokens."""
    if marks is True:
        return masker.token(address, path, value)
    kind = type(value)
    if kind is dict:
        unknown_map = unknown if type(unknown) is dict else {}
        marks_map = marks if type(marks) is dict else {}
        out: dict[str, Any] = {}
        for key, item in value.items():
            if unknown_map.get(key) is True:
                continue
            sub = f"{path}.{key}" if path else key
            if masker.secret_name(key):
                out[key] = masker.token(address, sub, item)
            else:
                out[key] = _known(
                    item, unknown_map.get(key), marks_map.get(key), address, sub, masker
                )
        return out
    if kind is list:
        unknown_list = unknown if type(unknown) is list else []
        marks_list = marks if type(marks) is list else []
        return [
            None
            if i < len(unknown_list) and unknown_list[i] is True
            else _known(
                item,
                unknown_list[i] if i < len(unknown_list) else None,
                marks_list[i] if i < len(marks_list) else None,
                address,
                f"{path}[{i}]",
                masker,
            )
            for i, item in enumerate(value)
        ]
    if kind is str and masker.holds_secret(value):
        return masker.token(address, path, value)
    return value


# --- diffing -------------------------------------------------------------------------------


def _by_key(entries: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(str(e.get("address")), str(e.get("deposed") or "")): e for e in entries}


def _actions(entry: dict[str, Any]) -> str:
    actions = entry.get("actions")
    return ", ".join(map(str, actions)) if type(actions) is list else str(actions)


def _entry_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    details: list[str] = []
    if old.get("actions") != new.get("actions"):
        details.append(f"actions {_actions(old)} -> {_actions(new)}")
    for field, label in (("previous_address", "moved from"), ("importing", "import")):
        if old.get(field) != new.get(field):
            details.append(f"{label} {_show(old.get(field))} -> {_show(new.get(field))}")
    was, now = _flatten(old.get("after")), _flatten(new.get("after"))
    for path in sorted(was.keys() | now.keys()):
        if path not in now:
            details.append(f"{path or 'after'}: {_show(was[path])} no longer changes")
        elif path not in was:
            details.append(f"{path or 'after'}: now changes to {_show(now[path])}")
        elif was[path] == now[path]:
            continue
        elif _is_token(was[path]) and _is_token(now[path]):
            details.append(f"{path or 'after'}: {SENSITIVE} value changed")
        else:
            details.append(f"{path or 'after'}: {_show(was[path])} -> {_show(now[path])}")
    return details or ["changed"]


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaves by path ("a.b[0]"); an empty object or list is a leaf of its own."""
    if type(value) is dict and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{path}.{key}" if path else str(key)))
        return out
    if type(value) is list and value:
        out = {}
        for i, item in enumerate(value):
            out.update(_flatten(item, f"{path}[{i}]"))
        return out
    return {path: value}


def _is_token(value: Any) -> bool:
    return isinstance(value, str) and value.startswith((KEYED_MARK, SENSITIVE))


def _show(value: Any) -> str:
    if _is_token(value):
        return SENSITIVE
    text = canonical(value)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 3] + "..."
