"""What a layer's plan will do, read from `tofu show -json` (never from the text): the one
model the comment, the check runs, the labels and the apply gate all read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from freetier.masking import MASK

# "replace" stands for both ["delete","create"] and ["create","delete"].
Action = Literal["create", "update", "delete", "replace", "read", "no-op", "forget"]
SENSITIVE = MASK


@dataclass(frozen=True)
class ResourceChange:
    """One entry of resource_changes (or resource_drift), values already masked."""

    address: str
    type: str
    action: Action
    before: Any = None
    after: Any = None
    after_unknown: Any = None
    action_reason: str | None = None
    replace_paths: tuple[tuple[str | int, ...], ...] = ()
    importing: bool = False  # change.importing is present
    import_id: str | None = None
    previous_address: str | None = None  # a `moved` block moved it here

    @property
    def moved(self) -> bool:
        return self.previous_address is not None and self.previous_address != self.address

    @property
    def noteworthy(self) -> bool:
        """Worth a line: it changes, or it is imported or moved even with no other change."""
        return self.action != "no-op" or self.importing or self.moved


@dataclass(frozen=True)
class OutputChange:
    name: str
    action: Action
    sensitive: bool
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class Fingerprint:
    """What a plan was made from and what it does. `changes` alone decides whether a
    re-plan is the plan that was reviewed; the rest says why a saved plan may be stale."""

    changes: str  # digest of the normalised resource changes, keyed (freetier.plans.keyed)
    tofu_version: str
    lock_file: str  # sha256 of .terraform.lock.hcl ("" when there is none)
    lineage: str
    serial: int
    base: str  # commits the plan was made between ("" when unknown)
    head: str
    # Digest (keyed like `changes`) of the upstream layer's outputs the layer's variables were
    # derived from; "" for a layer that reads none. A saved plan whose upstream moved is stale.
    upstream: str = ""

    @property
    def digest(self) -> str:
        from hashlib import sha256

        parts = (
            self.changes,
            self.tofu_version,
            self.lock_file,
            self.lineage,
            str(self.serial),
            self.base,
            self.head,
            *((self.upstream,) if self.upstream else ()),
        )
        return sha256("\n".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class LayerPlan:
    layer: str
    changes: tuple[ResourceChange, ...] = ()  # noteworthy resource changes only
    drift: tuple[ResourceChange, ...] = ()
    outputs: tuple[OutputChange, ...] = ()
    errors: tuple[str, ...] = ()  # a failed plan: its error diagnostics, masked
    text: str = ""  # the human-readable plan (`tofu show`), masked; may be empty
    fingerprint: Fingerprint | None = None
    format_version: str = ""
    tofu_version: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    @cached_property
    def counts(self) -> Counter[str]:
        """create/update/delete/replace/forget/read, plus 'import' and 'move'."""
        counts: Counter[str] = Counter(c.action for c in self.changes if c.action != "no-op")
        counts["import"] = sum(c.importing for c in self.changes)
        counts["move"] = sum(c.moved for c in self.changes)
        return counts

    @property
    def no_changes(self) -> bool:
        return (
            not self.failed
            and not self.changes
            and not any(o.action != "no-op" for o in self.outputs)
        )

    @property
    def destroys(self) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.action in ("delete", "replace"))


@dataclass(frozen=True)
class Secrets:
    """The secrets a run was handed: values to mask wherever they show, attribute names that
    look secret, and the key of the published fingerprints (`freetier.plans.keyed`). Never
    in a repr: a failing test or a traceback would print them."""

    values: tuple[str, ...] = field(default=(), repr=False)
    name_pattern: str = r"(?i)(password|passphrase|token|secret|private_key|api_key|credential)"
    fingerprint_key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Reviewed:
    """What the review saw: the changes digest, and when known the state and the saved plan."""

    changes: str
    lineage: str | None = None
    serial: int | None = None
    plan_file: Path | None = None
    normalised: list[dict[str, object]] | None = None  # for a precise refusal message
    upstream: str | None = None  # Fingerprint.upstream; None: not known
