"""The engine's install step for this module, run offline with the real uv.

What Dagger v0.21's Python SDK runtime does (dagger/dagger, read at tag v0.21.8 and at the
head of the backport-0.21 branch, 00c993cbe4, whose sdk/python/runtime is the same; the
later v0.21 tags were not in the copy read):

- sdk/python/runtime/main.go, `WithInstall`: a module with neither `uv.lock` nor
  `requirements.lock` (`UseUvLock` in sdk/python/runtime/discovery.go) is installed with
  `uv pip install -e ./sdk -e .` and then `uv pip check`, run in the module's source folder;
  uv is on unless pyproject.toml says `[tool.dagger] use-uv = false` (`New` in main.go).
- `./sdk` is the SDK the runtime vendors into the module (`WithSDK`, `GenDir = "sdk"`):
  sdk/python itself, project `dagger-io` at version 0.0.0 in sdk/python/pyproject.toml.
- the uv is the one of sdk/python/runtime/images/uv/Dockerfile: 0.10.3.

Offline: uv gets no index, only a wheelhouse made here from the distributions installed in
this virtualenv. Each becomes a wheel with its real metadata (name, version, requirements)
and no files, since the resolver, which is what a pin breaks, reads only those; the build
backend and what it needs (hatchling, in the test extra) become wheels with their files,
since uv runs them, isolated as in the engine, to build the two editable installs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from dagger.mod import default_module
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from uv import find_uv_bin

from freetier.pipeline import Freetier
from tests.conftest import ROOT

RUNTIME_UV = "0.10.3"  # sdk/python/runtime/images/uv/Dockerfile at v0.21.8
INSTALL = ["pip", "install", "-e", "./sdk", "-e", "."]  # main.go WithInstall, no lock file
CHECK = ["pip", "check"]
# [build-system] here, also the stub SDK's below; hatchling asks for editables to build an
# editable install (hatchling/build.py get_requires_for_build_editable).
BUILD_BACKEND = ("hatchling", "editables")
OLD_PIN = "dagger-io==0.21.11"

# The SDK the engine vendors as ./sdk, reduced to what the install reads: its name,
# version and requirements (those of the dagger-io installed here).
STUB_SDK_PYPROJECT = """\
[project]
name = "dagger-io"
version = "0.0.0"
requires-python = ">=3.10"
dependencies = {dependencies}

[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/dagger"]
"""


def _wheel_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _wheel_tag(wheel_text: str) -> str:
    """The compressed tag set of a WHEEL file's `Tag:` lines (py3-none-any for most)."""
    tags = [
        line.split(":", 1)[1].strip().split("-")
        for line in wheel_text.splitlines()
        if line.startswith("Tag:")
    ]
    return "-".join(".".join(sorted({tag[i] for tag in tags})) for i in range(3))


def _write_wheel(dist: importlib.metadata.Distribution, out: Path, *, with_files: bool) -> None:
    """A wheel of an installed distribution: its metadata, and its files when asked."""
    stem = f"{_wheel_name(dist.metadata['Name'])}-{dist.version}"
    info = f"{stem}.dist-info"
    entries: dict[str, bytes] = {}
    if with_files:
        for file in dist.files or []:
            # Scripts (../../bin) and byte code are made again on install; the dist-info
            # is written below under the wheel's own name.
            if ".." in file.parts or "__pycache__" in file.parts or ".dist-info" in file.parts[0]:
                continue
            entries[file.as_posix()] = file.locate().read_bytes()
        wheel = dist.read_text("WHEEL") or ""
        if (entry_points := dist.read_text("entry_points.txt")) is not None:
            entries[f"{info}/entry_points.txt"] = entry_points.encode()
    else:
        wheel = "Wheel-Version: 1.0\nGenerator: freetier-tests\nRoot-Is-Purelib: true\n"
        wheel += "Tag: py3-none-any\n"
    entries[f"{info}/METADATA"] = (dist.read_text("METADATA") or "").encode()
    entries[f"{info}/WHEEL"] = wheel.encode()
    record = [_record_line(name, data) for name, data in entries.items()]
    entries[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,", ""]).encode()
    with zipfile.ZipFile(out / f"{stem}-{_wheel_tag(wheel)}.whl", "w") as whl:
        for name, data in entries.items():
            whl.writestr(name, data)


def _installed() -> dict[str, importlib.metadata.Distribution]:
    found: dict[str, importlib.metadata.Distribution] = {}
    for dist in importlib.metadata.distributions():
        found.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    return found


def _closure(root: str, installed: dict[str, importlib.metadata.Distribution]) -> set[str]:
    """`root` and everything it requires here, transitively."""
    todo, seen = [canonicalize_name(root)], set[str]()
    while todo:
        if (name := todo.pop()) in seen:
            continue
        seen.add(name)
        for req in map(Requirement, installed[name].requires or []):
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    installed = _installed()
    backend = set().union(*(_closure(name, installed) for name in BUILD_BACKEND))
    for name, dist in installed.items():
        if name != "freetier":  # the project itself: `-e .`
            _write_wheel(dist, out, with_files=name in backend)
    return out


def _module_source(dest: Path, pyproject: str) -> Path:
    """What the runtime installs from: the module's source folder (here the repository
    root: dagger.json has no `source`), reduced to what building the package reads, and
    the SDK it vendors as ./sdk."""
    project = tomllib.loads(pyproject)
    dest.mkdir()
    (dest / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    shutil.copy(ROOT / project["project"]["readme"], dest)
    for package in project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]:
        shutil.copytree(
            ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    sdk = dest / "sdk"
    (sdk / "src" / "dagger").mkdir(parents=True)
    (sdk / "src" / "dagger" / "__init__.py").write_text("")
    requires = importlib.metadata.requires("dagger-io") or []
    (sdk / "pyproject.toml").write_text(
        STUB_SDK_PYPROJECT.format(dependencies=json.dumps(requires)), encoding="utf-8"
    )
    return dest


def _runtime_install(source: Path, wheelhouse: Path, tmp_path: Path) -> list[str]:
    """Run the runtime's two commands with the real uv into a fresh virtualenv; return
    the failures (command, exit code, output)."""
    uv = find_uv_bin()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    env |= {
        # As the runtime sets them (main.go WithBase and WithInstall).
        "UV_LINK_MODE": "copy",
        "UV_COMPILE_BYTECODE": "1",
        # Offline, from the wheelhouse only, with no uv.toml or cache of this machine.
        "UV_OFFLINE": "1",
        "UV_NO_INDEX": "1",
        "UV_FIND_LINKS": str(wheelhouse),
        "UV_NO_CONFIG": "1",
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_PYTHON_DOWNLOADS": "never",
        # The engine installs into its container's Python; here a new virtualenv.
        "VIRTUAL_ENV": str(tmp_path / "venv"),
    }
    failures = []
    for argv in (["venv", "--python", sys.executable, env["VIRTUAL_ENV"]], INSTALL, CHECK):
        done = subprocess.run(
            [uv, *argv],
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            failures.append(f"uv {' '.join(argv)}: exit {done.returncode}\n{done.stderr}")
            break
    return failures


def test_uv_is_the_runtime_s_version() -> None:
    done = subprocess.run([find_uv_bin(), "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.split()[:2] == ["uv", RUNTIME_UV]


def test_the_runtime_installs_the_module_with_uv_pip_install() -> None:
    """The conditions under which WithInstall runs INSTALL rather than `uv sync`."""
    config = json.loads((ROOT / "dagger.json").read_text())
    source = ROOT / config.get("source", ".")
    assert source.resolve() == ROOT
    assert (source / "pyproject.toml").is_file()
    assert not (source / "uv.lock").exists()
    assert not (source / "requirements.lock").exists()
    pyproject = tomllib.loads((source / "pyproject.toml").read_text())
    assert pyproject.get("tool", {}).get("dagger", {}).get("use-uv", True) is True


def test_the_runtime_finds_the_main_object() -> None:
    """The runtime loads the class named by the `dagger.mod` entry point (dagger/mod/cli.py
    `load_module`) and registers it only when the SDK knows it under the name the engine
    gives the main object: the module's name in PascalCase (DAGGER_MAIN_OBJECT,
    `NormalizeObjectName` in sdk/python/runtime/python.go)."""
    name = json.loads((ROOT / "dagger.json").read_text())["name"]
    main_object = "".join(part.capitalize() for part in re.split(r"[-_\s]+", name))
    assert main_object == Freetier.__name__
    assert default_module().get_object(main_object).cls is Freetier


def test_the_cli_installs_without_dagger() -> None:
    requires = importlib.metadata.requires("freetier") or []
    base = [Requirement(r) for r in requires if "extra ==" not in r]
    assert "dagger-io" not in {canonicalize_name(r.name) for r in base}


@pytest.mark.parametrize(
    ("change", "installs"),
    [
        pytest.param(None, True, id="as-is"),
        # The pin this repository had: nothing can satisfy it beside ./sdk's 0.0.0.
        pytest.param(OLD_PIN, False, id="old-pin"),
        # What the SDK's module template asks for: any version.
        pytest.param("dagger-io", True, id="unpinned"),
    ],
)
def test_the_engine_s_install_step(
    change: str | None, installs: bool, wheelhouse: Path, tmp_path: Path
) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if change is not None:
        pyproject = pyproject.replace("dependencies = [", f'dependencies = [\n  "{change}",', 1)
        assert change in tomllib.loads(pyproject)["project"]["dependencies"]
    source = _module_source(tmp_path / "module", pyproject)
    failures = _runtime_install(source, wheelhouse, tmp_path)
    if installs:
        assert failures == [], "\n".join(failures)
        # What the runtime then loads: the vendored SDK, and the main object's entry point.
        probe = (
            "from importlib.metadata import entry_points, version;"
            "(ep,) = entry_points(group='dagger.mod', name='main_object');"
            "print(version('dagger-io'), ep.value)"
        )
        python = tmp_path / "venv" / "bin" / "python"
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
        assert done.stdout.split() == ["0.0.0", "freetier.pipeline:Freetier"]
    else:
        (failure,) = failures
        assert failure.startswith(f"uv {' '.join(INSTALL)}:")
        # uv takes dagger-io from ./sdk alone (a path requirement), so 0.21.11 is nowhere.
        assert "No solution found" in failure
        assert f"there is no version of {OLD_PIN}" in failure
