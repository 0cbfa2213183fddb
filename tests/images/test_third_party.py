"""The third-party repository path against real apt and mmdebstrap: a signed repository
served from 127.0.0.1 (tests/fakes/apt_repo.py) goes through `third_party_sources`, a
`BuildPlan` as `build_image` makes it, and `run_mmdebstrap`. Needs root (mmdebstrap
--mode=root, chroot) and deb.debian.org, like the real build in test_build.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from freetier.command import Command, run
from freetier.errors import ToolError
from freetier.images.build import (
    BuildPlan,
    ThirdPartySources,
    debian_sources,
    dpkg_query_argv,
    host_arch,
    parse_packages,
    remove_tree,
    run_mmdebstrap,
    third_party_sources,
)
from freetier.images.recipe import ThirdPartyRepo
from freetier.stack import load_stack
from tests.conftest import SHIPPED_STACK
from tests.fakes.apt_repo import AptRepoServer, DummyPackage, SigningKey, write_repo

SUITE = load_stack(SHIPPED_STACK).images.debian_suite
PROBE = DummyPackage(
    "freetier-third-party-probe", "1.0", "/usr/share/freetier-third-party-probe/hello", "signed\n"
)
PROBE_DEB = f"{PROBE.name}_{PROBE.version}_all.deb"
NEEDS_ROOT = "images build needs root (mmdebstrap --mode=root, chroot)"


@dataclass(frozen=True)
class Built:
    """One build with the probe repository: its plan, the key the fetch returned and the
    URLs it was asked for, and the repository's server (serving until the module ends)."""

    plan: BuildPlan
    key: bytes
    asked: list[str]
    server: AptRepoServer
    url: str
    deb_cache: Path


@pytest.fixture(scope="module")
def vendor_key() -> Iterator[SigningKey]:
    with SigningKey.generate("freetier test vendor <vendor@example.invalid>") as key:
        yield key


@pytest.fixture(scope="module")
def stranger_key() -> Iterator[SigningKey]:
    with SigningKey.generate("freetier test stranger <stranger@example.invalid>") as key:
        yield key


@pytest.fixture(scope="module")
def deb_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$FREETIER_DEB_CACHE when set, else the session's (the folder build_once uses)."""
    cache = Path(os.environ.get("FREETIER_DEB_CACHE") or tmp_path_factory.getbasetemp() / "debs")
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def _work(tmp: Path) -> Path:
    """The build's work folder with its staging folder, as build_image makes them."""
    work = tmp / "work"
    (work / "files").mkdir(parents=True)
    (work / "files").chmod(0o755)
    return work


def _serve(tmp: Path, signer: SigningKey) -> AptRepoServer:
    """The probe repository at /debian, its InRelease signed by `signer`."""
    write_repo(
        tmp / "vendor/debian", suite=SUITE, component="main", arch=host_arch(),
        packages=[PROBE], signer=signer,
    )  # fmt: skip
    return AptRepoServer(tmp / "vendor")


def _repo(url: str) -> ThirdPartyRepo:
    """As recipe.py loads it from third-party.yaml, but at http:// (the file wants https)."""
    return ThirdPartyRepo(
        name="probe",
        uri=f"{url}/debian",
        suite="${suite}",
        components=("main",),
        key_url=f"{url}/${{suite}}.noarmor.gpg",
        key_sha256=None,
        packages=(PROBE.name,),
    )


def _plan(work: Path, third: ThirdPartySources, deb_cache: Path) -> BuildPlan:
    """The plan build_image makes for a recipe with this one repository (at the smallest
    variant that has apt, no recipe files or hooks)."""
    return BuildPlan(
        arch=host_arch(),
        suite=SUITE,
        variant="apt",
        packages=(PROBE.name,),
        sources=(*debian_sources(SUITE, None), *third.lines),
        hooks=(),
        work=work,
        deb_cache=deb_cache,
        env={"LC_ALL": "C.UTF-8"},
    )


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, vendor_key: SigningKey, deb_cache: Path
) -> Iterator[Built]:
    if os.geteuid() != 0:
        pytest.skip(NEEDS_ROOT)
    tmp = tmp_path_factory.mktemp("third-party")
    work = _work(tmp)
    key = vendor_key.export(armor=False)  # binary, like the Tailscale and PXVIRT keys
    asked: list[str] = []

    def fetch(repo: ThirdPartyRepo, url: str) -> bytes:
        asked.append(url)
        return key

    try:
        with _serve(tmp, vendor_key).serve() as server:
            third = third_party_sources(
                [_repo(server.root)], {"suite": SUITE}, work, work / "files", fetch
            )
            plan = _plan(work, third, deb_cache)
            run_mmdebstrap(plan)
            yield Built(plan, key, asked, server, server.root, deb_cache)
    finally:
        remove_tree(work)  # as build_image does: refuses a folder mmdebstrap left mounted


def test_the_package_installs_from_the_repo_signed_by_the_fetched_key(built: Built) -> None:
    assert built.asked == [f"{built.url}/{SUITE}.noarmor.gpg"]
    assert f"/debian/dists/{SUITE}/InRelease" in built.server.requests
    installed = parse_packages(run(Command(dpkg_query_argv(built.plan.rootfs))).stdout)
    assert {"name": PROBE.name, "version": PROBE.version, "arch": "all"} in installed
    assert (built.plan.rootfs / PROBE.path.lstrip("/")).read_text() == PROBE.content
    # The .deb came from the server, or from the deb cache when its sha256 matched the signed
    # index: the build keeps third-party .debs there too (the probe's .deb is reproducible).
    assert (built.deb_cache / PROBE_DEB).is_file()


def test_the_image_keeps_the_repo_signed_by_its_own_copy_of_the_key(built: Built) -> None:
    rootfs = built.plan.rootfs
    sources = rootfs / "etc/apt/sources.list.d/probe.sources"
    image_key = rootfs / "usr/share/keyrings/freetier-probe.gpg"
    assert sources.read_text() == (
        "# freetier: third-party repository probe\n"
        f"Types: deb\nURIs: {built.url}/debian\nSuites: {SUITE}\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/freetier-probe.gpg\n"
    )
    assert image_key.read_bytes() == built.key
    assert (sources.stat().st_mode & 0o777, image_key.stat().st_mode & 0o777) == (0o644, 0o644)
    # The image's apt, reading only that file, updates from the repository: the key inside
    # verifies its InRelease.
    update = [
        "chroot", str(rootfs), "apt-get", "update", "-o", "Dir::Etc::SourceList=/dev/null",
        "-o", "APT::Update::Error-Mode=any",
    ]  # fmt: skip
    done = subprocess.run(update, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lists = rootfs / "var/lib/apt/lists"
    assert [p.name for p in lists.glob("*_Packages")] == [
        f"127.0.0.1:{built.url.rsplit(':', 1)[1]}_debian_dists_{SUITE}_main_binary-{host_arch()}"
        "_Packages"
    ]


def test_the_image_apt_reads_its_sources(built: Built) -> None:
    """The build's own source lines (keys outside the image) do not stay in the image."""
    done = subprocess.run(
        ["chroot", str(built.plan.rootfs), "apt-cache", "policy"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_a_repo_signed_by_another_key_fails_the_build(
    tmp_path: Path, vendor_key: SigningKey, stranger_key: SigningKey, deb_cache: Path
) -> None:
    """signed-by is enforced: the fetched key is the only one apt trusts for the repository
    (not the host's keyrings, not Debian's), so a stranger's signature stops the build."""
    if os.geteuid() != 0:
        pytest.skip(NEEDS_ROOT)
    work = _work(tmp_path)
    key = vendor_key.export(armor=False)
    try:
        with _serve(tmp_path, stranger_key).serve() as server:
            third = third_party_sources(
                [_repo(server.root)], {"suite": SUITE}, work, work / "files", lambda r, u: key
            )
            with pytest.raises(ToolError) as caught:
                run_mmdebstrap(_plan(work, third, deb_cache))
            url = server.root
    finally:
        remove_tree(work)
    message = str(caught.value)
    assert message.startswith("mmdebstrap: exit code "), message
    assert f"E: The repository '{url}/debian {SUITE} InRelease' is not signed." in message
    assert f"/debian/pool/main/{PROBE_DEB}" not in server.requests
