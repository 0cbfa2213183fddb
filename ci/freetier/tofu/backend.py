"""Where a layer's remote state lives: the bucket and key of the backend settings file that
`tofu init -backend-config=FILE` reads (tofu/oci/README.md shows one).

Only `bucket` and `key` are read. The file may also hold an access key and its secret, so no
other value is kept and no line of the file is ever quoted in an error: errors name the file
and the setting only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from freetier.errors import ConfigError
from freetier.files import read_text

# A top-level `name = "value"` (the only form bucket and key take), after comments are gone.
_ATTRIBUTE = re.compile(r'^\s*([A-Za-z_][\w-]*)\s*=\s*("(?:[^"\\]|\\.)*")\s*$')
_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|(#|//)[^\n]*|/\*.*?\*/', re.DOTALL)


@dataclass(frozen=True)
class StateObject:
    """The state's object in the S3-compatible API: bucket and key (default workspace)."""

    bucket: str
    key: str


def _drop_comments(text: str) -> str:
    return _COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)


def top_level_strings(text: str) -> dict[str, str]:
    """The top-level attributes of an HCL settings file whose value is a plain string.

    >>> top_level_strings('bucket = "b" # state\\nendpoints = { s3 = "https://x" }\\nkey="k"')
    {'bucket': 'b', 'key': 'k'}
    """
    found: dict[str, str] = {}
    depth = 0
    for line in _drop_comments(text).splitlines():
        match = _ATTRIBUTE.match(line) if depth == 0 else None
        if match is not None:
            value = _plain_string(match.group(2))
            if value is not None:
                found[match.group(1)] = value
            continue
        bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", line)  # braces inside strings do not nest
        depth += sum(bare.count(c) for c in "{[(") - sum(bare.count(c) for c in "}])")
    return found


def _plain_string(literal: str) -> str | None:
    """An HCL string literal's value (its escapes are JSON's), or None for a template."""
    if "${" in literal or "%{" in literal:
        return None
    try:
        value = json.loads(literal)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def read_state_object(path: Path) -> StateObject:
    """The bucket and key a backend settings file names; ConfigError when one is missing."""
    settings = top_level_strings(read_text(path))
    missing = [name for name in ("bucket", "key") if not settings.get(name)]
    if missing:
        raise ConfigError(
            [
                f'{path}: no {name} = "..." setting: freetier locks the state beside it'
                for name in missing
            ]
        )
    return StateObject(settings["bucket"], settings["key"])
