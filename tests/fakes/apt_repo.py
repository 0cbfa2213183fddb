"""A tiny signed apt repository served over HTTP on 127.0.0.1, as a third-party vendor's
would be: one component, one architecture, packages built with `dpkg-deb`, a `Packages`
index and a `Release` written here, and an `InRelease` clear-signed by a throwaway GnuPG
key (`gpg --batch` in its own home folder; the key never touches the caller's keyring).

Needs `dpkg-deb` (dpkg) and `gpg` (gpg, gpg-agent) on PATH.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

from tests.fakes.serving import LocalServer

# Fixed file and archive times (dpkg-deb honours SOURCE_DATE_EPOCH): the same package
# always gives the same .deb, so a shared deb cache keeps a single copy of it.
EPOCH = 1_700_000_000


@dataclass(frozen=True)
class DummyPackage:
    """An `Architecture: all` package holding one text file."""

    name: str
    version: str
    path: str  # absolute path of its file once installed
    content: str


class SigningKey:
    """A throwaway ed25519 signing key in a private GNUPGHOME (a short temporary folder:
    gpg-agent's socket path must stay under the kernel's length limit)."""

    def __init__(self, home: Path, fingerprint: str) -> None:
        self.home = home
        self.fingerprint = fingerprint

    @classmethod
    @contextmanager
    def generate(cls, uid: str) -> Iterator[SigningKey]:
        with tempfile.TemporaryDirectory(prefix="gnupg-") as tmp:
            home = Path(tmp)
            home.chmod(0o700)
            try:
                _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
                listing = _gpg(home, "--with-colons", "--list-secret-keys", uid)
                fprs = [ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:")]
                yield cls(home, fprs[0])
            finally:
                subprocess.run(
                    ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                    capture_output=True,
                    check=False,
                )

    def export(self, *, armor: bool) -> bytes:
        """The public key, as a vendor publishes it: binary (.gpg) or ASCII-armored (.asc)."""
        argv = ["gpg", "--batch", "--homedir", str(self.home), "--export"]
        done = subprocess.run(
            [*argv, *(["--armor"] if armor else []), self.fingerprint],
            capture_output=True,
            check=True,
        )
        return done.stdout

    def clearsign(self, text: str) -> str:
        return _gpg(
            self.home, "--local-user", self.fingerprint, "--digest-algo", "SHA256",
            "--clearsign", stdin=text,
        )  # fmt: skip


def _gpg(home: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["gpg", "--batch", "--quiet", "--homedir", str(home), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def build_deb(pkg: DummyPackage, arch_dir: Path) -> Path:
    """`dpkg-deb --build` of `pkg` into `arch_dir` (a pool folder); returns the .deb."""
    tree = arch_dir / f".{pkg.name}.tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN/control").write_text(
        f"Package: {pkg.name}\nVersion: {pkg.version}\nArchitecture: all\n"
        "Maintainer: freetier tests <tests@example.invalid>\nPriority: optional\n"
        f"Section: misc\nDescription: freetier test package\n",
        encoding="utf-8",
    )
    payload = tree / pkg.path.lstrip("/")
    payload.parent.mkdir(parents=True)
    payload.write_text(pkg.content, encoding="utf-8")
    deb = arch_dir / f"{pkg.name}_{pkg.version}_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(deb)],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SOURCE_DATE_EPOCH": str(EPOCH)},
        capture_output=True,
        check=True,
    )
    return deb


def packages_stanza(deb: Path, filename: str) -> str:
    """The deb's control fields plus what apt needs to fetch and check it."""
    control = subprocess.run(
        ["dpkg-deb", "--field", str(deb)], capture_output=True, text=True, check=True
    ).stdout.rstrip("\n")
    data = deb.read_bytes()
    return (
        f"{control}\nFilename: {filename}\nSize: {len(data)}\n"
        f"SHA256: {hashlib.sha256(data).hexdigest()}\n"
    )


def release_text(suite: str, component: str, arch: str, indexes: dict[str, bytes]) -> str:
    """A Release file: its fields and one SHA256 line per index (path relative to dists/SUITE)."""
    sums = "".join(
        f" {hashlib.sha256(body).hexdigest()} {len(body)} {path}\n"
        for path, body in sorted(indexes.items())
    )
    return (
        f"Origin: freetier-tests\nLabel: freetier-tests\nSuite: {suite}\nCodename: {suite}\n"
        f"Date: {formatdate(EPOCH, usegmt=True)}\nArchitectures: {arch}\n"
        f"Components: {component}\nDescription: freetier test repository\nSHA256:\n{sums}"
    )


def write_repo(
    root: Path,
    *,
    suite: str,
    component: str,
    arch: str,
    packages: Sequence[DummyPackage],
    signer: SigningKey,
) -> None:
    """A dists/ + pool/ repository under `root`, its InRelease clear-signed by `signer`."""
    pool = root / "pool" / component
    pool.mkdir(parents=True, exist_ok=True)
    stanzas = []
    for pkg in packages:
        deb = build_deb(pkg, pool)
        stanzas.append(packages_stanza(deb, deb.relative_to(root).as_posix()))
    index_path = f"{component}/binary-{arch}/Packages"
    index = "\n".join(stanzas).encode()
    dists = root / "dists" / suite
    (dists / index_path).parent.mkdir(parents=True, exist_ok=True)
    (dists / index_path).write_bytes(index)
    release = release_text(suite, component, arch, {index_path: index})
    (dists / "Release").write_text(release, encoding="utf-8")
    (dists / "InRelease").write_text(signer.clearsign(release), encoding="utf-8")


class _Handler(SimpleHTTPRequestHandler):
    fake: ClassVar[AptRepoServer]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(self.fake.path), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        self.fake.requests.append(self.path)


class AptRepoServer(LocalServer):
    """Serves the repository folder `path` read-only; `requests` lists the paths asked for."""

    handler = _Handler

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[str] = []
