"""Limit profiles and price tables: data files in profiles/, read into frozen models."""

from __future__ import annotations

from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict
from ruamel.yaml import YAML

from freetier.errors import ConfigError

LimitName = Literal[
    "a1_ocpus",
    "a1_memory_gb",
    "a1_instances",
    "micro_instances",
    "block_storage_gb",
    "volume_backups",
    "object_storage_gb",
    "vcns",
    "load_balancers",
    "network_load_balancers",
]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Data):
    limit: float
    unit: str
    note: str


class Defaults(_Data):
    boot_volume_gb: int
    block_volume_gb: int
    free_vpus_per_gb: int
    load_balancer_free_mbps: int


class Profile(_Data):
    name: str
    source: str
    read: str
    notes: list[str]
    limits: dict[LimitName, Limit]
    defaults: Defaults
    always_free_types: dict[str, str]


class ShapePrice(_Data):
    ocpu_hour: float
    gb_hour: float
    note: str = ""


class Prices(_Data):
    source: str
    read: str
    provenance: str
    currency: str
    hours_per_month: int
    estimate: Literal[True]
    shapes: dict[str, ShapePrice]
    storage: dict[str, float]
    network: dict[str, float]


def profile_names() -> list[str]:
    folder = resources.files("freetier.guard") / "profiles"
    return sorted(
        p.name.removesuffix(".yaml")
        for p in folder.iterdir()
        if p.name.endswith(".yaml") and p.name != "prices.yaml"
    )


def load_profile(name: str) -> Profile:
    if name not in profile_names():
        raise ConfigError(
            [f"unknown free-tier profile {name!r}; known: {', '.join(profile_names())}"]
        )
    return Profile.model_validate(_read(f"{name}.yaml"))


def load_prices() -> Prices:
    return Prices.model_validate(_read("prices.yaml"))


def _read(filename: str) -> object:
    text = (resources.files("freetier.guard") / "profiles" / filename).read_text("utf-8")
    return YAML(typ="safe").load(text)
