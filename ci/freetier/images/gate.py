"""Size gates (the design document's, as stack settings): each image under its gate, and all
images plus what the bucket already holds under the total, which keeps uploads inside the
20 GB of Always Free Object Storage. Pure: sizes in, verdict out.

GB here is 10^9 bytes, the larger reading of "GB", so the gate errs on the safe side.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from freetier.stack.model import ImageGates

GB = 1e9
IMAGE_SUFFIXES = (".qcow2", ".oci")


@dataclass(frozen=True)
class GateRow:
    name: str
    size_gb: float
    limit_gb: float | None  # None: no per-image gate (counts towards the total only)

    @property
    def ok(self) -> bool:
        return self.limit_gb is None or self.size_gb <= self.limit_gb


@dataclass(frozen=True)
class GateResult:
    rows: tuple[GateRow, ...]
    bucket_gb: float
    total_gb: float
    total_limit_gb: float

    @property
    def total_ok(self) -> bool:
        return self.total_gb <= self.total_limit_gb

    @property
    def ok(self) -> bool:
        return self.total_ok and all(r.ok for r in self.rows)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def image_limit(name: str, gates: ImageGates) -> float | None:
    """base-*.qcow2 -> base_gb, proxmox-*.qcow2 -> proxmox_gb, anything else: none."""
    kind = name.split("-", 1)[0]
    return {"base": gates.base_gb, "proxmox": gates.proxmox_gb}.get(kind)


def gate(images: list[Path], gates: ImageGates, bucket_usage_gb: float = 0) -> GateResult:
    """Check each image against its gate and all of them, plus the bucket's current usage,
    against gates.total_gb."""
    return gate_sizes(
        [(p.name, p.stat().st_size / GB) for p in sorted(images)], gates, bucket_usage_gb
    )


def gate_sizes(
    sizes: Sequence[tuple[str, float]], gates: ImageGates, bucket_usage_gb: float = 0
) -> GateResult:
    """`gate` on (name, size in GB) pairs: images already uploaded, known by their size only."""
    rows = tuple(GateRow(name, size, image_limit(name, gates)) for name, size in sizes)
    total = sum(r.size_gb for r in rows) + bucket_usage_gb
    return GateResult(rows, bucket_usage_gb, total, gates.total_gb)


def find_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(IMAGE_SUFFIXES))


def render_gate_text(result: GateResult) -> str:
    rows = [("IMAGE", "SIZE GB", "GATE GB", "")]
    for r in result.rows:
        limit = f"{r.limit_gb:g}" if r.limit_gb is not None else "-"
        rows.append((r.name, f"{r.size_gb:.3f}", limit, "ok" if r.ok else "OVER"))
    if result.bucket_gb:
        rows.append(("(bucket, current usage)", f"{result.bucket_gb:.3f}", "-", ""))
    rows.append(
        (
            "total",
            f"{result.total_gb:.3f}",
            f"{result.total_limit_gb:g}",
            "ok" if result.total_ok else "OVER",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ]
    lines.append("size gates: " + ("ok" if result.ok else "over"))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def render_gate_json(result: GateResult) -> str:
    body = {
        "ok": result.ok,
        "images": [
            {"name": r.name, "size_gb": round(r.size_gb, 6), "limit_gb": r.limit_gb, "ok": r.ok}
            for r in result.rows
        ],
        "bucket_gb": round(result.bucket_gb, 6),
        "total_gb": round(result.total_gb, 6),
        "total_limit_gb": result.total_limit_gb,
        "total_ok": result.total_ok,
    }
    return json.dumps(body, indent=2) + "\n"
