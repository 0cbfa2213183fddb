"""A small, dependency-free reader for the HCL the tofu layers are written in.

Just enough structure for tests: comments stripped, top-level blocks with their
labels and body, attributes with their (raw) value text. Strings, `${...}`
interpolations and nested brackets are skipped correctly; heredocs are not
supported (the layers do not use them, and `blocks` refuses them).

python-hcl2 is not used on purpose: checkov depends on bc-python-hcl2, a fork
that installs the same `hcl2` module, so the two cannot share a virtualenv.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADER = re.compile(r'[ \t]*([A-Za-z_][\w-]*)((?:[ \t]+"[^"\n]*")*)[ \t]*\{')
ATTRIBUTE = re.compile(r"[ \t]*([A-Za-z_][\w-]*)[ \t]*=(?!=)[ \t]*")
OPENERS = {"{": "}", "[": "]", "(": ")"}


def skip_string(text: str, start: int) -> int:
    """Index just past the string literal whose opening quote is at `start`."""
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
        elif char == '"':
            return i + 1
        elif char in "$%" and text.startswith("{", i + 1):
            i = match_close(text, i + 1) + 1
        else:
            i += 1
    raise ValueError(f"unterminated string at offset {start}")


def match_close(text: str, start: int) -> int:
    """Index of the bracket closing the one at `start`, skipping strings."""
    stack = [OPENERS[text[start]]]
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            i = skip_string(text, i)
            continue
        if char in OPENERS:
            stack.append(OPENERS[char])
        elif char in ")]}":
            if char != stack.pop():
                raise ValueError(f"unbalanced {char!r} at offset {i}")
            if not stack:
                return i
        i += 1
    raise ValueError(f"unclosed {text[start]!r} at offset {start}")


def strip_comments(text: str) -> str:
    """The text with `#`, `//` and `/* */` comments blanked (newlines kept)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            end = skip_string(text, i)
            out.append(text[i:end])
            i = end
        elif char == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            end = len(text) if end == -1 else end
            out.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.index("*/", i) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        else:
            out.append(char)
            i += 1
    return "".join(out)


def value_end(text: str, start: int) -> int:
    """End of the attribute value starting at `start`: its line, or its brackets."""
    i = start
    while i < len(text) and text[i] != "\n":
        if text[i] == '"':
            i = skip_string(text, i)
        elif text[i] in OPENERS:
            i = match_close(text, i) + 1
        else:
            i += 1
    return i


@dataclass
class Block:
    kind: str
    labels: tuple[str, ...]
    body: str
    attributes: dict[str, str] = field(default_factory=dict)
    children: list[Block] = field(default_factory=list)

    def find(self, kind: str, *labels: str) -> list[Block]:
        return [b for b in self.children if b.kind == kind and b.labels[: len(labels)] == labels]

    def one(self, kind: str, *labels: str) -> Block:
        found = self.find(kind, *labels)
        assert len(found) == 1, f"expected one {kind} {labels} block, found {len(found)}"
        return found[0]

    def attr(self, name: str) -> str:
        assert name in self.attributes, f"{self.kind} {self.labels}: no attribute {name}"
        return self.attributes[name]


def parse(text: str, kind: str = "file", labels: tuple[str, ...] = ()) -> Block:
    """Parse a file (or block body) into a Block with nested children."""
    if "<<" in text:
        raise ValueError("heredocs are not supported by this reader")
    text = strip_comments(text)
    block = Block(kind, labels, text)
    i = 0
    while i < len(text):
        header = HEADER.match(text, i)
        attribute = ATTRIBUTE.match(text, i)
        if header:
            open_at = header.end() - 1
            close_at = match_close(text, open_at)
            child_labels = tuple(re.findall(r'"([^"]*)"', header.group(2)))
            body = text[open_at + 1 : close_at]
            block.children.append(parse(body, header.group(1), child_labels))
            i = close_at + 1
        elif attribute:
            end = value_end(text, attribute.end())
            block.attributes[attribute.group(1)] = text[attribute.end() : end].strip()
            i = end
        else:
            newline = text.find("\n", i)
            i = len(text) if newline == -1 else newline + 1
    return block


def unquote(value: str) -> str:
    """A plain string literal's content (no interpolation expected)."""
    assert value.startswith('"') and value.endswith('"'), f"not a string literal: {value}"
    return value[1:-1]
