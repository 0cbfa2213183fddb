"""`freetier proxmox bootstrap` on the simulator with realistic per-command times, against
the critical path of those times.

Three simulated hosts (real asyncssh servers on 127.0.0.x) start bare; every command that
changes a host takes its time below, times SCALE (readings are instant). The critical path
follows the bootstrap's order with its parallelism: each step that runs on all hosts at once
costs its slowest host, the others (create, joins, monitors, pool, migration) add up. The
wall time of the whole run (SSH handshakes, readings and polls included) is printed against
it; target <= 1.3x. Run: .venv/bin/python bench/proxmox.py [SCALE]
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncssh  # noqa: E402
from tests.fakes.pve.server import make_hosts, simulate  # noqa: E402
from tests.fakes.pve.state import Cluster  # noqa: E402
from tests.proxmox.conftest import write_stack  # noqa: E402

from freetier.cli import main  # noqa: E402

TARGET = 1.3
HOSTS = 3
# Seconds per command on a small arm64 host, from the order of magnitude operators report
# (estimates, not measurements): package installs dominate, joins wait for pmxcfs and quorum.
TIMES = {
    "pvecm create": 8.0,
    "pvecm add": 20.0,
    "chpasswd": 0.2,
    "usermod": 0.2,
    "pveceph install": 120.0,
    "pveceph init": 3.0,
    "pveceph mon": 15.0,
    "pveceph mgr": 8.0,
    "pveceph osd": 30.0,
    "pveceph pool": 6.0,
    "pveam download": 30.0,
    "pct create": 20.0,
    "pct start": 5.0,
    "pct exec": 10.0,
    "pct push": 1.0,
    "install": 0.2,
    "rm": 0.2,
    "qm create": 3.0,
    "qm migrate": 12.0,
    "qm destroy": 3.0,
}
# The Tailscale container: download, create, start, three `pct exec` + a push + the key's
# install and removal on the host, one `pct exec rm`.
LXC = (
    TIMES["pveam download"]
    + TIMES["pct create"]
    + TIMES["pct start"]
    + 4 * TIMES["pct exec"]
    + TIMES["pct push"]
    + TIMES["install"]
    + TIMES["rm"]
)


def critical_path(hosts: int) -> float:
    join = TIMES["chpasswd"] + TIMES["pvecm add"] + TIMES["usermod"]
    return (
        TIMES["pvecm create"]
        + (hosts - 1) * join  # one at a time
        + TIMES["pveceph install"]  # parallel
        + TIMES["pveceph init"]
        + hosts * TIMES["pveceph mon"]  # one at a time
        + TIMES["pveceph mgr"]  # parallel
        + TIMES["pveceph osd"]  # parallel, one device per host
        + TIMES["pveceph pool"]
        + LXC  # parallel
        + TIMES["qm create"]
        + TIMES["qm migrate"]
        + TIMES["qm destroy"]
    )


def main_bench(scale: float) -> int:
    key = asyncssh.generate_private_key("ssh-ed25519")
    cluster = Cluster(make_hosts(HOSTS), times=dict(TIMES))
    cluster.tailscale_key = os.environ["TS_AUTH_KEY"] = "tskey-bench-0123456789abcdef"
    with tempfile.TemporaryDirectory() as folder, simulate(cluster, key, scale=scale):
        key_file = Path(folder, "id")
        key_file.write_bytes(key.export_private_key("openssh"))
        key_file.chmod(0o600)
        stack = write_stack(Path(folder), cluster)
        argv = ["proxmox", "bootstrap", "--stack", str(stack), "--ssh-key", str(key_file)]
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            started = time.perf_counter()
            code = main(argv)
            wall = time.perf_counter() - started
    path = critical_path(HOSTS) * scale
    ratio = wall / path
    print(
        f"hosts {HOSTS}, scale {scale:g}: exit {code}, wall {wall:.2f}s, critical path "
        f"{path:.2f}s ({critical_path(HOSTS):.0f}s unscaled), ratio {ratio:.2f} "
        f"(target <= {TARGET})"
    )
    return 0 if code == 0 and ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main_bench(float(sys.argv[1]) if len(sys.argv) > 1 else 0.02))
