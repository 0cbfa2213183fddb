"""The one way the toolkit makes OCI SDK clients and turns SDK failures into freetier errors.

Credentials come from the OCI CLI config file (`~/.oci/config`, or `OCI_CLI_CONFIG_FILE`,
profile `OCI_CLI_PROFILE`). When `FREETIER_OCI_ENDPOINT` is set, every client sends its
requests to that one URL instead of the regional endpoint: how the tests reach a local fake
and how a user reaches a private endpoint.

Nothing here ever puts the key file's contents, the passphrase or the config dict into an
error message: messages are built from names, paths, HTTP statuses and service codes only.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import oci

from freetier.errors import ConfigError, RemoteError

ENDPOINT_ENV = "FREETIER_OCI_ENDPOINT"
CONFIG_FILE_ENV = "OCI_CLI_CONFIG_FILE"
PROFILE_ENV = "OCI_CLI_PROFILE"
DEFAULT_PROFILE = "DEFAULT"

# (connect, read) seconds: a hung endpoint fails the stage instead of hanging it.
TIMEOUT = (10.0, 60.0)
_MESSAGE_MAX = 300

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff for throttling (429), server errors (5xx but 501) and
    network failures. Every other 4xx fails at once: retrying cannot fix it."""

    max_attempts: int = 5
    base_sleep_seconds: float = 1.0
    max_sleep_seconds: float = 30.0
    total_seconds: int = 300

    def strategy(self) -> Any:
        """The SDK retry strategy for this policy."""
        return oci.retry.RetryStrategyBuilder(
            max_attempts_check=True,
            max_attempts=self.max_attempts,
            total_elapsed_time_check=True,
            total_elapsed_time_seconds=self.total_seconds,
            service_error_check=True,
            # Only 429 among the 4xx; the SDK default also retries two 409 codes.
            service_error_retry_config={429: []},
            service_error_retry_on_any_5xx=True,
            retry_base_sleep_time_seconds=self.base_sleep_seconds,
            retry_max_wait_between_calls_seconds=self.max_sleep_seconds,
            backoff_type=oci.retry.BACKOFF_FULL_JITTER_EQUAL_ON_THROTTLE_VALUE,
        ).get_retry_strategy()


DEFAULT_RETRY = RetryPolicy()


def oci_config_path(env: Mapping[str, str], home: Path) -> Path:
    """The OCI CLI config file: `OCI_CLI_CONFIG_FILE` when set, else `~/.oci/config`."""
    explicit = env.get(CONFIG_FILE_ENV)
    return Path(explicit).expanduser() if explicit else home / ".oci" / "config"


def load_oci_config(env: Mapping[str, str], home: Path) -> dict[str, Any]:
    """Read and validate the profile `OCI_CLI_PROFILE` (default DEFAULT) of the config file.

    Raises ConfigError naming the file, the profile and what is wrong, never a value."""
    path = oci_config_path(env, home)
    profile = env.get(PROFILE_ENV) or DEFAULT_PROFILE
    where = f"{path} [{profile}]"
    if not path.is_file():
        raise ConfigError([f"{path}: OCI config file not found (set {CONFIG_FILE_ENV})"])
    if not _has_profile(path, profile, where):
        raise ConfigError([f"{where}: profile not found (set {PROFILE_ENV})"])
    try:
        config: dict[str, Any] = oci.config.from_file(str(path), profile)
        oci.config.validate_config(config)
    except oci.exceptions.ProfileNotFound:
        raise ConfigError([f"{where}: profile not found (set {PROFILE_ENV})"]) from None
    except oci.exceptions.InvalidKeyFilePath:
        raise ConfigError([f"{where}: key_file is not a readable file"]) from None
    except oci.exceptions.InvalidConfig as exc:
        problems = _invalid_fields(exc)
        raise ConfigError([f"{where}: invalid config: {problems}"]) from None
    except (oci.exceptions.ClientError, ValueError, OSError) as exc:
        raise ConfigError([f"{where}: unreadable OCI config ({type(exc).__name__})"]) from None
    return config


def _has_profile(path: Path, profile: str, where: str) -> bool:
    # configparser always has a DEFAULT section, so the SDK finds an empty DEFAULT profile in
    # a file without one and reports every field missing instead.
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError) as exc:
        # configparser's messages quote the offending line: name the error only.
        raise ConfigError([f"{where}: unreadable OCI config ({type(exc).__name__})"]) from None
    return bool(parser.defaults()) if profile == DEFAULT_PROFILE else parser.has_section(profile)


def _invalid_fields(exc: Any) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, Mapping):
        return ", ".join(f"{key} {errors[key]}" for key in sorted(errors))
    return "missing or malformed fields"


def service_endpoint(env: Mapping[str, str] | None = None) -> str | None:
    """`FREETIER_OCI_ENDPOINT` without a trailing slash, or None when unset or empty."""
    value = (os.environ if env is None else env).get(ENDPOINT_ENV, "").strip()
    if not value:
        return None
    # No user:password@ part: the endpoint is quoted in error messages.
    if not re.match(r"^https?://[^/\s@]+(/\S*)?$", value):
        raise ConfigError([f"{ENDPOINT_ENV}: must be an http(s) URL without credentials"])
    return value.rstrip("/")


def make_client(
    client_cls: Callable[..., T],
    config: Mapping[str, Any],
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    env: Mapping[str, str] | None = None,
) -> T:
    """An SDK client of `client_cls` for `config`, with the bounded retry policy, a timeout,
    and `FREETIER_OCI_ENDPOINT` as its service endpoint when that is set.

    The SDK's process-wide circuit breaker is turned off: it is shared by every client of the
    process and would let one failing call poison unrelated ones; the retry policy already
    bounds the load a failing endpoint sees."""
    kwargs: dict[str, Any] = {
        "retry_strategy": retry.strategy(),
        "timeout": TIMEOUT,
        "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
    }
    endpoint = service_endpoint(env)
    if endpoint is not None:
        kwargs["service_endpoint"] = endpoint
    name = getattr(client_cls, "__name__", "client")
    key_file = str(config.get("key_file") or "key_content")
    try:
        return client_cls(dict(config), **kwargs)
    except oci.exceptions.InvalidConfig as exc:
        raise ConfigError([f"OCI config: invalid config: {_invalid_fields(exc)}"]) from None
    except oci.exceptions.MissingPrivateKeyPassphrase:
        raise ConfigError([f"{key_file}: the key needs a pass_phrase in the OCI config"]) from None
    except oci.exceptions.InvalidPrivateKey:
        raise ConfigError(
            [f"{key_file}: not a private key, or the pass_phrase does not open it"]
        ) from None
    except OSError as exc:
        raise ConfigError(
            [f"{key_file}: cannot read the key file ({type(exc).__name__})"]
        ) from None
    except (oci.exceptions.ClientError, ValueError, TypeError) as exc:
        raise ConfigError([f"OCI config: cannot make {name} ({type(exc).__name__})"]) from None


def describe_service_error(exc: Any, fallback: str = "") -> str:
    """One line: service and operation, HTTP status, service code, message, request id."""
    service = getattr(exc, "target_service", None)
    operation = getattr(exc, "operation_name", None)
    what = fallback or f"{service} {operation}"
    status = getattr(exc, "status", "?")
    code = getattr(exc, "code", None) or "-"
    message = _one_line(str(getattr(exc, "message", "") or ""))
    line = f"OCI {what}: HTTP {status} {code}"
    if message:
        line += f": {message}"
    request_id = getattr(exc, "request_id", None)
    if request_id:
        line += f" (opc-request-id {request_id})"
    return line


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MESSAGE_MAX else flat[: _MESSAGE_MAX - 3] + "..."


@contextmanager
def remote_errors(what: str, endpoint: str | None = None) -> Iterator[None]:
    """Turn SDK failures inside the block into one-line RemoteError / ConfigError, chained to
    nothing (no traceback, no SDK error dict with its headers)."""
    try:
        yield
    except oci.exceptions.ServiceError as exc:
        raise RemoteError(describe_service_error(exc, what)) from None
    except (oci.exceptions.RequestException, oci.exceptions.ConnectTimeout) as exc:
        target = f" {endpoint}" if endpoint else ""
        root = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
        raise RemoteError(
            f"OCI {what}: request to{target or ' the service'} failed ({type(root).__name__})"
        ) from None
    except (oci.exceptions.InvalidPrivateKey, oci.exceptions.InvalidConfig) as exc:
        raise ConfigError([f"OCI {what}: unusable credentials ({type(exc).__name__})"]) from None


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call an SDK client method, naming it by its client and method in any error."""
    client = getattr(fn, "__self__", None)
    what = f"{type(client).__name__} {getattr(fn, '__name__', 'call')}"
    endpoint = _endpoint_of(client)
    with remote_errors(what, endpoint):
        return fn(*args, **kwargs)


class _Settled(Exception):
    """A page call that failed after the client's own retries; the paginator must not retry."""

    def __init__(self, error: Exception) -> None:
        super().__init__(type(error).__name__)
        self.error = error


def list_all(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
    """Every item of an SDK list operation, following `opc-next-page` to the last page.

    `oci.pagination.list_call_get_all_results` wraps every page call in the SDK's
    DEFAULT_RETRY_STRATEGY (8 attempts, up to 10 minutes, 409s too), on top of the client's
    own strategy: 8 x N attempts for one persistent 500. Each page call here is settled by the
    client's bounded RetryPolicy alone, its failure handed through the paginator as an
    exception no retry checker retries."""
    client = getattr(fn, "__self__", None)
    what = f"{type(client).__name__} {getattr(fn, '__name__', 'list')}"

    def once(*call_args: Any, **call_kwargs: Any) -> Any:
        try:
            return fn(*call_args, **call_kwargs)
        except Exception as exc:
            raise _Settled(exc) from None

    with remote_errors(what, _endpoint_of(client)):
        try:
            response = oci.pagination.list_call_get_all_results(once, *args, **kwargs)
        except _Settled as settled:
            raise settled.error from None
    return list(response.data)


def _endpoint_of(client: Any) -> str | None:
    base = getattr(client, "base_client", None)
    endpoint = getattr(base, "endpoint", None)
    return endpoint if isinstance(endpoint, str) else None
