"""A command loads only what it runs: `freetier --help` no stage, `stack validate` the stack
model and nothing of the cloud. Checked in a fresh interpreter, from `sys.modules`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import SHIPPED_STACK

PROBE = """
import contextlib, io, json, sys
from freetier.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(sys.argv[1:])
print(json.dumps(sorted(sys.modules)))
"""
HEAVY = ("oci", "github", "pydantic", "ruamel", "yaml", "jsonschema", "kubernetes_validate")


def loaded_after(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def _stages(modules: set[str]) -> set[str]:
    """The toolkit's modules beyond the CLI, the foundation and the plain data its parser is
    built from."""
    light = {"errors", "files", "layers", "image_ocids", "images", "images.options"}
    return {
        m
        for m in modules
        if m.startswith("freetier.")
        and not m.startswith("freetier.cli")
        and m.removeprefix("freetier.") not in light
    }


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []])
def test_the_top_level_loads_no_stage_and_no_heavy_library(argv: list[str]) -> None:
    modules = loaded_after(*argv)
    assert _stages(modules) == set()
    assert {m.split(".")[0] for m in modules} & set(HEAVY) == set()


def test_stack_validate_loads_the_stack_and_nothing_of_the_cloud() -> None:
    modules = loaded_after("stack", "validate", str(SHIPPED_STACK))
    assert "freetier.stack.model" in modules and "pydantic" in modules
    assert {m.split(".")[0] for m in modules} & {"oci", "github", "jsonschema"} == set()
    stack = {"", ".checks", ".compat", ".derive", ".load", ".model", ".problem", ".schema"}
    # and the free-tier guard's pure core, offline, for the verdict on the current allowance
    loaded = _stages(modules) - {f"freetier.stack{m}" for m in stack}
    assert {m for m in loaded if _layer_of(m) > CORES} == set()  # no adapter, no stage
    assert "freetier.guard.run" in loaded and "freetier.tenancy" not in loaded


def test_a_subcommand_help_loads_only_its_own_group() -> None:
    modules = loaded_after("images", "publish", "--help")
    assert "freetier.cli.images_publish" in modules
    assert {m.split(".")[0] for m in modules} & set(HEAVY) == set()


@pytest.mark.parametrize("target", ["register", "cmd_stack_validate"], ids=["parsing", "running"])
def test_ctrl_c_at_any_moment_is_one_line_and_exit_130(
    target: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """While the parser is built (a module being imported) or while the command runs."""
    from freetier.cli import main, stack

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(stack, target, interrupted)  # register() reads the handler by name
    assert main(["stack", "validate", str(SHIPPED_STACK)]) == 130
    assert capsys.readouterr().err == "freetier: interrupted\n"


CORES = 2  # the layer of the pure cores in docs/architecture.md


def _layer_of(module: str) -> int:
    """The docs/architecture.md layer a `freetier.` module's package sits in."""
    from tests.test_architecture import documented_layers

    return documented_layers()[module.split(".")[1]]


def test_a_reader_that_goes_away_is_a_quiet_exit_141() -> None:
    """`freetier talos config | head -1`: no traceback once the pipe's reader has closed."""
    read, write = os.pipe()
    os.close(read)  # every write to the pipe now fails with EPIPE
    try:
        result = subprocess.run(
            [sys.executable, "-m", "freetier", "talos", "config", "--stack", str(SHIPPED_STACK)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert result.returncode == 141
    assert result.stderr == ""
