"""Which Talos, Kubernetes, Cilium and Flux versions work together: a dated table, and the check.

The table is data (compatibility.yaml beside this module), each row with the page it was read
from and the date, like the guard's profiles. `check_versions` is pure: it takes the stack's
versions and yields one Problem per pair outside the table, naming both versions and the source.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

from freetier.stack.model import Versions
from freetier.stack.problem import Problem

Component = Literal["talos", "cilium", "flux"]
MINOR = r"^[0-9]+\.[0-9]+$"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KubernetesRange(_Data):
    min: str = Field(pattern=MINOR)
    max: str | None = Field(default=None, pattern=MINOR)


class Row(_Data):
    line: str = Field(pattern=MINOR)
    kubernetes: KubernetesRange
    source: str = Field(pattern=r"^https://")
    read: str
    note: str = ""

    def accepts(self, kubernetes: tuple[int, int]) -> bool:
        if kubernetes < minor(self.kubernetes.min):
            return False
        return self.kubernetes.max is None or kubernetes <= minor(self.kubernetes.max)

    def describe(self) -> str:
        upper = self.kubernetes.max or "any newer"
        return f"Kubernetes {self.kubernetes.min} to {upper}"


class Table(_Data):
    read: str
    talos: tuple[Row, ...]
    cilium: tuple[Row, ...]
    flux: tuple[Row, ...]

    def rows(self, component: Component) -> tuple[Row, ...]:
        rows: tuple[Row, ...] = getattr(self, component)
        return rows


NAMES: dict[Component, str] = {"talos": "Talos", "cilium": "Cilium", "flux": "Flux"}


@cache
def compatibility_table() -> Table:
    """The shipped table (read once; it is package data, not user input)."""
    text = (resources.files("freetier.stack") / "compatibility.yaml").read_text()
    return Table.model_validate(YAML(typ="safe").load(text))


def minor(version: str) -> tuple[int, int]:
    """`v1.36.3`, `1.36.3` or `1.36` -> (1, 36)."""
    major, minor_, *_ = version.removeprefix("v").split(".")
    return int(major), int(minor_)


def find_row(table: Table, component: Component, version: str) -> Row | None:
    wanted = minor(version)
    return next((r for r in table.rows(component) if minor(r.line) == wanted), None)


def check_versions(versions: Versions, table: Table | None = None) -> Iterator[Problem]:
    """One problem per version whose line is missing from the table or rejects the Kubernetes."""
    table = table or compatibility_table()
    kubernetes = versions.kubernetes
    for component in ("talos", "cilium", "flux"):
        version: str = getattr(versions, component)
        name = NAMES[component]
        row = find_row(table, component, version)
        path = ("versions", component)
        if row is None:
            known = ", ".join(r.line for r in table.rows(component))
            yield Problem(
                path,
                f"{name} {version} is not in the compatibility table (known lines: {known}); "
                f"pick a listed line or add its row to freetier/stack/compatibility.yaml "
                "with its source",
            )
        elif not row.accepts(minor(kubernetes)):
            yield Problem(
                path,
                f"{name} {version} works with {row.describe()}, not Kubernetes {kubernetes} "
                f"(source: {row.source}, read {row.read})",
            )
