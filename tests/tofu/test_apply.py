"""Capacity-aware apply against real terraform: the fixture layer fails like OCI out of A1 hosts."""

from __future__ import annotations

import doctest
import os
import shutil
from pathlib import Path

import pytest

import freetier.tofu.apply as tofu_apply
from freetier.errors import ConfigError, ToolError
from freetier.tofu.apply import Backoff, apply_with_capacity_retry, is_capacity_error
from freetier.tofu.run import Diagnostic, Tofu, init

FIXTURE = Path(__file__).parent / "fixtures" / "capacity"


class FakeTime:
    """An injected clock that only moves when the retry loop sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def tofu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tofu:
    """Real tofu/terraform that reads and writes nothing outside tmp_path."""
    exe = shutil.which("tofu") or shutil.which("terraform")
    if exe is None:
        pytest.fail("terraform or tofu must be installed for this test (./dev setup installs it)")
    for name in list(os.environ):
        if name.startswith("TF_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    return Tofu(
        exe,
        env={
            "HOME": str(home),
            "TF_DATA_DIR": str(tmp_path / "tf-data"),
            "TF_CLI_CONFIG_FILE": os.devnull,
            "TF_PLUGIN_CACHE_DIR": "",
        },
        timeout_s=120,
    )


def layer_with_capacity_in(tmp_path: Path, tofu: Tofu, capacity_ad: int) -> Path:
    layer = tmp_path / "layer"
    shutil.copytree(FIXTURE, layer)
    (layer / "test.auto.tfvars.json").write_text(f'{{"capacity_ad": {capacity_ad}}}\n')
    init(layer, tofu=tofu)
    return layer


def test_doctests() -> None:
    assert doctest.testmod(tofu_apply).failed == 0


@pytest.mark.parametrize(
    "text",
    [
        "Error: 500-InternalError, Out of host capacity.",  # oci provider 4.114+
        "500-InternalError\nService: Core Instance\nError Message: Out of host capacity.",
        "Service error:InternalError. Out of host capacity.. http status code: 500.",
        "Output: Error: 500-InternalError, Out of host\ncapacity.",  # wrapped by the CLI
    ],
    ids=["provider-4.114+", "provider-4.6x", "provider-2020", "wrapped"],
)
def test_capacity_error_as_users_see_it(text: str) -> None:
    assert is_capacity_error(Diagnostic("error", "some summary", text))


def test_other_errors_are_not_capacity() -> None:
    assert not is_capacity_error(Diagnostic("error", "400-InvalidParameter", "Invalid shape"))


def test_capacity_in_the_first_ad_takes_one_attempt(tmp_path: Path, tofu: Tofu) -> None:
    layer = layer_with_capacity_in(tmp_path, tofu, capacity_ad=1)
    fake = FakeTime()
    lines: list[str] = []
    result = apply_with_capacity_retry(
        layer,
        [1, 2, 3],
        deadline_s=60,
        tofu=tofu,
        sleep=fake.sleep,
        clock=fake.clock,
        progress=lines.append,
    )
    assert (result.attempts, result.rotation) == (1, 0)
    assert result.apply.summary is not None and result.apply.summary.add == 1
    assert lines == ["attempt 1: AD rotation 0 (ADs 1, 2, 3): applied; elapsed 0s"]


def test_capacity_only_in_the_third_ad_succeeds_at_rotation_two(tmp_path: Path, tofu: Tofu) -> None:
    layer = layer_with_capacity_in(tmp_path, tofu, capacity_ad=3)
    fake = FakeTime()
    lines: list[str] = []
    result = apply_with_capacity_retry(
        layer,
        [1, 2, 3],
        deadline_s=60,
        tofu=tofu,
        sleep=fake.sleep,
        clock=fake.clock,
        progress=lines.append,
    )
    assert (result.attempts, result.rotation, result.elapsed_s) == (3, 2, 0.0)
    assert fake.sleeps == []  # rotating within a cycle does not wait
    assert lines == [
        "attempt 1: AD rotation 0 (ADs 1, 2, 3): out of host capacity; elapsed 0s;"
        " next attempt now",
        "attempt 2: AD rotation 1 (ADs 2, 3, 1): out of host capacity; elapsed 0s;"
        " next attempt now",
        "attempt 3: AD rotation 2 (ADs 3, 1, 2): applied; elapsed 0s",
    ]


def test_no_capacity_anywhere_gives_up_at_the_deadline(tmp_path: Path, tofu: Tofu) -> None:
    layer = layer_with_capacity_in(tmp_path, tofu, capacity_ad=9)
    fake = FakeTime()
    lines: list[str] = []
    with pytest.raises(ToolError) as info:
        apply_with_capacity_retry(
            layer,
            [1, 2],
            deadline_s=25,
            backoff=Backoff(initial_s=5, max_s=8),
            tofu=tofu,
            sleep=fake.sleep,
            clock=fake.clock,
            progress=lines.append,
        )
    # cycles of 2 attempts, waits 5, then 10 capped to 8, 8; the next 8 would pass 25s
    assert fake.sleeps == [5, 8, 8]
    message = str(info.value)
    assert message == (
        "apply: out of host capacity after 8 attempt(s) in 21s (deadline 25s);"
        " tried availability domain(s) 1, 2 (AD rotation(s) 0, 1 of 2);"
        " try again later or in another region"
    )
    assert info.value.exit_code == 1
    assert len(lines) == 8
    assert lines[1].endswith("next attempt in 5s")
    assert lines[-1].endswith("elapsed 21s; deadline reached, giving up")


def test_another_error_stops_after_one_attempt(tmp_path: Path, tofu: Tofu) -> None:
    layer = layer_with_capacity_in(tmp_path, tofu, capacity_ad=3)
    fake = FakeTime()
    lines: list[str] = []
    with pytest.raises(ToolError) as info:
        apply_with_capacity_retry(
            layer,
            [1, 2, 3],
            deadline_s=600,
            var_overrides={"fail_with": "Error: 400-InvalidParameter, Invalid shape"},
            tofu=tofu,
            sleep=fake.sleep,
            clock=fake.clock,
            progress=lines.append,
        )
    assert len(lines) == 1 and lines[0].endswith("failed; elapsed 0s; not retrying")
    assert fake.sleeps == []
    message = str(info.value)
    assert "exit code 1" in message
    assert "local-exec provisioner error (terraform_data.instance)" in message
    assert "400-InvalidParameter" in message


def test_rerun_after_success_changes_nothing(tmp_path: Path, tofu: Tofu) -> None:
    layer = layer_with_capacity_in(tmp_path, tofu, capacity_ad=2)
    first = apply_with_capacity_retry(layer, [1, 2, 3], deadline_s=60, tofu=tofu)
    assert (first.attempts, first.rotation) == (2, 1)
    # Rotation 0 would place the instance in AD 1 now; ignore_changes keeps it where it is.
    second = apply_with_capacity_retry(layer, [1, 2, 3], deadline_s=60, tofu=tofu)
    assert (second.attempts, second.rotation) == (1, 0)
    assert second.apply.summary is not None and not second.apply.summary.any


@pytest.mark.parametrize(
    ("domains", "deadline", "backoff", "field"),
    [
        ([], 60, Backoff(), "availability_domains"),
        ([1], 0, Backoff(), "deadline"),
        ([1], 60, Backoff(initial_s=10, max_s=5), "backoff"),
    ],
    ids=["no-ads", "no-deadline", "max-below-initial"],
)
def test_bad_inputs_are_config_errors(
    tmp_path: Path, domains: list[int], deadline: float, backoff: Backoff, field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        apply_with_capacity_retry(
            tmp_path, domains, deadline_s=deadline, backoff=backoff, tofu=Tofu("tofu")
        )
    assert str(info.value).startswith(f"{field}:")
