"""`freetier images publish` driven through its parser: output, exit codes, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images import run_images
from tests.images.conftest_publish import MIB, World, random_file, world


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with world(tmp_path, monkeypatch) as running:
        running.fake.import_polls = 1
        yield running


def _argv(env: World, *extra: str) -> list[str]:
    return [
        "images",
        "publish",
        "base",
        "--arch",
        "arm64",
        "--dir",
        str(env.root / "out"),
        "--stack",
        str(env.root / "stack.yaml"),
        "--part-size",
        "10",
        *extra,
    ]


def test_publish_prints_the_ocid_and_writes_tfvars(env: World) -> None:
    random_file(env.root / "out" / "base-arm64.qcow2", 25 * MIB)

    run = run_images(_argv(env))

    assert run.code == 0, run.err
    tfvars = json.loads((env.root / "tofu" / "oci" / "images.auto.tfvars.json").read_text())
    ocid = tfvars["image_ocids"]["arm64"]
    assert f"base-arm64: image {ocid} (base-arm64-" in run.out
    assert "3 part(s) uploaded, 0 resumed, 25.0 MiB sent" in run.out
    assert "upload base-arm64-" in run.err and "25.0/25.0 MiB (100%)" in run.err
    assert env.fake.image(ocid)["operatingSystemVersion"] == "12"  # bookworm


def _interrupt(env: World) -> None:
    """Fail every upload of part 3, with a status the client does not retry: the CLI's retry
    policy would back off for seconds on a 5xx (test_publish_upload.py drives that path)."""
    random_file(env.root / "out" / "base-arm64.qcow2", 25 * MIB)
    env.fake.inject("/n/", 409, "Conflict", method="PUT", query={"uploadPartNum": "3"}, times=None)
    failed = run_images(_argv(env, "--parallel", "1"))
    assert failed.code == 1
    [line] = failed.errors
    assert "upload_part: HTTP 409 Conflict" in line
    assert "kept with 2 of 3 parts: rerun to resume, or --abort to discard it" in line
    assert not (env.root / "tofu" / "oci" / "images.auto.tfvars.json").exists()
    env.fake.faults.clear()


def test_a_rerun_resumes_an_interrupted_upload(env: World) -> None:
    _interrupt(env)

    run = run_images(_argv(env))

    assert run.code == 0, run.err
    assert "1 part(s) uploaded, 2 resumed, 5.0 MiB sent" in run.out
    assert env.fake.part_uploads().count(1) == 1


def test_abort_discards_an_interrupted_upload(env: World) -> None:
    _interrupt(env)

    run = run_images(_argv(env, "--abort"))

    assert run.code == 0, run.err
    assert "base-arm64: 1 unfinished upload(s) aborted" in run.out
    assert env.fake.uploads == {}


def test_missing_credentials_are_one_line_exit_2(
    env: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    random_file(env.root / "out" / "base-arm64.qcow2", MIB)
    monkeypatch.setenv("OCI_CLI_CONFIG_FILE", str(env.root / "nowhere" / "config"))

    run = run_images(_argv(env))

    assert run.code == 2
    assert run.errors == [
        f"freetier: error: {env.root / 'nowhere' / 'config'}: OCI config file not found "
        "(set OCI_CLI_CONFIG_FILE)"
    ]
    assert env.fake.requests == []


def test_wrong_credentials_are_one_line_and_import_nothing(
    env: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    random_file(env.root / "out" / "base-arm64.qcow2", MIB)
    env.fake.keys.clear()  # the tenancy no longer knows the key

    run = run_images(_argv(env))

    assert run.code == 1
    [line] = run.errors
    assert "HTTP 401 NotAuthenticated" in line
    assert env.fake.state["images"] == [] and env.fake.objects == {}


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["Base!"], "image name 'Base!'"),
        (["proxmox"], "proxmox-arm64.qcow2: not found (run `freetier images build proxmox"),
    ],
    ids=["bad-name", "not-built"],
)
def test_bad_input_is_exit_2(env: World, argv: list[str], says: str) -> None:
    args = _argv(env)
    args[2] = argv[0]
    run = run_images(args)
    assert run.code == 2
    [line] = run.errors
    assert says in line


def test_unknown_arch_and_small_parts_are_refused_by_the_parser(
    env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra in (["--arch", "riscv64"], ["--part-size", "4"], ["--parallel", "0"]):
        with pytest.raises(SystemExit) as info:
            run_images([*_argv(env), *extra])
        assert info.value.code == 2
