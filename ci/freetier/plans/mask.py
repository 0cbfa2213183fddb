"""Masking of plan values and plan text: what terraform marked sensitive, what is named like a
secret, and every value registered as secret, in every form it is printed in
(`freetier.masking`). Pure; plans are JSON (dict/list/str/...), so the
walk checks exact types, never ABCs (it runs over every value of 10,000-resource plans).

>>> secrets = Secrets(values=("hunter2",))
>>> mask_value({"a": "x", "b": ["y", "z"]}, {"b": [False, True]}, secrets)
{'a': 'x', 'b': ['y', '(sensitive)']}
>>> mask_value({"db": {"password": "pw", "user": "u"}}, {}, secrets)
{'db': {'password': '(sensitive)', 'user': 'u'}}
>>> mask_value("login:hunter2", False, secrets)
'login:(sensitive)'
>>> mask_text('export PW=hunter2 JSON="hunter2" B64=aHVudGVyMg==', secrets)
'export PW=(sensitive) JSON="(sensitive)" B64=(sensitive)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from freetier.masking import Masking, all_forms, secrets_regex
from freetier.plans.model import SENSITIVE, Secrets

# A value found sensitive in one place is masked wherever else it shows up (terraform copies
# values into attributes it does not mark, and prints those in the text), but only when it is
# this long: masking every "1" or "yes" in a plan would hide the plan, not the secret.
MIN_PROPAGATED_LEN = 6
NO_SECRETS = Secrets()  # nothing registered; the default name pattern


class Masker:
    """One masking pass: the name pattern compiled once, names looked up once, and the
    strings it hid under a sensitive mark or a secret name collected in `found`."""

    def __init__(self, secrets: Secrets, extra_values: Iterable[str] = ()) -> None:
        self.pattern = re.compile(secrets.name_pattern)
        # Registered secrets in every form; terraform's own sensitive values (which it also
        # marks wherever it derives them, base64 included) as they are quoted.
        self.forms = all_forms(secrets.values) | all_forms(extra_values, with_base64=False)
        self._values_rx = secrets_regex(self.forms)
        # A string shorter than every form cannot hold one: skip the regex for it.
        self._shortest = min((len(v) for v in self.forms), default=0)
        self.found: set[str] = set()
        self._names: dict[str, bool] = {}

    def secret_name(self, name: str) -> bool:
        hit = self._names.get(name)
        if hit is None:
            hit = self._names[name] = self.pattern.search(name) is not None
        return hit

    def value(self, value: Any, sensitive: Any = False, name: str | None = None) -> Any:
        """A masked copy of `value`; `sensitive` is its before/after_sensitive tree."""
        if name is not None and self.secret_name(name):
            return self.hide(value)
        return self._walk(value, sensitive)

    def text(self, text: str) -> str:
        """`text` with registered values and everything this pass hid replaced."""
        forms = self.forms | all_forms(self.found, with_base64=False)
        return Masking(secrets_regex(forms)).text(text)

    def hide(self, value: Any) -> Any:
        """SENSITIVE for anything but null, remembering the strings it hides."""
        if value is None:
            return None
        collect_strings(value, self.found)
        return SENSITIVE

    def _walk(self, value: Any, sensitive: Any) -> Any:
        if sensitive is True:
            return self.hide(value)
        kind = type(value)
        if kind is dict:
            marks = sensitive if type(sensitive) is dict else None
            out: dict[str, Any] = {}
            for key, item in value.items():
                if self.secret_name(key):
                    masked = self.hide(item)
                else:
                    masked = self._walk(item, marks.get(key) if marks else None)
                out[self._string(key) if self._values_rx else key] = masked
            return out
        if kind is list:
            marks_list = sensitive if type(sensitive) is list else None
            if marks_list is None:
                return [self._walk(item, None) for item in value]
            size = len(marks_list)
            return [
                self._walk(item, marks_list[i] if i < size else None)
                for i, item in enumerate(value)
            ]
        if kind is str and self._values_rx:
            return self._string(value)
        return value

    def holds_secret(self, text: str) -> bool:
        """True when `text` contains a registered (or propagated) secret value."""
        return self._values_rx is not None and self._values_rx.search(text) is not None

    def _string(self, text: str) -> str:
        rx = self._values_rx
        if rx is None or len(text) < self._shortest or rx.search(text) is None:
            return text
        return rx.sub(SENSITIVE, text)


def mask_value(value: Any, sensitive: Any, secrets: Secrets, name: str | None = None) -> Any:
    """A copy of `value` with every part marked `true` in `sensitive` (at any depth), every
    attribute named like a secret and every registered secret inside a string masked.
    `name` is the value's own name (an output's, say), checked against the pattern too."""
    return Masker(secrets).value(value, sensitive, name)


def mask_text(text: str, secrets: Secrets) -> str:
    """`text` with every registered secret, in every printed form, replaced: the longest where
    several start at one place, in one pass (plans bring hundreds of values and megabytes of
    text)."""
    return Masking.of(secrets.values).text(text)


def collect_strings(value: Any, into: set[str]) -> None:
    """Add every string in `value` long enough to be worth masking elsewhere."""
    kind = type(value)
    if kind is str:
        if len(value) >= MIN_PROPAGATED_LEN:
            into.add(value)
    elif kind is dict:
        for item in value.values():
            collect_strings(item, into)
    elif kind is list:
        for item in value:
            collect_strings(item, into)


def collect_sensitive(value: Any, sensitive: Any, into: set[str]) -> None:
    """Add the strings under `true` marks of a sensitive tree, walking only where it has marks."""
    if sensitive is True:
        collect_strings(value, into)
    elif type(sensitive) is dict and type(value) is dict:
        for key, marks in sensitive.items():
            if marks:
                collect_sensitive(value.get(key), marks, into)
    elif type(sensitive) is list and type(value) is list:
        for item, marks in zip(value, sensitive, strict=False):
            if marks:
                collect_sensitive(item, marks, into)
