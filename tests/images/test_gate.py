"""Size gates: each image under its gate, the total (plus the bucket's usage) under total_gb."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freetier.images.gate import GB, gate, render_gate_text
from freetier.stack.model import ImageGates
from tests.conftest import SHIPPED_STACK
from tests.images import run_images

GATES = ImageGates()  # base 8, proxmox 10, total 20


def _image(folder: Path, name: str, gb: float) -> Path:
    """A sparse file of that apparent size (the gate reads st_size, as the upload sends)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("wb") as fh:
        fh.truncate(int(gb * GB))
    return path


def test_under_every_gate(tmp_path: Path) -> None:
    images = [
        _image(tmp_path, "base-arm64.qcow2", 0.4),
        _image(tmp_path, "proxmox-arm64.qcow2", 1.5),
    ]
    result = gate(images, GATES)
    assert result.ok and result.exit_code == 0
    assert [(r.name, r.limit_gb, r.ok) for r in result.rows] == [
        ("base-arm64.qcow2", 8, True),
        ("proxmox-arm64.qcow2", 10, True),
    ]
    assert result.total_gb == pytest.approx(1.9)


def test_one_image_over_its_gate(tmp_path: Path) -> None:
    result = gate([_image(tmp_path, "base-amd64.qcow2", 8.2)], GATES)
    assert not result.ok and result.exit_code == 1
    assert result.total_ok and not result.rows[0].ok
    assert "base-amd64.qcow2  8.200    8        OVER" in render_gate_text(result)


def test_total_over_with_the_bucket_usage(tmp_path: Path) -> None:
    images = [_image(tmp_path, "base-arm64.qcow2", 7), _image(tmp_path, "proxmox-arm64.qcow2", 9)]
    assert gate(images, GATES).ok
    result = gate(images, GATES, bucket_usage_gb=4.5)
    assert not result.ok and all(r.ok for r in result.rows) and not result.total_ok
    text = render_gate_text(result)
    assert "(bucket, current usage)  4.500" in text
    assert text.splitlines()[-2].split() == ["total", "20.500", "20", "OVER"]
    assert text.endswith("size gates: over\n")


def test_other_images_count_towards_the_total_only(tmp_path: Path) -> None:
    talos = _image(tmp_path, "talos-arm64.qcow2", 15)
    result = gate([talos, _image(tmp_path, "base-arm64.qcow2", 6)], GATES)
    assert result.rows[1].limit_gb is None and result.rows[1].ok
    assert not result.total_ok


def _stack_with_gates(tmp_path: Path, base_gb: float) -> Path:
    text = SHIPPED_STACK.read_text().replace(
        "free_tier:", f"images:\n  gates:\n    base_gb: {base_gb}\n\nfree_tier:"
    )
    path = tmp_path / "stack.yaml"
    path.write_text(text)
    return path


def test_cli_gate_table_json_and_exit_codes(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    _image(folder, "base-arm64.qcow2", 0.6)
    _image(folder, "base-arm64.manifest.json", 0.001)  # not an image: not counted
    ok = run_images(["images", "gate", "--dir", str(folder), "--stack", str(SHIPPED_STACK)])
    assert ok.code == 0, ok.err
    assert ok.out.splitlines()[0].split() == ["IMAGE", "SIZE", "GB", "GATE", "GB"]
    assert ok.out.endswith("size gates: ok\n")
    over = run_images(
        ["images", "gate", "--dir", str(folder), "--format", "json",
         "--stack", str(_stack_with_gates(tmp_path, 0.5))]
    )  # fmt: skip
    assert over.code == 1
    body = json.loads(over.out)
    assert body["ok"] is False and body["total_ok"] is True
    assert body["images"] == [
        {"name": "base-arm64.qcow2", "size_gb": 0.6, "limit_gb": 0.5, "ok": False}
    ]


def test_cli_gate_bad_input_is_one_line(tmp_path: Path) -> None:
    missing = run_images(["images", "gate", "--dir", str(tmp_path / "nope"),
                          "--stack", str(SHIPPED_STACK)])  # fmt: skip
    assert missing.code == 2
    assert missing.errors == [f"freetier: error: --dir {tmp_path / 'nope'}: no such folder"]
    empty = run_images(["images", "gate", "--dir", str(tmp_path), "--stack", str(SHIPPED_STACK)])
    assert empty.code == 2 and len(empty.errors) == 1


def test_cli_gate_live_without_oci_credentials_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--live asks freetier.images.objectstore.bucket_usage_gb(stack, env, home)."""
    _image(tmp_path / "out", "base-arm64.qcow2", 0.5)
    for var in ("OCI_CLI_CONFIG_FILE", "OCI_CLI_PROFILE", "FREETIER_OCI_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    run = run_images(["images", "gate", "--live", "--dir", str(tmp_path / "out"),
                      "--stack", str(SHIPPED_STACK)])  # fmt: skip
    assert run.code == 2 and len(run.errors) == 1, run.err
