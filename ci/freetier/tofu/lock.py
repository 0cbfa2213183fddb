"""freetier's own lock on a layer's remote state, taken through OCI Object Storage's native API
before `plan`, `apply` or `deploy` touch that state, and released when they end.

Terraform's `use_lockfile` locks with a conditional PUT on the S3-compatible API, and nothing
Oracle publishes says that API honours `If-None-Match` (oracle/terraform-provider-oci#2323); a
store that ignores it turns the lock into a no-op without an error (lxc/incus#3651). The native
PutObject documents `if-none-match: *` and refuses a second writer with 412 IfNoneMatchFailed,
so freetier creates `<state key>.freetier.lock` in the state's bucket that way: of two runs,
exactly one gets it. The object says who holds it (the GitHub Actions run, or user@host and
pid), the commit, the command and since when. It is deleted with `If-Match: <its ETag>`, also
after an error or Ctrl-C, so a lock another run took after a manual unlock is never removed by
mistake. A run killed outright leaves its lock behind: `freetier state unlock` shows it and
removes it. `use_lockfile` stays on as a second line where the store honours it.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from freetier.command import Command, run
from freetier.errors import ConfigError, FreetierError, RemoteError, ToolError
from freetier.layers import KEYED_LAYER, state_key
from freetier.object_storage import (
    Bucket,
    create_object,
    delete_unchanged,
    object_client,
    open_bucket,
    read_object,
)
from freetier.oci_clients import load_oci_config
from freetier.tofu.apply import format_duration
from freetier.tofu.backend import read_state_object

LOCK_SUFFIX = ".freetier.lock"
TAKE_ATTEMPTS = 3


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: what the lock object says, all strings."""

    who: str  # the GitHub Actions run's URL, or user@host (pid N)
    commit: str
    command: str
    layer: str
    since: str  # ISO 8601, UTC
    id: str

    def age(self, now: datetime) -> str:
        try:
            since = datetime.fromisoformat(self.since)
        except ValueError:
            return "an unknown time"
        return format_duration(max(0.0, (now - since).total_seconds()))

    def describe(self, now: datetime) -> str:
        """One line: `who (command LAYER at COMMIT) for AGE`."""
        commit = self.commit[:12] or "an unknown commit"
        return f"{self.who} ({self.command} {self.layer} at {commit}) for {self.age(now)}"


def encode_holder(holder: Holder) -> bytes:
    return (json.dumps(asdict(holder), indent=1) + "\n").encode()


def decode_holder(data: bytes) -> Holder | None:
    """The holder a lock object names, or None when it is not one freetier wrote."""
    try:
        body = json.loads(data)
        return Holder(**{f.name: str(body[f.name]) for f in fields(Holder)})
    except (ValueError, TypeError, KeyError):
        return None


def runner(env: Mapping[str, str]) -> str:
    """The GitHub Actions run's URL when this is one, else user@host (pid N)."""
    server, repo, run_id = (
        env.get(name, "") for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repo and run_id:
        return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} (pid {os.getpid()})"


def head_commit(env: Mapping[str, str], cwd: Path) -> str:
    """GITHUB_SHA in Actions, else the checkout's HEAD, else "" (not a git checkout)."""
    if env.get("GITHUB_SHA"):
        return env["GITHUB_SHA"]
    try:
        return run(Command(("git", "rev-parse", "HEAD"), cwd=cwd, timeout=30.0)).stdout.strip()
    except ToolError:
        return ""


@dataclass(frozen=True)
class LockSite:
    """Where a state's lock lives: `<state key>.freetier.lock` in the state's bucket."""

    bucket: Bucket
    name: str

    def __str__(self) -> str:
        return f"{self.bucket.name}/{self.name}"


@dataclass(frozen=True)
class FoundLock:
    site: LockSite
    holder: Holder | None  # None: an object freetier did not write
    etag: str


class LockHeld(FreetierError):
    """Another run holds the state lock; nothing was done. Exit code 1."""

    def __init__(self, layer: str, lock: FoundLock, backend_config: Path) -> None:
        self.lock = lock
        now = datetime.now(UTC)
        who = lock.holder.describe(now) if lock.holder else f"{lock.site}, not freetier's"
        super().__init__(
            f"{layer}: the state is locked by {who}; nothing was done. If that run is over: "
            f"freetier state unlock --layer {layer} --backend-config {backend_config}"
        )


def lock_site(
    backend_config: Path,
    layer: str = KEYED_LAYER,
    *,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> LockSite:
    """The lock beside the layer's state (the key the backend settings file names, made the
    layer's by `freetier.layers.state_key`), through the OCI config."""
    env = os.environ if env is None else env
    state = read_state_object(backend_config)
    client = object_client(load_oci_config(env, home or Path.home()), env=env)
    return LockSite(open_bucket(client, state.bucket), state_key(state.key, layer) + LOCK_SUFFIX)


def read_lock(site: LockSite) -> FoundLock | None:
    found = read_object(site.bucket, site.name)
    return None if found is None else FoundLock(site, decode_holder(found[0]), found[1])


def take(site: LockSite, holder: Holder) -> FoundLock:
    """Create the lock object unless one exists, and answer the lock that is there: ours when
    its holder is `holder` (also when the SDK retried our own write), else another run's."""
    for _ in range(TAKE_ATTEMPTS):
        etag = create_object(site.bucket, site.name, encode_holder(holder), "application/json")
        if etag is not None:
            return FoundLock(site, holder, etag)
        found = read_lock(site)
        if found is not None:
            return found
    raise RemoteError(f"{site}: the lock came and went {TAKE_ATTEMPTS} times; try again")


def release(lock: FoundLock) -> str:
    """Delete the lock unless another write replaced it: "deleted", "gone" or "changed"."""
    return delete_unchanged(lock.site.bucket, lock.site.name, lock.etag)


@contextmanager
def state_lock(
    layer: str,
    *,
    backend: bool,
    backend_config: Path | None,
    command: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> Iterator[None]:
    """Hold the layer's state lock for the block; local state (`backend=False`) needs none."""
    if not backend:
        yield
        return
    if backend_config is None:
        raise ConfigError(
            [f"--backend-config: needed to lock the remote state of {layer} (or --no-backend)"]
        )
    env = os.environ if env is None else env
    site = lock_site(backend_config, layer, env=env, home=home)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    holder = Holder(runner(env), head_commit(env, cwd), command, layer, now, uuid.uuid4().hex)
    taken: FoundLock | None = None
    try:  # from before the write on: a Ctrl-C at any point must not leave our lock behind
        taken = take(site, holder)
        if taken.holder != holder:
            raise LockHeld(layer, taken, backend_config)
        progress(f"state lock taken: {site}")
        yield
    except BaseException:
        _release_if_ours(site, holder, taken, progress)
        raise
    _release(taken, progress, failing=False)


def _release_if_ours(
    site: LockSite, holder: Holder, taken: FoundLock | None, progress: Callable[[str], None]
) -> None:
    """After a failure: release our lock, also when the failure came while taking it."""
    if taken is None:
        with suppress(FreetierError):
            taken = read_lock(site)
    if taken is not None and taken.holder == holder:
        _release(taken, progress, failing=True)


def _release(lock: FoundLock, progress: Callable[[str], None], *, failing: bool) -> None:
    """After a failure the failure is what is reported; a lock left behind only warns."""
    try:
        outcome = release(lock)
    except FreetierError as exc:
        line = f"state lock {lock.site} not released ({exc}): see `freetier state unlock`"
        if not failing:
            raise RemoteError(line) from None
        progress(line)
        return
    progress(
        {
            "deleted": "state lock released",
            "gone": "state lock was already gone (removed by hand?)",
            "changed": "state lock was replaced by another run's; left in place",
        }[outcome]
    )
