"""`tofu show -json` (and the `tofu show` text) -> LayerPlan, masked. Pure, apart from reading.

Values are masked in two steps. First every string terraform marked sensitive anywhere in the
plan (resource changes, drift, outputs, variables declared sensitive) is collected; then each
value is masked by its own sensitivity tree, by attribute names that look secret, and by
those collected strings and the registered secrets wherever they appear, since terraform
copies values into attributes it does not mark (terraform_data's `output`) and prints them
in the text. The text is masked last, with everything the values hid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

from freetier.errors import ConfigError
from freetier.files import read_text
from freetier.plans.mask import NO_SECRETS, Masker, collect_sensitive, mask_text
from freetier.plans.model import Action, LayerPlan, OutputChange, ResourceChange, Secrets

# tofu and terraform both write format 1.x; a new major means a shape we have not read.
SUPPORTED_MAJOR = "1"
# Plans of large tenancies run to tens of MB; past this it is not a plan.
MAX_PLAN_BYTES = 1 << 30
MAX_TEXT_BYTES = 1 << 28

ACTIONS: dict[tuple[str, ...], Action] = {
    **{(name,): name for name in get_args(Action) if name != "replace"},
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
}


def check_format_version(shown: Any, where: str = "plan") -> str:
    """The plan's format_version, if it is an object in a format we read (1.x)."""
    if type(shown) is not dict:
        raise ConfigError([f"{where}: not a `tofu show -json` plan (top level is not an object)"])
    version = shown.get("format_version")
    if not isinstance(version, str) or version.split(".")[0] != SUPPORTED_MAJOR:
        raise ConfigError([f"{where}: format_version: {version!r} is not supported (expected 1.x)"])
    return version


def load_plan_json(plan_json: Path) -> Any:
    """A `show -json` file as JSON, with one-line errors naming the file."""
    raw = read_text(plan_json, MAX_PLAN_BYTES)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [f"{plan_json}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"]
        ) from None
    except RecursionError:  # tofu nests a few levels; this is a hostile or broken file
        raise ConfigError([f"{plan_json}: nested too deeply to be a plan"]) from None


def read_layer_plan(
    plan_json: Path, layer: str, secrets: Secrets = NO_SECRETS, text_file: Path | None = None
) -> LayerPlan:
    """Read `show -json` output (and optionally the `show` text) from files and parse them."""
    shown = load_plan_json(plan_json)
    text = read_text(text_file, MAX_TEXT_BYTES) if text_file is not None else ""
    return parse_plan(shown, layer, secrets, text, where=str(plan_json))


def parse_plan(
    shown: Any, layer: str, secrets: Secrets = NO_SECRETS, text: str = "", *, where: str = "plan"
) -> LayerPlan:
    """The LayerPlan of one `show -json` document; `where` names it in errors.

    A plan terraform marked `errored` (it writes one when planning fails) comes back failed,
    never as "no changes"."""
    version = check_format_version(shown, where)
    changes = _entries(shown, "resource_changes", where)
    drift = _entries(shown, "resource_drift", where)
    outputs = shown.get("output_changes", {})
    if type(outputs) is not dict:
        raise ConfigError([f"{where}: output_changes: expected an object"])
    if "resource_changes" not in shown and _has_planned_resources(shown):
        raise ConfigError(
            [f"{where}: resource_changes: missing, but planned_values lists resources"]
        )
    masker = Masker(secrets, sensitive_strings(shown))
    parsed = tuple(
        rc
        for index, entry in enumerate(changes)
        if (rc := _resource_change(entry, masker, f"{where}: resource_changes[{index}]")).noteworthy
    )
    drifted = tuple(
        rc
        for index, entry in enumerate(drift)
        if (rc := _resource_change(entry, masker, f"{where}: resource_drift[{index}]")).noteworthy
    )
    outs = tuple(
        _output_change(name, entry, masker, f"{where}: output_changes.{name}")
        for name, entry in sorted(outputs.items())
    )
    errors = (
        (f"{layer}: planning failed (the plan is marked errored); see the plan's diagnostics",)
        if shown.get("errored") is True
        else ()
    )
    terraform_version = shown.get("terraform_version")
    return LayerPlan(
        layer=layer,
        changes=parsed,
        drift=drifted,
        outputs=outs,
        errors=errors,
        text=masker.text(text) if text else "",
        format_version=version,
        tofu_version=terraform_version if isinstance(terraform_version, str) else "",
    )


def failed_plan(layer: str, errors: list[str], secrets: Secrets = NO_SECRETS) -> LayerPlan:
    """The LayerPlan of a plan that did not run to the end: its error diagnostics, masked."""
    masked = tuple(mask_text(error, secrets) for error in errors if error.strip())
    return LayerPlan(layer=layer, errors=masked or (f"{layer}: planning failed",))


def sensitive_strings(shown: dict[str, Any]) -> set[str]:
    """Strings terraform marked sensitive anywhere in the plan, and the values of root
    variables declared sensitive (`variables` holds those in clear)."""
    found: set[str] = set()
    for key in ("resource_changes", "resource_drift"):
        entries = shown.get(key)
        for entry in entries if type(entries) is list else ():
            change = entry.get("change") if type(entry) is dict else None
            if type(change) is dict:
                _collect_change(change, found)
    outputs = shown.get("output_changes")
    for change in outputs.values() if type(outputs) is dict else ():
        if type(change) is dict:
            _collect_change(change, found)
    config = shown.get("configuration")
    root = config.get("root_module") if type(config) is dict else None
    declared = root.get("variables") if type(root) is dict else None
    values = shown.get("variables")
    if type(declared) is dict and type(values) is dict:
        for name, decl in declared.items():
            var = values.get(name)
            if type(decl) is dict and decl.get("sensitive") is True and type(var) is dict:
                collect_sensitive(var.get("value"), True, found)
    return found


def _collect_change(change: dict[str, Any], found: set[str]) -> None:
    collect_sensitive(change.get("before"), change.get("before_sensitive"), found)
    collect_sensitive(change.get("after"), change.get("after_sensitive"), found)


def _entries(shown: dict[str, Any], key: str, where: str) -> list[Any]:
    entries = shown.get(key, [])
    if type(entries) is not list:
        raise ConfigError([f"{where}: {key}: expected a list"])
    return entries


def _has_planned_resources(shown: dict[str, Any]) -> bool:
    """planned_values lists what the resource changes lead to, so it lists resources only
    when there are changes (refresh-only and empty plans have none, and no resource_changes)."""
    planned = shown.get("planned_values")
    root = planned.get("root_module") if type(planned) is dict else None
    return type(root) is dict and bool(root.get("resources") or root.get("child_modules"))


def _resource_change(entry: Any, masker: Masker, where: str) -> ResourceChange:
    if type(entry) is not dict:
        raise ConfigError([f"{where}: expected an object"])
    address, rtype, change = entry.get("address"), entry.get("type"), entry.get("change")
    if not isinstance(address, str) or not address:
        raise ConfigError([f"{where}.address: expected a non-empty string"])
    if not isinstance(rtype, str):
        raise ConfigError([f"{where}.type: expected a string ({address})"])
    if type(change) is not dict:
        raise ConfigError([f"{where}.change: expected an object ({address})"])
    previous = entry.get("previous_address")
    if previous is not None and not isinstance(previous, str):
        raise ConfigError([f"{where}.previous_address: expected a string ({address})"])
    reason = entry.get("action_reason")
    imported, import_id = _importing(change.get("importing"), masker, f"{where}.change", address)
    return ResourceChange(
        address=address,
        type=rtype,
        action=_action(change.get("actions"), f"{where}.change.actions", address),
        before=masker.value(change.get("before"), change.get("before_sensitive")),
        after=masker.value(change.get("after"), change.get("after_sensitive")),
        after_unknown=change.get("after_unknown"),
        action_reason=reason if isinstance(reason, str) else None,
        replace_paths=_paths(change.get("replace_paths"), f"{where}.change.replace_paths", address),
        importing=imported,
        import_id=import_id,
        previous_address=previous,
    )


def _action(actions: Any, where: str, address: str) -> Action:
    key = tuple(actions) if type(actions) is list else None
    action = ACTIONS.get(key) if key is not None and all(type(a) is str for a in key) else None
    if action is None:
        raise ConfigError([f"{where}: {actions!r} is not a known list of actions ({address})"])
    return action


def _paths(paths: Any, where: str, address: str) -> tuple[tuple[str | int, ...], ...]:
    if paths is None:
        return ()
    if type(paths) is not list or not all(
        type(p) is list and all(type(s) in (str, int) for s in p) for p in paths
    ):
        raise ConfigError([f"{where}: expected a list of paths of names and indexes ({address})"])
    return tuple(tuple(path) for path in paths)


def _importing(importing: Any, masker: Masker, where: str, address: str) -> tuple[bool, str | None]:
    """(importing, import id): `{"id": ...}`, or `{"identity": {...}}` (tofu/terraform that
    import by identity), rendered as compact JSON."""
    if importing is None:
        return False, None
    if type(importing) is not dict:
        raise ConfigError([f"{where}.importing: expected an object ({address})"])
    ident = importing.get("id")
    if isinstance(ident, str) and ident:
        return True, masker.value(ident)
    identity = importing.get("identity")
    if identity is not None:
        rendered = json.dumps(masker.value(identity), sort_keys=True, separators=(",", ":"))
        return True, rendered
    return True, None


def _output_change(name: str, entry: Any, masker: Masker, where: str) -> OutputChange:
    if type(entry) is not dict:
        raise ConfigError([f"{where}: expected an object"])
    before_marks, after_marks = entry.get("before_sensitive"), entry.get("after_sensitive")
    return OutputChange(
        name=name,
        action=_action(entry.get("actions"), f"{where}.actions", f"output {name}"),
        sensitive=_any_true(before_marks) or _any_true(after_marks),
        before=masker.value(entry.get("before"), before_marks, name),
        after=masker.value(entry.get("after"), after_marks, name),
    )


def _any_true(marks: Any) -> bool:
    if marks is True:
        return True
    if type(marks) is dict:
        return any(_any_true(m) for m in marks.values())
    if type(marks) is list:
        return any(_any_true(m) for m in marks)
    return False
