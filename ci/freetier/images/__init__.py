"""The images stage: hardened Debian images built from packages (recipes in images/), their
hardening audit, size gates and boot test. Upload and import live beside these modules."""

from __future__ import annotations

from freetier.images.audit import AuditReport, CheckResult, audit_rootfs, render_audit
from freetier.images.boot import boot_test
from freetier.images.build import BuildResult, build_image, image_stem
from freetier.images.gate import GateResult, find_images, gate
from freetier.images.recipe import ARCHES, Recipe, load_recipe, recipe_names

__all__ = [
    "ARCHES",
    "AuditReport",
    "BuildResult",
    "CheckResult",
    "GateResult",
    "Recipe",
    "audit_rootfs",
    "boot_test",
    "build_image",
    "find_images",
    "gate",
    "image_stem",
    "load_recipe",
    "recipe_names",
    "render_audit",
]
