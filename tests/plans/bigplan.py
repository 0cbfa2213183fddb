"""Real terraform, isolated in a temp dir, and a big real plan for benchmarks.

`make_big_plan(tmp_dir, n)` plans `n` new `terraform_data` resources (objects with a
secret-named attribute; a tenth of them, `terraform_data.marked[*]`, also with a sensitive
one) and writes `plan.json` (`show -json`) and `plan.txt` (`show`). It uses `count`:
terraform 1.11 plans 10,000 `count` instances in about 11 s (18 s with both `show`s), but
10,000 `for_each` instances in almost 3 minutes.

From bench/: `sys.path.insert(0, str(ROOT))`, then `from tests.plans.bigplan import make_big_plan`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from freetier.tofu.run import Tofu, init, plan, show_json_argv, show_text

BIG_CONFIG = """\
variable "n" {
  type = number
}

locals {
  marked = floor(var.n / 10)
}

resource "terraform_data" "item" {
  count = var.n - local.marked
  input = {
    index    = count.index
    name     = "item-${count.index}"
    tags     = ["bench", "item"]
    password = "pw-${count.index}"
    note     = "plain"
  }
}

# Apart: terraform marks both branches of `cond ? sensitive(a) : b` sensitive.
resource "terraform_data" "marked" {
  count = local.marked
  input = {
    index    = count.index
    name     = "marked-${count.index}"
    tags     = ["bench", "marked"]
    password = "pw-marked-${count.index}"
    note     = sensitive("sensitive-value-${count.index}")
  }
}
"""


def find_terraform() -> str:
    exe = shutil.which("tofu") or shutil.which("terraform")
    if exe is None:
        raise RuntimeError("terraform or tofu must be installed (./dev setup installs it)")
    return exe


@contextmanager
def without_tf_env() -> Iterator[None]:
    """Drop inherited TF_* variables (TF_VAR_*, TF_CLI_ARGS*, TF_WORKSPACE...) for the block:
    `freetier.command.run` passes the parent environment on, and empty values would not do."""
    saved = {name: value for name, value in os.environ.items() if name.startswith("TF_")}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


def isolated_tofu(scratch: Path) -> Tofu:
    """Terraform whose home, data dir and CLI config all live under `scratch` (or nowhere)."""
    home = scratch / "home"
    home.mkdir(parents=True, exist_ok=True)
    return Tofu(
        find_terraform(),
        env={
            "HOME": str(home),
            "TF_DATA_DIR": str(scratch / "tf-data"),
            "TF_CLI_CONFIG_FILE": os.devnull,
            "TF_PLUGIN_CACHE_DIR": "",
        },
        timeout_s=600,
    )


def make_big_plan(tmp_dir: Path, n: int, *, with_text: bool = True) -> Path:
    """Plan `n` resources in `tmp_dir`; the path of the `show -json` output (beside it,
    `plan.txt` holds the `show` text when `with_text`)."""
    layer = tmp_dir / "big"
    layer.mkdir(parents=True, exist_ok=True)
    (layer / "main.tf").write_text(BIG_CONFIG, encoding="utf-8")
    with without_tf_env():
        tofu = isolated_tofu(tmp_dir / "big-scratch")
        init(layer, tofu=tofu)
        plan(layer, var_overrides={"n": n}, tofu=tofu)
        shown = tofu.run(show_json_argv(), layer).stdout
        text = show_text(layer, tofu=tofu) if with_text else ""
    json_path = layer / "plan.json"
    json_path.write_text(shown, encoding="utf-8")
    if with_text:
        (layer / "plan.txt").write_text(text, encoding="utf-8")
    return json_path
