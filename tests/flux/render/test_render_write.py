"""Writing the tree: lock file, hand edits kept as conflicts, --force, seeds, removals, staging."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.flux.render import LOCK_FILE, apply_render, plan_render, render_tree, seed_files
from freetier.flux.render_write import sha256
from freetier.secrets.model import SecretKey, SecretSpec
from freetier.stack import Stack

from .conftest import with_apps

RELEASE = "infrastructure/controllers/cert-manager/release.yaml"
VALUES = "apps/freetier/values/grafana-alloy.yaml"
SPEC = SecretSpec("s", "default", "apps/freetier/s.sops.yaml", (SecretKey("k", "x", ""),), "t")


def render(root: Path, stack: Stack, *, force: bool = False) -> None:
    plan = plan_render(root, render_tree(stack), seed_files(stack), (), force=force)
    apply_render(root, plan)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_first_render_writes_tree_seeds_and_lock(tmp_path: Path, shipped: Stack) -> None:
    render(tmp_path, shipped)
    tree = render_tree(shipped)
    for path, text in tree.items():
        assert (tmp_path / path).read_text() == text
    assert (tmp_path / VALUES).read_text() == seed_files(shipped)[VALUES]
    lock = json.loads((tmp_path / LOCK_FILE).read_text())["files"]
    assert lock == {p: sha256(t) for p, t in tree.items()}
    assert VALUES not in lock
    assert not list((tmp_path / ".freetier").glob("render-*"))  # staging cleaned up


def test_second_render_changes_no_byte(tmp_path: Path, shipped: Stack) -> None:
    render(tmp_path, shipped)
    before = snapshot(tmp_path)
    plan = plan_render(tmp_path, render_tree(shipped), seed_files(shipped), ())
    assert plan.up_to_date and not plan.diffs()
    apply_render(tmp_path, plan)
    assert snapshot(tmp_path) == before


def test_stack_change_rewrites_unedited_files(tmp_path: Path, shipped: Stack) -> None:
    render(tmp_path, shipped)
    moved = shipped.model_copy(
        update={"flux": shipped.flux.model_copy(update={"branch": "release"})}
    )
    plan = plan_render(tmp_path, render_tree(moved), seed_files(moved), ())
    assert list(plan.writes) == ["clusters/freetier/flux-system/gotk-sync.yaml"]
    assert "+    branch: release" in "".join(plan.diffs())
    apply_render(tmp_path, plan)
    assert (
        "branch: release" in (tmp_path / "clusters/freetier/flux-system/gotk-sync.yaml").read_text()
    )


def test_hand_edit_survives_and_is_reported(tmp_path: Path, shipped: Stack) -> None:
    render(tmp_path, shipped)
    edited = (tmp_path / RELEASE).read_text().replace("interval: 30m", "interval: 5m")
    (tmp_path / RELEASE).write_text(edited)
    bumped = shipped.model_copy(
        update={"flux": shipped.flux.model_copy(update={"branch": "release"})}
    )
    plan = plan_render(tmp_path, render_tree(bumped), seed_files(bumped), ())
    [conflict] = plan.conflicts
    assert conflict.path == RELEASE and "by hand" in conflict.reason
    assert "-  interval: 5m" in conflict.diff and "+  interval: 30m" in conflict.diff
    apply_render(tmp_path, plan)
    assert (tmp_path / RELEASE).read_text() == edited  # kept
    assert (
        "branch: release" in (tmp_path / "clusters/freetier/flux-system/gotk-sync.yaml").read_text()
    )
    again = plan_render(tmp_path, render_tree(bumped), seed_files(bumped), ())
    assert [c.path for c in again.conflicts] == [RELEASE]  # still known as edited


def test_force_overwrites_hand_edits_but_never_values(tmp_path: Path, shipped: Stack) -> None:
    render(tmp_path, shipped)
    (tmp_path / RELEASE).write_text("edited\n")
    (tmp_path / VALUES).write_text("alloy: {enableReporting: true}\n")
    render(tmp_path, shipped, force=True)
    assert (tmp_path / RELEASE).read_text() == render_tree(shipped)[RELEASE]
    assert (tmp_path / VALUES).read_text() == "alloy: {enableReporting: true}\n"


def test_a_file_freetier_did_not_write_is_a_conflict(tmp_path: Path, shipped: Stack) -> None:
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters/README.md").write_text("mine\n")
    plan = plan_render(tmp_path, render_tree(shipped), seed_files(shipped), ())
    [conflict] = plan.conflicts
    assert conflict.path == "clusters/README.md" and "not written by freetier" in conflict.reason
    apply_render(tmp_path, plan)
    assert (tmp_path / "clusters/README.md").read_text() == "mine\n"


def test_files_no_longer_generated_go_only_if_unchanged(tmp_path: Path, shipped: Stack) -> None:
    render(tmp_path, shipped)
    tailscale = "infrastructure/controllers/tailscale-operator/release.yaml"
    (tmp_path / RELEASE).write_text("edited cert-manager\n")
    off = with_apps(shipped, tailscale_operator=False, cert_manager=False)
    plan = plan_render(tmp_path, render_tree(off), seed_files(off), ())
    assert tailscale in plan.removes and RELEASE not in plan.removes
    assert [c.path for c in plan.conflicts] == [RELEASE]
    assert "no longer generated" in plan.conflicts[0].reason
    apply_render(tmp_path, plan)
    assert not (tmp_path / tailscale).exists()
    assert not (tmp_path / "infrastructure/controllers/tailscale-operator").exists()
    assert (tmp_path / RELEASE).read_text() == "edited cert-manager\n"
    render(tmp_path, off, force=True)
    assert not (tmp_path / RELEASE).exists()


def test_values_seed_is_recreated_only_when_missing(tmp_path: Path, shipped: Stack) -> None:
    render(tmp_path, shipped)
    (tmp_path / VALUES).unlink()
    plan = plan_render(tmp_path, render_tree(shipped), seed_files(shipped), ())
    assert list(plan.seeds) == [VALUES] and not plan.writes
    apply_render(tmp_path, plan)
    assert (tmp_path / VALUES).is_file()


def test_failed_staging_leaves_the_tree_untouched(tmp_path: Path, shipped: Stack) -> None:
    render(tmp_path, shipped)
    before = snapshot(tmp_path)
    bumped = shipped.model_copy(
        update={"flux": shipped.flux.model_copy(update={"branch": "release"})}
    )
    plan = plan_render(tmp_path, render_tree(bumped), seed_files(bumped), (SPEC,))

    def broken_seal(spec: SecretSpec, output: Path) -> None:
        raise ConfigError(["sops exploded"])

    with pytest.raises(ConfigError):
        apply_render(tmp_path, plan, broken_seal)
    assert snapshot(tmp_path) == before
    assert not list((tmp_path / ".freetier").glob("render-*"))


def test_corrupt_lock_is_bad_input(tmp_path: Path, shipped: Stack) -> None:
    (tmp_path / ".freetier").mkdir()
    (tmp_path / LOCK_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="lock file"):
        plan_render(tmp_path, render_tree(shipped), {}, ())


def _interrupt_after(renames: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Ctrl-C arrives after `renames` renames of the swap (a staged file moved into the tree,
    or a file to remove moved aside); returns the running count."""
    count = [0]
    real_replace, real_rename = Path.replace, os.rename

    def tick() -> None:
        if count[0] == renames:
            raise KeyboardInterrupt
        count[0] += 1

    def replace(self: Path, target: Path) -> Path:
        if "/render-" in str(self):
            tick()
        return real_replace(self, target)

    def rename(src: str | Path, dst: str | Path) -> None:
        tick()
        real_rename(src, dst)

    monkeypatch.setattr(Path, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    return count


def test_an_interrupt_after_any_rename_leaves_the_old_tree_and_its_lock(
    tmp_path: Path, shipped: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renaming the cluster moves the whole tree: new folders, rewrites, removals, the lock."""
    render(tmp_path, shipped)
    before = snapshot(tmp_path)
    renamed = shipped.model_copy(update={"name": "other"})
    plan = plan_render(tmp_path, render_tree(renamed), seed_files(renamed), ())
    assert plan.removes and plan.writes  # the swap both adds and removes
    with monkeypatch.context() as m:
        total = _interrupt_after(10_000, m)
        apply_render(tmp_path, plan)
    after = snapshot(tmp_path)
    assert after != before
    for renames in range(total[0]):
        shutil.rmtree(tmp_path)
        tmp_path.mkdir()
        for path, data in before.items():
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_bytes(data)
        with monkeypatch.context() as m:
            _interrupt_after(renames, m)
            with pytest.raises(KeyboardInterrupt):
                apply_render(tmp_path, plan)
        assert snapshot(tmp_path) == before, f"interrupted after {renames} renames"
        assert _folders(tmp_path) == _folders_of(before), f"after {renames} renames"


def _folders(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}


def _folders_of(files: dict[str, bytes]) -> set[str]:
    return {str(parent) for f in files for parent in Path(f).parents if str(parent) != "."}
