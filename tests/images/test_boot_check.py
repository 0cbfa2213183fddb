"""`images boot-check` against the fake OCI through the real oci SDK: a launched instance's
serial console decides (Talos boot lines pass, the UEFI shell or an empty console fail), the
free-tier guard refuses when the tenancy has no room, and the instance is terminated on every
path: a verdict, an OCI failure, Ctrl-C (in-process, and SIGINT to a real process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from freetier.errors import ConfigError, RemoteError
from freetier.images.boot_check import BootCheck, CheckOptions, Timing, boot_check
from freetier.images.publish import publish_image
from tests.conftest import ROOT
from tests.images import run_images
from tests.images.conftest_publish import FAST, MIB, OPTIONS, World, random_file, world

TALOS_BOOT = (
    b"Oracle AAVMF Version: 1.6.6\r\n"
    b"[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x413fd0c1]\r\n"
    b"[    0.000000] Linux version 6.12.40-talos (@buildkitsandbox) #1 SMP\r\n"
    b"[    2.913404] [talos] [initramfs] booting Talos v1.14.0\r\n"
    b"[    9.130221] [talos] entering maintenance service\r\n"
)
UEFI_SHELL = (
    b"UEFI Interactive Shell v2.2\r\n"
    b"EDK II\r\n"
    b"UEFI v2.70 (EDK II, 0x00010000)\r\n"
    b"Mapping table\r\n"
    b"     BLK0: Alias(s):\r\n"
    b"          VenHw(93E34C7E-B50E-11DF-9223-2443DFD72085,00)\r\n"
    b"Press ESC in 1 seconds to skip startup.nsh or any other key to continue.\r\n"
    b"Shell> "
)
QUICK = Timing(deadline_seconds=5.0, interval_seconds=0.01, terminate_seconds=5.0)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with world(tmp_path, monkeypatch) as running:
        running.fake.import_polls = 1
        running.fake.add_subnet(running.compartment, "freetier-public")
        yield running


def talos_image(env: World) -> str:
    """An AVAILABLE arm64 image of OS Talos, UEFI_64, compatible with A1."""
    env.add_bucket()
    result = publish_image(
        random_file(env.root / "talos-arm64.qcow2", 2 * MIB),
        stack=env.stack,
        config=env.config,
        name="talos",
        arch="arm64",
        os_name="Talos",
        os_version="1.14.0",
        part_size=MIB,
        tofu_dir=env.tofu_dir,
        options=OPTIONS,
    )
    return result.image_ocid


def check(env: World, ref: str, timing: Timing = QUICK) -> BootCheck:
    return boot_check(env.stack, env.config, ref, options=CheckOptions(timing=timing, retry=FAST))


def only_instance(env: World) -> dict[str, Any]:
    (launched,) = env.fake.launched()
    found: dict[str, Any] = env.fake.instance(str(launched["id"]))
    return found


def test_talos_boot_lines_pass_and_the_instance_is_terminated(env: World) -> None:
    image = talos_image(env)
    env.fake.console[image] = TALOS_BOOT

    report = check(env, image)

    assert report.exit_code == 0
    assert report.verdict.outcome == "boots"
    assert report.verdict.line == "[    2.913404] [talos] [initramfs] booting Talos v1.14.0"
    instance = only_instance(env)
    assert instance["lifecycleState"] == "TERMINATED"
    assert report.terminated == "TERMINATED"
    # Launched as tofu/oci launches nodes: A1, UEFI from the image, no in-transit encryption.
    assert instance["shape"] == "VM.Standard.A1.Flex"
    assert instance["shapeConfig"] == {"ocpus": 1.0, "memoryInGBs": 4.0}
    assert instance["launchOptions"]["firmware"] == "UEFI_64"
    assert instance["launchOptions"]["isPvEncryptionInTransitEnabled"] is False
    assert instance["freeformTags"] == {"freetier-role": "boot-check"}
    assert report.in_transit == {
        "requested": False,
        "instance": False,
        "boot_volume_attachment": False,
    }
    # Its boot volume went with it, and the console history was deleted after reading.
    volumes = [v for v in env.fake.state["bootVolumes"] if v.get("_instance") == instance["id"]]
    assert [v["lifecycleState"] for v in volumes] == ["TERMINATED"]
    assert env.fake.histories == {}


def test_a_uefi_shell_transcript_fails_at_once(env: World) -> None:
    image = talos_image(env)
    env.fake.console[image] = UEFI_SHELL

    report = check(env, image)

    assert report.exit_code == 1
    assert report.verdict.outcome == "uefi-shell"
    assert report.verdict.line == "UEFI Interactive Shell v2.2"
    assert report.problems == ["uefi-shell: the firmware dropped to the UEFI shell"]
    assert only_instance(env)["lifecycleState"] == "TERMINATED"
    captures = [
        r for r in env.fake.seen("/20160918/instanceConsoleHistories") if r.method == "POST"
    ]
    assert len(captures) == 1  # final: no second capture


def test_an_empty_console_fails_at_the_deadline(env: World) -> None:
    image = talos_image(env)  # no console output at all: the BIOS case of talos#12557

    report = check(env, image, Timing(deadline_seconds=0.3, interval_seconds=0.05))

    assert report.exit_code == 1
    assert report.verdict.outcome == "empty"
    captures = [
        r for r in env.fake.seen("/20160918/instanceConsoleHistories") if r.method == "POST"
    ]
    assert len(captures) >= 2  # captured again until the deadline
    assert only_instance(env)["lifecycleState"] == "TERMINATED"


def test_no_room_in_the_free_allowance_launches_nothing(env: World) -> None:
    image = talos_image(env)
    for name in ("freetier-node-1", "freetier-node-2"):
        env.fake.add_instance(env.compartment, name, ocpus=1, memory_in_gbs=6)

    report = check(env, image)

    assert report.exit_code == 3
    assert report.room == [
        "a1_ocpus: 3 of 2 OCPU with the check's instance (1,500 OCPU-hours a month, home "
        "region only; each A1 instance needs at least 1 whole OCPU.)",
        "a1_memory_gb: 16 of 12 GB with the check's instance (9,000 GB-hours a month, home "
        "region only.)",
        "a1_instances: 3 of 2 instances with the check's instance (The page says \"one or "
        'two" A1 instances.)',
    ]
    assert env.fake.launched() == []


def test_an_oci_failure_after_the_launch_still_terminates(env: World) -> None:
    image = talos_image(env)
    env.fake.console[image] = TALOS_BOOT
    env.fake.inject(
        "/20160918/instanceConsoleHistories", 500, "InternalServerError", times=None,
        method="POST",
    )  # fmt: skip

    with pytest.raises(RemoteError, match="capture_console_history: HTTP 500"):
        check(env, image)

    assert only_instance(env)["lifecycleState"] == "TERMINATED"


def test_ctrl_c_terminates_the_instance(env: World) -> None:
    image = talos_image(env)
    env.fake.launch_polls = 100  # still PROVISIONING when the user gives up

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check(env, image, Timing(interval_seconds=0.01, terminate_seconds=5.0, sleep=interrupted))

    assert only_instance(env)["lifecycleState"] in ("TERMINATING", "TERMINATED")
    deletes = [r for r in env.fake.seen("/20160918/instances/") if r.method == "DELETE"]
    assert len(deletes) == 1


def test_sigint_to_the_command_terminates_the_instance(env: World) -> None:
    image = talos_image(env)
    env.fake.launch_polls = 10_000
    child = subprocess.Popen(
        [sys.executable, "-m", "freetier", "images", "boot-check", image, "--stack",
         str(env.root / "stack.yaml")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "ci")},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not env.fake.launched() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert env.fake.launched(), "the command never launched"
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err
    assert "boot-check: terminating ocid1.instance." in err
    assert only_instance(env)["lifecycleState"] in ("TERMINATING", "TERMINATED")


def test_a_left_over_check_instance_is_terminated_first(env: World) -> None:
    image = talos_image(env)
    env.fake.console[image] = TALOS_BOOT
    left = env.fake.add_instance(env.compartment, "freetier-boot-check-0badc0de", ocpus=1)
    with env.fake.lock:
        env.fake.state["instances"][-1]["freeformTags"] = {"freetier-role": "boot-check"}
    other = env.fake.add_instance(env.compartment, "someone-elses", ocpus=1)

    report = check(env, image)

    assert report.cleaned_up == [left]
    assert env.fake.instance(left)["lifecycleState"] == "TERMINATING"
    assert env.fake.instance(other)["lifecycleState"] == "RUNNING"
    assert report.exit_code == 0


def test_an_unknown_image_or_subnet_is_bad_input(env: World) -> None:
    with pytest.raises(ConfigError, match="image talos-arm64-nothere: no image of that name"):
        check(env, "talos-arm64-nothere")
    with pytest.raises(ConfigError, match=r"image ocid1\.image\.oc1\.x\.nothere: not found"):
        check(env, "ocid1.image.oc1.x.nothere")
    image = talos_image(env)
    with env.fake.lock:
        env.fake.state["subnets"].clear()
    with pytest.raises(ConfigError, match=r"no subnet freetier-public .* apply the oci layer"):
        check(env, image)
    assert env.fake.launched() == []


def test_cli_json_and_exit_codes(env: World) -> None:
    image = talos_image(env)
    env.fake.console[image] = UEFI_SHELL
    stack = str(env.root / "stack.yaml")

    run = run_images(
        ["images", "boot-check", image, "--stack", stack, "--format", "json", "--interval", "0.01"]
    )

    assert run.code == 1, run.err
    body = json.loads(run.out)
    assert body["verdict"] == "uefi-shell"
    assert body["exit_code"] == 1
    assert body["terminated"] == "TERMINATED"
    assert body["in_transit_encryption"] == {
        "requested": False, "instance": False, "boot_volume_attachment": False
    }  # fmt: skip
    assert "boot-check: launching freetier-boot-check-" in run.err

    bad = run_images(["images", "boot-check", image, "--stack", stack, "--arch", "riscv"])
    assert (bad.code, bad.errors) == (
        2, ["freetier: error: --arch: unknown architecture 'riscv' (arm64 or amd64)"]
    )  # fmt: skip
    with pytest.raises(SystemExit) as stop:  # argparse: exit 2 with its usage line
        run_images(["images", "boot-check", image, "--interval", "0"])
    assert stop.value.code == 2


def test_cli_text_names_the_limit(env: World) -> None:
    image = talos_image(env)
    for name in ("a", "b"):
        env.fake.add_instance(env.compartment, name, ocpus=1, memory_in_gbs=6)

    run = run_images(["images", "boot-check", image, "--stack", str(env.root / "stack.yaml")])

    assert run.code == 3, run.err
    assert "no room for the check's instance: a1_ocpus: 3 of 2 OCPU" in run.out
