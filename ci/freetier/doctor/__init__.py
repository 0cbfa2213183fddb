"""Which external tools each stage needs, and whether this machine has them."""

from freetier.doctor.probe import ToolStatus, blocked_stages, probe_tool, probe_tools
from freetier.doctor.tools import STAGES, TOOLS, Tool

__all__ = ["STAGES", "TOOLS", "Tool", "ToolStatus", "blocked_stages", "probe_tool", "probe_tools"]
