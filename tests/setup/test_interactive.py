"""`freetier init` on a terminal: a real pseudo-terminal drives `python -m freetier init`, answers
each question, and types secrets that the terminal must not echo; and the same questions
through the stage's Prompter, for the GitHub secrets a terminal user is asked for."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from freetier.secrets.model import IDENTITY_FILE
from tests.secrets.test_store import decrypt
from tests.setup.conftest import World
from tests.setup.test_init import GRAFANA

HIDDEN = "glc_typed-at-the-terminal-5e6f"


class Terminal:
    """A child process on a pseudo-terminal, read and written as a person would."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.transcript = ""

    def expect(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.transcript:
            left = deadline - time.monotonic()
            if left <= 0 or (self.process.poll() is not None and not self._ready(0)):
                raise AssertionError(f"never saw {text!r}; got:\n{self.transcript}")
            if self._ready(min(left, 0.5)):
                self._read()

    def _ready(self, timeout: float) -> bool:
        return bool(select.select([self.master], [], [], timeout)[0])

    def _read(self) -> None:
        with contextlib.suppress(OSError):  # the child closed the terminal
            self.transcript += os.read(self.master, 4096).decode(errors="replace")

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout: float = 120.0) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            if self._ready(0.2):
                self._read()
        while self._ready(0.1):
            before = len(self.transcript)
            self._read()
            if len(self.transcript) == before:
                break
        os.close(self.master)
        return self.process.wait(timeout=5)


def test_questions_on_a_terminal_with_hidden_secrets(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FREETIER_SECRET_GRAFANA_CLOUD_TOKEN")
    world.oci.subscribe_region("eu-frankfurt-1", home=True)
    argv = [sys.executable, "-m", "freetier", "init", "--stack", str(world.stack)]
    term = Terminal(argv, dict(os.environ))
    term.expect("Stack name [freetier]: ")
    term.send("")  # keep the default
    # The default offered for the region is the tenancy's home region, not the file's.
    term.expect("OCI region (your home region) [eu-frankfurt-1]: ")
    term.send("")
    term.expect(f"Compartment OCID [{world.credentials.tenancy}]: ")
    term.send("")
    term.expect("(comma-separated) [203.0.113.10/32]: ")
    term.send("100.64.0.7/32, 100.64.0.8/32")
    term.expect("Flux repository URL [https://github.com/your-org/freetier]: ")
    term.send("https://github.com/octo/lab")
    term.expect("Budget alert e-mail [you@example.com]: ")
    term.send("me@lab.test")
    term.expect("grafana-cloud prometheus_url: ")
    term.send("")  # later
    term.expect("grafana-cloud prometheus_username: ")
    term.send("")
    term.expect("grafana-cloud loki_url: ")
    term.send("")
    term.expect("grafana-cloud loki_username: ")
    term.send("")
    term.expect("grafana-cloud token: ")
    term.send(HIDDEN)
    assert term.finish() == 0, term.transcript

    assert HIDDEN not in term.transcript  # not echoed, not printed
    assert "Secret grafana-cloud: token" in term.transcript
    text = world.stack.read_text()
    assert "  region: eu-frankfurt-1     " in text
    assert "    - 100.64.0.7/32\n    - 100.64.0.8/32    " in text
    assert "  repo_url: https://github.com/octo/lab\n" in text
    assert "  alert_email: me@lab.test\n" in text
    assert decrypt(world.root, GRAFANA)["stringData"]["token"] == HIDDEN  # type: ignore[index]
    assert (world.root / IDENTITY_FILE).exists()


class Script:
    """Answers for the stage's Prompter, in order; records what was asked."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def ask(self, question: str, default: str | None) -> str:
        self.asked.append(question)
        return self.answers.pop(0) or (default or "")

    def ask_secret(self, question: str) -> str:
        self.asked.append(question)
        return self.answers.pop(0)


def test_github_secrets_missing_from_the_environment_are_asked_for(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TS_OAUTH_SECRET")
    monkeypatch.delenv("STATE_SECRET_KEY")
    # Six stack questions and four Grafana values kept as they are, then the two secrets.
    script = Script(["", "", "", "", "", "", "", "", "", "", "", "typed-oauth-secret"])
    report = world.init(prompter=script)
    assert script.asked[-2:] == [
        "STATE_SECRET_KEY: Object Storage customer secret key: secret key (remote state) "
        "(empty: later)",
        "TS_OAUTH_SECRET: Tailscale OAuth client secret the deploy job joins with (empty: later)",
    ]
    assert script.answers == []
    github = world.github
    assert github.secret_value(world.repo, "TS_OAUTH_SECRET", "production") == "typed-oauth-secret"
    rows = {(r.item, r.status) for r in report.rows}
    # Asked once, though plan and production both hold it; skipped in both when left empty.
    assert ("GitHub plan: STATE_SECRET_KEY", "skipped") in rows
    assert ("GitHub production: STATE_SECRET_KEY", "skipped") in rows
    assert sum("STATE_SECRET_KEY" in q for q in script.asked) == 1


def test_stdin_not_a_terminal_asks_nothing(world: World) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "freetier", "init", "--stack", str(world.stack), "--skip-oci"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "Stack name" not in done.stdout
    assert Path(world.root / IDENTITY_FILE).exists()
